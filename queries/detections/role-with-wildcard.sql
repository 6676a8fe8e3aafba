/*
title: Role or ClusterRole created with a wildcard
engines: [duckdb, spark]
description: >
  A Role or ClusterRole created whose rules grant `*` resources or `*` verbs. Creations by the control
  plane and refused requests are left out (Panther); ignore_system_principals=false and failures give
  Falco's condition.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  falco: [ClusterRole With Wildcard Created]
  panther: [Kubernetes.Role.Wildcard]
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created ' || role || ' with wildcard permissions' AS summary
FROM role_creations
WHERE in_window(received_at, date, $since, $until)
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users))
  AND list_bool_or(list_transform(rules, lambda r: list_contains(r.resources, '*') OR list_contains(r.verbs, '*')))
  AND ($cluster IS NULL OR cluster = $cluster)
