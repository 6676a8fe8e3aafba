/*
title: Actors — one row per human or service account that used the API
description: >
  Per cluster and effective user: first and last request, how many requests, the distinct source IPs
  and user agents, and the groups. Reads the whole lake; in a saved query, filter `events` by time
  first and aggregate (see top-actors).
*/
SELECT
  cluster,
  coalesce(impersonated_user, user_name) AS actor,
  actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups)) AS actor_kind,
  min(received_at) AS first_seen,
  max(received_at) AS last_seen,
  count(DISTINCT audit_id) AS requests,
  list_sort(list_distinct(list(DISTINCT source_ip))) AS source_ips,
  list_sort(list_distinct(list(DISTINCT user_agent))) AS user_agents,
  any_value(user_groups) AS groups
FROM events
GROUP BY ALL
