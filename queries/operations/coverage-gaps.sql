/*
title: Audit coverage gaps — stretches with no audit events at all
engines: {duckdb: true, spark: "buckets time with DuckDB's date_bin, which Spark SQL lacks"}
description: >
  Per cluster, periods inside the window longer than the threshold in which the lake holds no
  event: a stopped or paused audit log (PCI-DSS 10.2.1.6), a broken shipper, or logs never
  ingested. Each cluster is judged inside its own span in the lake: nothing from the window's start
  to its first event is a gap when the cluster has no earlier event (it was not logging yet), and
  likewise after its last event; a cluster silent through the whole window is one gap.
severity: high
controls: [pci-dss-4.0:10.2.1.6, pci-dss-4.0:10.2.1, hipaa:164.312(b)]
mitre: [T1562.008]
params:
  threshold: {type: interval, default: 15m, help: Report silences longer than this}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
WITH minutes AS (  -- one row per minute that has events: a few thousand rows a day, whatever the volume
  SELECT DISTINCT cluster, time_bucket(INTERVAL 1 MINUTE, received_at) AS minute
  FROM events
  WHERE in_window(received_at, date, $since, $until)
    AND ($cluster IS NULL OR cluster = $cluster)
),
spans AS (  -- each cluster's own span: its first and last event in the lake
  SELECT cluster, min(received_at) AS first_at, max(received_at) AS last_at
  FROM events
  WHERE $cluster IS NULL OR cluster = $cluster
  GROUP BY cluster
),
clusters AS (  -- the part of the window inside that span
  SELECT cluster, greatest($since, time_bucket(INTERVAL 1 MINUTE, first_at)) AS span_start,
         least($until, time_bucket(INTERVAL 1 MINUTE, last_at) + INTERVAL 1 MINUTE) AS span_end
  FROM spans
  WHERE greatest($since, time_bucket(INTERVAL 1 MINUTE, first_at)) < least($until, time_bucket(INTERVAL 1 MINUTE, last_at) + INTERVAL 1 MINUTE)
),
edges AS (
  SELECT cluster, minute AS starts, minute + INTERVAL 1 MINUTE AS ends FROM minutes
  UNION ALL SELECT cluster, NULL, span_start FROM clusters
  UNION ALL SELECT cluster, span_end, NULL FROM clusters
),
ordered AS (
  SELECT cluster, ends AS gap_start, lead(starts) OVER (PARTITION BY cluster ORDER BY coalesce(starts, ends)) AS gap_end
  FROM edges
)
SELECT cluster, gap_start, gap_end, round((epoch(gap_end) - epoch(gap_start)) / 60, 1) AS silence_minutes
FROM ordered
WHERE gap_end IS NOT NULL AND gap_start IS NOT NULL AND gap_end - gap_start > $threshold
ORDER BY cluster, gap_start
