/*
title: Role or ClusterRole created with write permissions
description: >
  A Role or ClusterRole created whose rules allow create, update, patch, delete or deletecollection (a `*`
  verb is the wildcard detection's). Creations by the control plane and refused requests are left out
  (Panther); ignore_system_principals=false and failures give Falco's condition.
severity: low
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  falco: [ClusterRole With Write Privileges Created]
  panther: [Kubernetes.Role.WritePermissions]
params:
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (Panther's is_system_principal); false gives Falco's condition"}
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created ' || role || ' with write permissions' AS summary
FROM role_creations
WHERE in_window(received_at, date, $since, $until)
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users))
  AND list_bool_or(list_transform(rules, lambda r: list_has_any(r.verbs, ['create', 'update', 'patch', 'delete', 'deletecollection'])))
  AND ($cluster IS NULL OR cluster = $cluster)
