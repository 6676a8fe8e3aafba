/*
title: RBAC changes — roles, bindings, and cluster-admin grants
engines: [duckdb, spark]
description: >
  Successful writes to Roles, ClusterRoles, RoleBindings and ClusterRoleBindings. For bindings the
  role granted and the subjects come from the body when the level recorded it; `grants_cluster_admin`
  marks bindings to the cluster-admin ClusterRole.
severity: high
controls: [pci-dss-4.0:10.2.1.5, pci-dss-4.0:10.2.1.2, hipaa:164.312(a)(1), hipaa:164.308(a)(1)(ii)(D)]
mitre: [T1098]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: RequestResponse, group: rbac.authorization.k8s.io, resources: [roles, clusterroles, rolebindings, clusterrolebindings], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, resource, namespace, name, verb, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent,
       coalesce(json_extract_string(request_object, '$.roleRef.name'), json_extract_string(response_object, '$.roleRef.name')) AS role,
       array_to_string(coalesce(json_extract_string(request_object, '$.subjects[*].name'),
                                json_extract_string(response_object, '$.subjects[*].name')), ', ') AS subjects,
       coalesce(coalesce(json_extract_string(request_object, '$.roleRef.name'),
                         json_extract_string(response_object, '$.roleRef.name')) = 'cluster-admin', false) AS grants_cluster_admin,
       level, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND api_group = 'rbac.authorization.k8s.io'
  AND resource IN ('roles', 'clusterroles', 'rolebindings', 'clusterrolebindings')
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY received_at, audit_id
