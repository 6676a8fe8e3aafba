/*
title: Deployment deleted
engines: [duckdb, spark]
description: >
  A Deployment deleted (denial of service, or cleaning up after an intrusion). `count_deletecollection`
  also counts deletecollection (every Deployment of a namespace at once), which Sigma's verb leaves out.
severity: low
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1498]
reproduces:
  sigma: [Deployment Deleted From Kubernetes Cluster]
audit:
  Deployment Deleted From Kubernetes Cluster:
    upstream: Verb delete of deployments; any outcome, any user.
    ours: The same.
    difference: None by default; `count_deletecollection` widens it to deletecollection (every Deployment of a namespace at once), which Sigma's verb leaves out.
needs:
  - {level: Metadata, resources: [deployments], verbs: [delete]}
*/
SELECT *, 'deployment ' || coalesce(namespace || '/', '') || coalesce(name, '(all)') || ' deleted' || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'deployments'
  AND subresource IS NULL
  AND (verb = 'delete' OR ($count_deletecollection AND verb = 'deletecollection'))
  AND ($cluster IS NULL OR cluster = $cluster)
