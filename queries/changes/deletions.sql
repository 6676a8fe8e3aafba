/*
title: Deletions — every object deleted, by whom
engines: [duckdb, spark]
description: Successful delete and deletecollection requests of any resource in the window.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1485]
params:
  namespace: {type: varchar, help: Only this namespace}
  include_system: {type: boolean, default: true, help: Include deletions by controllers and nodes}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, verbs: [delete, deletecollection]}
*/
SELECT received_at, cluster, api_group, resource, subresource, namespace, name, verb, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind,
       authenticated_user, source_ip, user_agent, code, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND verb IN ('delete', 'deletecollection')
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
  AND ($include_system OR actor_kind(actor, actor_groups, $admin_groups, $admin_users) IN ('human', 'serviceaccount', 'anonymous'))
ORDER BY received_at, audit_id
