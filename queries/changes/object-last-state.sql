/*
title: Object's last known state — when a body last showed the whole object, before a time
engines: [duckdb, spark]
description: >
  Per cluster, the latest successful write to one object that carried a whole object in its body (a
  response at RequestResponse, or a create/update request at Request), before the window. `auditlake
  history` starts reading at the earliest of them, so the first change in the window is diffed against
  what the object really was in each cluster without reading the object's whole past.
severity: info
controls: [pci-dss-4.0:10.2.1.2]
params:
  since: {type: timestamptz, help: Start of the lookback}
  until: {type: timestamptz, help: The window's start (exclusive)}
  resource: {type: varchar, default: deployments, help: Resource (plural)}
  namespace: {type: varchar, help: Namespace (empty for cluster-scoped objects)}
  name: {type: varchar, help: Object name}
needs:
  - {level: RequestResponse, group: apps, resources: [deployments, statefulsets, daemonsets], verbs: [create, update, patch]}
*/
SELECT cluster, max(received_at) AS at
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = $resource
  AND namespace IS NOT DISTINCT FROM nullif($namespace, '')
  AND name = $name
  AND subresource IS NULL
  AND (level = 'RequestResponse' OR (level = 'Request' AND verb IN ('create', 'update')))
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY cluster
ORDER BY cluster
