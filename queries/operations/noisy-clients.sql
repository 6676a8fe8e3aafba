/*
title: Noisy clients — who floods the apiserver
engines: {duckdb: true, spark: "buckets time with DuckDB's date_bin, which Spark SQL lacks"}
description: >
  Requests per user agent and user in the window, with the busiest minute and the read/write mix:
  misbehaving controllers and runaway scripts show up here first.
severity: info
controls: [pci-dss-4.0:10.4.1]
params:
  limit: {type: integer, default: 25, help: How many clients}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
WITH per_minute AS (
  SELECT cluster, user_agent, user_name, time_bucket(INTERVAL 1 MINUTE, received_at) AS minute, count(*) AS requests,
         count(*) FILTER (WHERE verb IN ('get', 'list', 'watch')) AS reads
  FROM events
  WHERE in_window(received_at, date, $since, $until)
    AND stage IN ('ResponseComplete', 'Panic')
    AND ($cluster IS NULL OR cluster = $cluster)
  GROUP BY ALL
)
SELECT cluster, user_agent, user_name, sum(requests) AS requests, sum(reads) AS reads,
       max(requests) AS busiest_minute_requests, arg_max(minute, requests) AS busiest_minute
FROM per_minute
GROUP BY ALL
ORDER BY requests DESC, user_agent, user_name
LIMIT $limit
