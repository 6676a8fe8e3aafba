/*
title: Service-account token requests — who minted tokens for which service account
engines: [duckdb, spark]
description: >
  TokenRequests (create serviceaccounts/token): kubelets do this for every pod; a person or an
  unexpected workload doing it is minting credentials.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1528]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [serviceaccounts/token], verbs: [create]}
*/
SELECT received_at, cluster, namespace, name AS service_account, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent,
       TRY_CAST(json_extract_string(request_object, '$.spec.expirationSeconds') AS BIGINT) AS expiration_seconds,
       code, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'serviceaccounts' AND subresource = 'token' AND verb = 'create'
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY received_at, audit_id
