/*
title: Object history — every successful write to one object, with its bodies
engines: [duckdb, spark]
description: >
  The raw material of `auditlake history`: each create, update, patch, delete or scale of one object
  (by resource, namespace and name), oldest first, with the actor, client and the request and response
  bodies the audit level recorded. Status-only writes are left out unless include_status is true.
severity: info
controls: [pci-dss-4.0:10.2.1.2, pci-dss-4.0:10.2.2, hipaa:164.312(c)(1), hipaa:164.312(b)]
params:
  resource: {type: varchar, default: deployments, help: "Resource, plural (deployments, configmaps, secrets, …)"}
  namespace: {type: varchar, help: Namespace (empty for cluster-scoped objects)}
  name: {type: varchar, help: Object name}
  include_status: {type: boolean, default: false, help: Also status-only writes}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: RequestResponse, group: apps, resources: [deployments, statefulsets, daemonsets], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, verb, subresource, namespace,
       coalesce(name, json_extract_string(response_object, '$.metadata.name'), json_extract_string(request_object, '$.metadata.name')) AS name,
       actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, authenticated_user, impersonated_user, user_extra, source_ip, user_agent, code, level, audit_id,
       request_object, response_object
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = $resource
  AND namespace IS NOT DISTINCT FROM nullif($namespace, '')
  AND (name = $name OR (name IS NULL AND verb = 'create'
       AND coalesce(json_extract_string(response_object, '$.metadata.name'), json_extract_string(request_object, '$.metadata.name')) = $name))
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($include_status OR NOT is_status_only)
ORDER BY received_at, source_file, source_line, source_item, audit_id  -- ties (sanitised times) keep the log's order
