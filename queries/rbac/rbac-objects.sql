/*
title: RBAC objects — every write to a Role, ClusterRole or binding up to the end of the window, with its bodies
engines: {duckdb: true, spark: "not yet run by the Spark parity test: auditlake rbac reads it on DuckDB only"}
description: >
  The raw material of `auditlake rbac unused`: each successful create, update, patch or delete of a Role, ClusterRole,
  RoleBinding or ClusterRoleBinding the lake holds from its beginning up to the end of the window, oldest first per
  object, with the request and response bodies the audit level recorded. The change history rebuilds from them what
  each object was at the end of the window (and says when the level recorded no body, so the object is unknown).
severity: info
controls: [pci-dss-4.0:7.2.1, pci-dss-4.0:7.2.4, pci-dss-4.0:10.2.1.5, hipaa:164.308(a)(4)]
params:
  since: {type: timestamptz, default: "1970-01-01", help: "Read writes from this instant (default: the lake's whole past, from which the state at `until` is built)"}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: RequestResponse, group: rbac.authorization.k8s.io, resources: [roles, clusterroles, rolebindings, clusterrolebindings], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, resource, verb, subresource, namespace,
       coalesce(name, json_extract_string(response_object, '$.metadata.name'), json_extract_string(request_object, '$.metadata.name')) AS name,
       actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, authenticated_user, impersonated_user,
       user_extra, source_ip, user_agent, code, level, audit_id, request_object, response_object
FROM changes
WHERE received_at >= $since AND received_at < $until
  AND date <= CAST(timezone('UTC', $until) AS DATE)
  AND api_group = 'rbac.authorization.k8s.io'
  AND resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings')
  AND ($cluster IS NULL OR cluster = $cluster)
  AND NOT is_status_only
ORDER BY cluster, resource, namespace, name, received_at, source_file, source_line, source_item, audit_id
