/*
title: API server starts — when the audit log (re)started
engines: {duckdb: true, spark: "buckets time with DuckDB's date_bin, which Spark SQL lacks"}
description: >
  An apiserver that starts lists every kind of object to fill its caches: minutes in which system:apiserver
  lists at least `min_lists` resources are reported as starts. Starts outside maintenance windows, or
  right after a coverage gap, mean the audit trail was interrupted.
severity: medium
controls: [pci-dss-4.0:10.2.1.6, hipaa:164.312(b)]
params:
  min_lists: {type: integer, default: 5, help: Distinct resources listed in one minute that mark a start}
needs:
  - {level: Metadata}
*/
SELECT cluster, time_bucket(INTERVAL 1 MINUTE, received_at) AS minute, count(DISTINCT resource) AS resources_listed,
       min(received_at) AS first_at, any_value(user_agent) AS apiserver
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND user_name = 'system:apiserver' AND verb = 'list'
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
HAVING count(DISTINCT resource) >= $min_lists
ORDER BY cluster, minute
