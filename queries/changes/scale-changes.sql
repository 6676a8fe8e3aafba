/*
title: Scale changes — replicas set by hand, by autoscalers or by deploys
engines: [duckdb, spark]
description: >
  Writes to the scale subresource of Deployments, StatefulSets and ReplicaSets, and updates or patches
  whose body sets spec.replicas, with the replica count they asked for (when the level recorded it).
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Request, group: apps, resources: [deployments, statefulsets, replicasets, deployments/scale, statefulsets/scale, replicasets/scale], verbs: [update, patch]}
*/
SELECT received_at, cluster, resource, namespace, name, verb, subresource,
       TRY_CAST(coalesce(json_extract_string(request_object, '$.spec.replicas'),
                         json_extract_string(response_object, '$.spec.replicas')) AS INTEGER) AS replicas,
       actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource IN ('deployments', 'statefulsets', 'replicasets')
  AND (subresource = 'scale' OR (subresource IS NULL AND verb IN ('update', 'patch')
       AND json_extract(request_object, '$.spec.replicas') IS NOT NULL))
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY received_at, audit_id
