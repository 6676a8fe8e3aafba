/*
title: Namespace lifecycle — namespaces created, relabelled and deleted
engines: [duckdb, spark]
description: Successful writes to Namespaces (create, update, patch, delete, finalize) in the window.
severity: low
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(b)]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [namespaces], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, name AS namespace, verb, subresource, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'namespaces'
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
