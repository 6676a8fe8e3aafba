/*
title: Role or ClusterRole created that can exec into pods
description: >
  A Role or ClusterRole created whose rules name the pods/exec resource. Creations by the control plane
  and refused requests are left out (Panther); ignore_system_principals=false and failures give Falco's
  condition.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1609]
reproduces:
  falco: [ClusterRole With Pod Exec Created]
  panther: [Kubernetes.Role.PodExec]
params:
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (Panther's is_system_principal); false gives Falco's condition"}
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT received_at, cluster,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name, request_uri) AS object,
       coalesce(impersonated_user, user_name, '(no user)') || ' created ' || CASE resource WHEN 'clusterroles' THEN 'ClusterRole ' ELSE 'Role ' || coalesce(namespace || '/', '') END || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' with pods/exec permissions' AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource IN ('roles', 'clusterroles')
  AND subresource IS NULL
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users))
  AND list_bool_or(list_transform(CAST(json_extract(request_object, '$.rules') AS JSON[]), lambda r: list_contains(coalesce(CAST(json_extract_string(r, '$.resources[*]') AS VARCHAR[]), []), 'pods/exec')))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
