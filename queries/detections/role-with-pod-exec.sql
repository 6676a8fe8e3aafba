/*
title: Role or ClusterRole created that can exec into pods
engines: [duckdb, spark]
description: >
  A Role or ClusterRole created whose rules name the pods/exec resource. Creations by the control plane
  and refused requests count (Falco); `ignore_failed` and `ignore_system_principals` give Panther's
  filters.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1609]
reproduces:
  falco: [ClusterRole With Pod Exec Created]
  panther: [Kubernetes.Role.PodExec]
audit:
  ClusterRole With Pod Exec Created:
    upstream: Create of a Role or ClusterRole whose rules name pods/exec; any outcome, any user.
    ours: The same.
    difference: none
  Kubernetes.Role.PodExec:
    upstream: Create of a Role or ClusterRole, not failed, not by a system principal, whose rules name pods/exec.
    ours: Any outcome, any user (Falco's rule).
    difference: Also refused creates and creates by system principals (Falco's rule counts both).
    params:
      ignore_failed: true
      ignore_system_principals: true
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created ' || role || ' with pods/exec permissions' AS summary
FROM role_creations
WHERE in_window(received_at, date, $since, $until)
  AND NOT ($ignore_failed AND NOT succeeded)
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND list_bool_or(list_transform(rules, lambda r: list_contains(r.resources, 'pods/exec')))
  AND ($cluster IS NULL OR cluster = $cluster)
