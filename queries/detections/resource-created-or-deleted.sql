/*
title: Activity stream — workloads, services, config, namespaces, accounts, RBAC and secrets created or deleted
engines: {duckdb: true, spark: "indexes and slices a string (resource[1], resource[2:]), which Spark SQL reads as an array"}
description: >
  Falco's activity rules as one stream: every successful create or delete of a Deployment, Service,
  ConfigMap, Namespace, ServiceAccount, Role, ClusterRole, RoleBinding, ClusterRoleBinding or Secret.
  Secrets in kube-system and secrets or namespace deletions by system users (service accounts, nodes, the
  control plane, anonymous: `actor_kind`) are left out, as upstream.
severity: info
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
reproduces:
  falco: [K8s Deployment Created, K8s Deployment Deleted, K8s Service Created, K8s Service Deleted, K8s ConfigMap Created, K8s ConfigMap Deleted, K8s Namespace Created, K8s Namespace Deleted, K8s Serviceaccount Created, K8s Serviceaccount Deleted, K8s Role Created, K8s Role Deleted, K8s ClusterRole Created, K8s ClusterRole Deleted, K8s RoleBinding Created, K8s RoleBinding Deleted, K8s ClusterRoleBinding Created, K8s ClusterRoleBinding Deleted, K8s Secret Created, K8s Secret Deleted]
needs:
  - {level: Metadata, resources: [deployments, services, configmaps, namespaces, serviceaccounts, roles, clusterroles, rolebindings, clusterrolebindings, secrets], verbs: [create, delete]}
*/
SELECT *, 'K8s ' || CASE resource WHEN 'configmaps' THEN 'ConfigMap' WHEN 'serviceaccounts' THEN 'Serviceaccount' WHEN 'clusterroles' THEN 'ClusterRole' WHEN 'rolebindings' THEN 'RoleBinding' WHEN 'clusterrolebindings' THEN 'ClusterRoleBinding' ELSE upper(resource[1]) || rtrim(resource[2:], 's') END || CASE verb WHEN 'create' THEN ' Created: ' ELSE ' Deleted: ' END || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND verb IN ('create', 'delete')
  AND subresource IS NULL
  AND code BETWEEN 200 AND 299
  AND resource IN ('deployments', 'services', 'configmaps', 'namespaces', 'serviceaccounts', 'roles', 'clusterroles', 'rolebindings', 'clusterrolebindings', 'secrets')
  AND NOT (resource = 'secrets' AND (coalesce(namespace, '') = 'kube-system' OR (user_name IS NOT NULL AND actor_kind(user_name, user_groups, $admin_groups, $admin_users) <> 'human')))
  AND NOT (resource = 'namespaces' AND verb = 'delete' AND (user_name IS NOT NULL AND actor_kind(user_name, user_groups, $admin_groups, $admin_users) <> 'human'))
  AND ($cluster IS NULL OR cluster = $cluster)
