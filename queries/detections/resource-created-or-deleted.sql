/*
title: Activity stream — workloads, services, config, namespaces, accounts, RBAC and secrets created or deleted
engines: {duckdb: true, spark: "indexes and slices a string (resource[1], resource[2:]), which Spark SQL reads as an array"}
description: >
  Falco's activity rules as one stream: every successful create or delete of a Deployment, Service,
  ConfigMap, Namespace, ServiceAccount, Role, ClusterRole, RoleBinding, ClusterRoleBinding or Secret.
  Secrets in kube-system, and secrets or namespace deletions by users whose name starts with `system:`, are
  left out, as upstream. `people_only` asks `actor_kind` instead of the name (the cloud's callers such as
  eks:… and aksService are left out too; a `system:` user in system:masters is a person).
severity: info
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
reproduces:
  falco: [K8s Deployment Created, K8s Deployment Deleted, K8s Service Created, K8s Service Deleted, K8s ConfigMap Created, K8s ConfigMap Deleted, K8s Namespace Created, K8s Namespace Deleted, K8s Serviceaccount Created, K8s Serviceaccount Deleted, K8s Role Created, K8s Role Deleted, K8s ClusterRole Created, K8s ClusterRole Deleted, K8s RoleBinding Created, K8s RoleBinding Deleted, K8s ClusterRoleBinding Created, K8s ClusterRoleBinding Deleted, K8s Secret Created, K8s Secret Deleted]
params:
  people_only: {type: boolean, default: false, help: "Tell users by `actor_kind`, not by a system: prefix: the cloud's callers (eks:…, aksService) are left out, a system: user in system:masters is kept"}
audit:
  K8s Deployment Created:
    upstream: A ResponseComplete create of a Deployment with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Service Created:
    upstream: A ResponseComplete create of a Service with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s ConfigMap Created:
    upstream: A ResponseComplete create of a ConfigMap with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Namespace Created:
    upstream: A ResponseComplete create of a Namespace with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Serviceaccount Created:
    upstream: A ResponseComplete create of a Serviceaccount with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Role Created:
    upstream: A ResponseComplete create of a Role with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s ClusterRole Created:
    upstream: A ResponseComplete create of a ClusterRole with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s RoleBinding Created:
    upstream: A ResponseComplete create of a RoleBinding with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s ClusterRoleBinding Created:
    upstream: A ResponseComplete create of a ClusterRoleBinding with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Secret Created:
    upstream: A ResponseComplete create of a Secret with a 2xx response outside kube-system, by a user whose name does not start with system:.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Deployment Deleted:
    upstream: A ResponseComplete delete of a Deployment with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Service Deleted:
    upstream: A ResponseComplete delete of a Service with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s ConfigMap Deleted:
    upstream: A ResponseComplete delete of a ConfigMap with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Namespace Deleted:
    upstream: A ResponseComplete delete of a Namespace with a 2xx response by a user whose name does not start with system:.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Serviceaccount Deleted:
    upstream: A ResponseComplete delete of a Serviceaccount with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Role Deleted:
    upstream: A ResponseComplete delete of a Role with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s ClusterRole Deleted:
    upstream: A ResponseComplete delete of a ClusterRole with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s RoleBinding Deleted:
    upstream: A ResponseComplete delete of a RoleBinding with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s ClusterRoleBinding Deleted:
    upstream: A ResponseComplete delete of a ClusterRoleBinding with a 2xx response.
    ours: The same, in one stream (`people_only` off).
    difference: none
  K8s Secret Deleted:
    upstream: A ResponseComplete delete of a Secret with a 2xx response outside kube-system, by a user whose name does not start with system:.
    ours: The same, in one stream (`people_only` off).
    difference: none
needs:
  - {level: Metadata, resources: [deployments, services, configmaps, namespaces, serviceaccounts, roles, clusterroles, rolebindings, clusterrolebindings, secrets], verbs: [create, delete]}
*/
SELECT *, 'K8s ' || CASE resource WHEN 'configmaps' THEN 'ConfigMap' WHEN 'serviceaccounts' THEN 'Serviceaccount' WHEN 'clusterroles' THEN 'ClusterRole' WHEN 'rolebindings' THEN 'RoleBinding' WHEN 'clusterrolebindings' THEN 'ClusterRoleBinding' ELSE upper(resource[1]) || rtrim(resource[2:], 's') END || CASE verb WHEN 'create' THEN ' Created: ' ELSE ' Deleted: ' END || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') AS summary
FROM (SELECT *, CASE WHEN $people_only THEN user_name IS NOT NULL AND actor_kind(user_name, user_groups, $admin_groups, $admin_users) <> 'human'
                      ELSE coalesce(starts_with(user_name, 'system:'), false) END AS not_a_user FROM final_requests)
WHERE in_window(received_at, date, $since, $until)
  AND coalesce(verb IN ('create', 'delete'), false)
  AND subresource IS NULL
  AND code BETWEEN 200 AND 299
  AND coalesce(resource IN ('deployments', 'services', 'configmaps', 'namespaces', 'serviceaccounts', 'roles', 'clusterroles', 'rolebindings', 'clusterrolebindings', 'secrets'), false)
  AND NOT (resource = 'secrets' AND (coalesce(namespace, '') = 'kube-system' OR not_a_user))
  AND NOT (resource = 'namespaces' AND verb = 'delete' AND not_a_user)
  AND ($cluster IS NULL OR cluster = $cluster)
