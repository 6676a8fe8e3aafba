/*
title: Secrets listed across all namespaces — the broadest credential read there is
engines: [duckdb, spark]
description: list or watch of Secrets without a namespace, by anyone; allowed ones returned every secret's value.
severity: high
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(b)]
mitre: [T1552.007, T1087.004]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [secrets], verbs: [list, watch]}
*/
SELECT received_at, cluster, verb, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, allowed, code, audit_id
FROM reads
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets' AND is_cluster_wide
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
