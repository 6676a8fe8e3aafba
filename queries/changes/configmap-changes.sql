/*
title: ConfigMap changes — application configuration edited
engines: [duckdb, spark]
description: Successful writes to ConfigMaps, with the keys the request body set when the level recorded it.
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(c)(1)]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [configmaps], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, namespace, name AS configmap, verb, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent,
       list_sort(json_keys(request_object, '$.data')) AS keys_set, level, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'configmaps'
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY received_at, audit_id
