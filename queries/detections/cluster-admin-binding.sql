/*
title: ClusterRoleBinding to cluster-admin or another privileged role
engines: [duckdb, spark]
description: >
  A ClusterRoleBinding created that grants cluster-admin (or system:masters, admin, the controller
  manager's or the scheduler's role: `privileged_roles`, Panther's list), by anyone, whatever the outcome
  (Falco's rule); `ignore_failed` and `ignore_system_principals` give Panther's filters.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1078]
reproduces:
  falco: [Attach to cluster-admin Role]
  panther: [Kubernetes.ClusterRoleBinding.Privileged]
params:
  privileged_roles: {type: "varchar[]", default: [cluster-admin, "system:masters", admin, "system:kube-controller-manager", "system:kube-scheduler"], help: "Roles whose grant is privileged (Falco: cluster-admin only)"}
audit:
  Attach to cluster-admin Role:
    upstream: Create of a ClusterRoleBinding whose roleRef is cluster-admin; any outcome, any user.
    ours: Create of a ClusterRoleBinding whose roleRef is in `privileged_roles` (cluster-admin, system:masters, admin, system:kube-controller-manager, system:kube-scheduler); any outcome, any user.
    difference: Also the four other privileged roles (Panther's list).
    params:
      privileged_roles: [cluster-admin]
  Kubernetes.ClusterRoleBinding.Privileged:
    upstream: Create of a ClusterRoleBinding to one of the five privileged roles, not failed, not by a system principal.
    ours: The same five roles, any outcome, any user.
    difference: Also refused creates and creates by system principals (Falco's rule counts both). With Panther's parameters, `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
    params:
      ignore_failed: true
      ignore_system_principals: true
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [clusterrolebindings], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' bound ' || json_extract_string(request_object, '$.roleRef.name') || ' to ' || coalesce(array_to_string(list_transform(CAST(json_extract(request_object, '$.subjects') AS JSON[]), lambda s: json_extract_string(s, '$.kind') || ':' || json_extract_string(s, '$.name')), ', '), '(no subjects)') || ' (' || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ')' AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'clusterrolebindings'
  AND verb = 'create'
  AND NOT ($ignore_failed AND coalesce(code, 200) >= 400)
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND list_contains($privileged_roles, json_extract_string(request_object, '$.roleRef.name'))
  AND ($cluster IS NULL OR cluster = $cluster)
