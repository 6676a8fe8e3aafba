/*
title: Role or ClusterRole created with node proxy permissions
engines: [duckdb, spark]
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
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (Panther's is_system_principal)"}
audit:
  Kubernetes.Role.NodeProxyPermissions:
    upstream: Create of a Role or ClusterRole, not failed, not by a system principal, whose rules name nodes/proxy (or nodes/* with verbs, or nodes with a * resource).
    ours: The same (`ignore_system_principals` on, as Panther).
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created ' || role || ' with node proxy permissions' AS summary
FROM role_creations
WHERE in_window(received_at, date, $since, $until)
  AND succeeded
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND list_bool_or(list_transform(rules, lambda r: list_contains(r.resources, 'nodes/proxy') OR (list_contains(r.resources, 'nodes/*') AND array_length(r.verbs) > 0)
                                         OR list_has_all(r.resources, ['nodes', '*'])))
  AND ($cluster IS NULL OR cluster = $cluster)
