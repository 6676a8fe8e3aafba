/*
title: Admission webhook configuration created, changed or deleted
engines: [duckdb, spark]
description: >
  Mutating and validating admission webhooks see (and can rewrite) every object the API server admits: a
  change is persistence or credential theft waiting to happen. Sigma lists `replace`, a verb the API
  server never logs (a replace is an update). `count_deletecollection` also counts deletecollection, which
  removes every webhook at once.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1078, T1552, T1552.007]
reproduces:
  sigma: [Kubernetes Admission Controller Modification]
audit:
  Kubernetes Admission Controller Modification:
    upstream: objectRef.apiGroup admissionregistration.k8s.io, mutating or validating webhook configurations, verb create, delete, patch, replace or update; any outcome, any user.
    ours: The same (a replace is logged as update).
    difference: None by default; `count_deletecollection` widens it to deletecollection, which deletes every webhook at once and which Sigma's verb list leaves out.
needs:
  - {level: Metadata, group: admissionregistration.k8s.io, resources: [mutatingwebhookconfigurations, validatingwebhookconfigurations], verbs: [create, update, patch, delete]}
*/
SELECT *, resource || ' ' || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND api_group = 'admissionregistration.k8s.io'
  AND coalesce(resource IN ('mutatingwebhookconfigurations', 'validatingwebhookconfigurations'), false)
  AND (verb IN ('create', 'update', 'patch', 'delete') OR ($count_deletecollection AND verb = 'deletecollection'))
  AND ($cluster IS NULL OR cluster = $cluster)
