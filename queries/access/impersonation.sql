/*
title: Impersonation — who acted as whom
engines: [duckdb, spark]
description: >
  Requests sent with Impersonate-User (kubectl --as): per cluster, impersonator and impersonated
  user, how many requests, which verbs, how many were denied, first and last time.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, pci-dss-4.0:10.2.2, hipaa:164.312(d)]
mitre: [T1078]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, user_name AS impersonator, impersonated_user, any_value(impersonated_groups) AS impersonated_groups,
       count(*) AS requests, list_sort(list_distinct(list(DISTINCT verb))) AS verbs,
       count(*) FILTER (WHERE code >= 400) AS denied,
       min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND impersonated_user IS NOT NULL AND stage = 'ResponseComplete'
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY cluster, user_name, impersonated_user
ORDER BY requests DESC, impersonator, impersonated_user
