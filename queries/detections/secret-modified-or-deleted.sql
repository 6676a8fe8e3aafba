/*
title: Secret created, changed or deleted
engines: [duckdb, spark]
description: >
  Writes to Secrets: new credentials, rotated ones, or credentials removed. `count_deletecollection` also
  counts deletecollection, which Sigma's verbs leave out.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1552.007, T1098]
reproduces:
  sigma: [Kubernetes Secrets Modified or Deleted]
audit:
  Kubernetes Secrets Modified or Deleted:
    upstream: Secrets, verb create, delete, patch, replace or update; any outcome, any user.
    ours: The same (a replace is logged as update).
    difference: None by default; `count_deletecollection` widens it to deletecollection, which Sigma's verb list leaves out.
needs:
  - {level: Metadata, resources: [secrets], verbs: [create, update, patch, delete]}
*/
SELECT *, 'secret ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END || ' by ' || coalesce(actor, '(no user)') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets'
  AND (verb IN ('create', 'update', 'patch', 'delete') OR ($count_deletecollection AND verb = 'deletecollection'))
  AND ($cluster IS NULL OR cluster = $cluster)
