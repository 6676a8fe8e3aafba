/*
title: Role or ClusterRole created with a wildcard
engines: [duckdb, spark]
description: >
  A Role or ClusterRole created whose rules grant `*` resources or `*` verbs. Creations by the control
  plane and refused requests count (Falco); `ignore_failed` and `ignore_system_principals` give Panther's
  filters.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  falco: [ClusterRole With Wildcard Created]
  panther: [Kubernetes.Role.Wildcard]
audit:
  ClusterRole With Wildcard Created:
    upstream: Create of a Role or ClusterRole whose rules grant * resources or * verbs; any outcome, any user.
    ours: The same.
    difference: none
  Kubernetes.Role.Wildcard:
    upstream: Create of a Role or ClusterRole, not failed, not by a system principal, whose rules grant * resources or * verbs.
    ours: Any outcome, any user (Falco's rule).
    difference: Also refused creates and creates by system principals (Falco's rule counts both).
    params:
      ignore_failed: true
      ignore_system_principals: true
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created ' || role || ' with wildcard permissions' AS summary
FROM role_creations
WHERE in_window(received_at, date, $since, $until)
  AND NOT ($ignore_failed AND NOT succeeded)
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND list_bool_or(list_transform(rules, lambda r: list_contains(r.resources, '*') OR list_contains(r.verbs, '*')))
  AND ($cluster IS NULL OR cluster = $cluster)
