/*
title: Secret created, changed or deleted
description: >
  Writes to Secrets: new credentials, rotated ones, or credentials removed.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1552.007, T1098]
reproduces:
  sigma: [Kubernetes Secrets Modified or Deleted]
needs:
  - {level: Metadata, resources: [secrets], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name, request_uri) AS object,
       'secret ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END || ' by ' || coalesce(impersonated_user, user_name, '(no user)') || outcome_suffix(code) AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource = 'secrets'
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
