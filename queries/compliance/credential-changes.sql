/*
title: Changes to identification and authentication credentials
engines: [duckdb, spark]
description: >
  Service accounts created or deleted, service-account tokens minted, certificate signing requests and
  their approvals, secrets holding service-account tokens, and RBAC roles and bindings written: the
  identities and what they may do.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d), hipaa:164.312(a)(1)]
mitre: [T1098, T1528]
params:
  include_system: {type: boolean, default: false, help: "Include kubelets and controllers (token requests for every pod)"}
needs:
  - {level: Metadata, resources: [serviceaccounts, serviceaccounts/token, secrets], verbs: [create, update, patch, delete]}
  - {level: Metadata, group: certificates.k8s.io, resources: [certificatesigningrequests, certificatesigningrequests/approval], verbs: [create, update, patch, delete]}
  - {level: Metadata, group: rbac.authorization.k8s.io, resources: [roles, clusterroles, rolebindings, clusterrolebindings], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster,
       CASE WHEN resource = 'serviceaccounts' AND subresource = 'token' THEN 'token minted'
            WHEN resource = 'serviceaccounts' THEN 'service account ' || verb
            WHEN resource = 'certificatesigningrequests' AND subresource = 'approval' THEN 'certificate approved'
            WHEN resource = 'certificatesigningrequests' THEN 'certificate ' || verb
            WHEN resource = 'secrets' THEN 'token secret ' || verb
            ELSE 'rbac ' || verb END AS change,
       resource, namespace, name, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND (resource IN ('serviceaccounts', 'certificatesigningrequests')
       OR (api_group = 'rbac.authorization.k8s.io' AND resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings'))
       OR (resource = 'secrets' AND coalesce(json_extract_string(request_object, '$.type'), json_extract_string(response_object, '$.type'))
           = 'kubernetes.io/service-account-token'))
  AND ($include_system OR actor_kind(actor, actor_groups, $admin_groups, $admin_users) IN ('human', 'serviceaccount', 'anonymous'))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
