/*
title: Deployment changes — who changed which deployment, when, from where, with what
engines: [duckdb, spark]
description: >
  Every successful create, update, patch, delete or scale of a Deployment in the window, with the
  actor, source IP and user agent (kubectl, helm, argocd, a controller). Status updates by the
  deployment controller are left out unless include_status is true.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, pci-dss-4.0:10.2.2, hipaa:164.312(b), hipaa:164.312(c)(1)]
params:
  since: {type: timestamptz, help: "Start of the window (7d, 2026-11-01, …)"}
  namespace: {type: varchar, help: Only this namespace}
  include_status: {type: boolean, default: false, help: Also list status-only writes}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, group: apps, resources: [deployments, deployments/scale], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, namespace, name AS deployment, verb, subresource, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind,
       authenticated_user, source_ip, user_agent, code, level, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'deployments' AND api_group = 'apps'
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
  AND ($include_status OR NOT is_status_only)
ORDER BY received_at, audit_id
