/*
title: Retention — how far back the lake's audit history goes
engines: [duckdb, spark]
description: >
  Per cluster: the first and last event in the lake, the days of history in between, the days that hold
  events, the days since the last event, and whether the history spans twelve months (PCI-DSS 10.5.1 asks
  for at least 12 months, the last three immediately available — a lake on disk is).
severity: info
controls: [pci-dss-4.0:10.5.1, hipaa:164.316(b)(2)]
params:
  since: {type: timestamptz, help: "Not a bound: retention looks at the whole lake"}
  until: {type: timestamptz, help: Events up to this time count}
needs:
  - {level: Metadata}
*/
WITH per_cluster AS (
    SELECT cluster, min(received_at) AS first_event, max(received_at) AS last_event,
           count(DISTINCT date) AS days_with_events
    FROM events
    WHERE received_at < $until AND ($cluster IS NULL OR cluster = $cluster) AND $since IS NOT NULL
    GROUP BY cluster
)
SELECT cluster, first_event, last_event,
       round((epoch(last_event) - epoch(first_event)) / 86400, 1) AS days_of_history, days_with_events,
       date_diff('day', last_event, $until) AS days_since_last_event,
       first_event <= last_event - INTERVAL 365 DAY AS keeps_12_months,
       first_event <= last_event - INTERVAL 90 DAY AS keeps_3_months
FROM per_cluster
ORDER BY cluster
