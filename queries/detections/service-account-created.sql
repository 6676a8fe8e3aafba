/*
title: Service account created
engines: [duckdb, spark]
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
SELECT *, 'service account ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' created by ' || coalesce(actor, '(no user)') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'serviceaccounts'
  AND subresource IS NULL
  AND verb = 'create'
  AND ($cluster IS NULL OR cluster = $cluster)
