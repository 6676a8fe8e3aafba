/*
title: Top actors — who uses the API most, and how
engines: [duckdb, spark]
description: Requests per effective user in the window, with their writes, failures, source IPs and user agents.
severity: info
controls: [pci-dss-4.0:10.4.1, hipaa:164.308(a)(1)(ii)(D)]
params:
  limit: {type: integer, default: 25, help: How many actors}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, coalesce(impersonated_user, user_name) AS actor,
       actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) AS actor_kind,
       count(*) AS requests,
       count(*) FILTER (WHERE verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')) AS writes,
       count(*) FILTER (WHERE code >= 400) AS failures,
       list_sort(list_distinct(list(DISTINCT source_ip)))[1:10] AS source_ips,
       list_sort(list_distinct(list(DISTINCT user_agent)))[1:5] AS user_agents,
       min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY requests DESC, actor, cluster
LIMIT $limit
