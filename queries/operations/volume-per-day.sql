/*
title: Event volume per day and level — what the audit policy costs
engines: [duckdb, spark]
description: Events per cluster, UTC day and audit level, with the stage mix, requests and bytes-heavy bodies.
severity: info
controls: [pci-dss-4.0:10.2.1, pci-dss-4.0:10.5.1, hipaa:164.312(b)]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, date, level, count(*) AS events, count(DISTINCT audit_id) AS requests,
       count(*) FILTER (WHERE stage = 'RequestReceived') AS request_received,
       count(*) FILTER (WHERE stage = 'ResponseStarted') AS response_started,
       count(*) FILTER (WHERE stage = 'ResponseComplete') AS response_complete,
       count(*) FILTER (WHERE request_object IS NOT NULL OR response_object IS NOT NULL) AS with_bodies
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY cluster, date, level
