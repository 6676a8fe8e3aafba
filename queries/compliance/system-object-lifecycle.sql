/*
title: Creation and deletion of system-level objects
engines: [duckdb, spark]
description: >
  Cluster-scoped objects (namespaces, nodes, cluster roles and bindings, CRDs, webhooks, storage classes,
  priority classes, …) and objects in kube-system, created or deleted, by whom.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
params:
  include_system: {type: boolean, default: false, help: "Include controllers and nodes (events, pods, leases churn)"}
needs:
  - {level: Metadata, verbs: [create, delete, deletecollection]}
*/
SELECT received_at, cluster, verb, api_group, resource, coalesce(namespace, '(cluster)') AS scope, name, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND verb IN ('create', 'delete', 'deletecollection') AND subresource IS NULL
  AND (namespace IS NULL OR namespace = 'kube-system')
  AND resource NOT IN ('events', 'leases', 'tokenreviews', 'subjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews')
  AND ($include_system OR actor_kind(actor, actor_groups, $admin_groups, $admin_users) IN ('human', 'serviceaccount', 'anonymous'))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
