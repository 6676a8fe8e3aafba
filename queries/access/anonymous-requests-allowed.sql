/*
title: Anonymous requests that were allowed
engines: [duckdb, spark]
description: >
  Requests by system:anonymous (or in group system:unauthenticated) that the apiserver answered
  without an error, grouped by path. Health and version endpoints are expected; anything else is
  exposure.
severity: high
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.312(d)]
mitre: [T1190]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, verb, split_part(request_uri, '?', 1) AS path, resource, namespace,
       count(*) AS requests, list_sort(list_distinct(list(DISTINCT source_ip)))[1:20] AS source_ips,
       min(received_at) AS first_at, max(received_at) AS last_at,
       split_part(request_uri, '?', 1) IN ('/healthz', '/livez', '/readyz', '/version') AS is_health_check
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage = 'ResponseComplete' AND code < 400
  AND (user_name = 'system:anonymous' OR list_contains(user_groups, 'system:unauthenticated'))
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY is_health_check, requests DESC, path
