/*
title: ClusterRoleBinding to cluster-admin or another privileged role
engines: [duckdb, spark]
description: >
  A ClusterRoleBinding created that grants cluster-admin (or system:masters, admin, the controller
  manager's or the scheduler's role: `privileged_roles`), by someone other than the control plane, and not
  refused. Falco's rule is cluster-admin only, any user, any outcome: privileged_roles=cluster-admin,
  ignore_system_principals=false.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1078]
reproduces:
  falco: [Attach to cluster-admin Role]
  panther: [Kubernetes.ClusterRoleBinding.Privileged]
params:
  privileged_roles: {type: "varchar[]", default: [cluster-admin, "system:masters", admin, "system:kube-controller-manager", "system:kube-scheduler"], help: "Roles whose grant is privileged (Falco: cluster-admin only)"}
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [clusterrolebindings], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' bound ' || json_extract_string(request_object, '$.roleRef.name') || ' to ' || coalesce(array_to_string(list_transform(CAST(json_extract(request_object, '$.subjects') AS JSON[]), lambda s: json_extract_string(s, '$.kind') || ':' || json_extract_string(s, '$.name')), ', '), '(no subjects)') || ' (' || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ')' AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'clusterrolebindings'
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users))
  AND list_contains($privileged_roles, json_extract_string(request_object, '$.roleRef.name'))
  AND ($cluster IS NULL OR cluster = $cluster)
