/*
title: Node proxy access — requests tunnelled to kubelets through the apiserver
engines: [duckdb, spark]
description: >
  nodes/proxy gives direct access to the kubelet API (exec, logs, metrics) and bypasses most audit
  detail; anyone but monitoring using it deserves a look.
severity: high
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1609]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [nodes/proxy], verbs: [get, create]}
*/
SELECT received_at, cluster, name AS node, verb, request_uri, coalesce(impersonated_user, user_name) AS actor,
       actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, code, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'nodes' AND subresource = 'proxy' AND stage = 'ResponseComplete'
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
