/*
title: Role or ClusterRole created with node proxy permissions
description: >
  A Role or ClusterRole created whose rules reach the kubelet API through nodes/proxy (also nodes/* with
  verbs, or nodes with a wildcard resource), by someone other than the control plane, and not refused:
  kubelet access bypasses API-server audit.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1611]
reproduces:
  panther: [Kubernetes.Role.NodeProxyPermissions]
params:
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT received_at, cluster,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name, request_uri) AS object,
       coalesce(impersonated_user, user_name, '(no user)') || ' created ' || CASE resource WHEN 'clusterroles' THEN 'ClusterRole ' ELSE 'Role ' || coalesce(namespace || '/', '') END || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' with node proxy permissions' AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource IN ('roles', 'clusterroles')
  AND subresource IS NULL
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users)
  AND list_bool_or(list_transform(CAST(json_extract(request_object, '$.rules') AS JSON[]), lambda r: list_contains(coalesce(CAST(json_extract_string(r, '$.resources[*]') AS VARCHAR[]), []), 'nodes/proxy') OR (list_contains(coalesce(CAST(json_extract_string(r, '$.resources[*]') AS VARCHAR[]), []), 'nodes/*') AND len(coalesce(CAST(json_extract_string(r, '$.verbs[*]') AS VARCHAR[]), [])) > 0) OR list_has_all(coalesce(CAST(json_extract_string(r, '$.resources[*]') AS VARCHAR[]), []), ['nodes', '*'])))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
