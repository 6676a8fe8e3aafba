/*
title: Deployment deleted
description: >
  A Deployment deleted (denial of service, or cleaning up after an intrusion).
severity: low
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1498]
reproduces:
  sigma: [Deployment Deleted From Kubernetes Cluster]
needs:
  - {level: Metadata, resources: [deployments], verbs: [delete]}
*/
SELECT received_at, cluster,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name, request_uri) AS object,
       'deployment ' || coalesce(namespace || '/', '') || coalesce(name, '(all)') || ' deleted' || outcome_suffix(code) AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource = 'deployments'
  AND subresource IS NULL
  AND verb IN ('delete', 'deletecollection')
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
