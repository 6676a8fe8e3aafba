/*
title: Service account created
description: >
  A new ServiceAccount: a new identity that can be given roles and tokens.
severity: low
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1136]
reproduces:
  sigma: [New Kubernetes Service Account Created]
needs:
  - {level: Metadata, resources: [serviceaccounts], verbs: [create]}
*/
SELECT received_at, cluster,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name, request_uri) AS object,
       'service account ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' created by ' || coalesce(impersonated_user, user_name, '(no user)') || outcome_suffix(code) AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource = 'serviceaccounts'
  AND subresource IS NULL
  AND verb = 'create'
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
