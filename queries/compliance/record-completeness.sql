/*
title: Audit record completeness — user, type, time, outcome, origin and affected resource
engines: [duckdb, spark]
description: >
  For every cluster, the share of final-stage events that carry each element PCI-DSS 10.2.2 asks a record
  to hold: the user, the type of event (verb), date and time, success or failure (response code), the
  origin (source IP) and the identity of the affected resource (object or URL). 100% is complete. A request
  that failed authentication (401) has no user by definition: its source IP identifies it, so it counts as
  identified and is counted apart in `failed_logins`.
severity: info
controls: [pci-dss-4.0:10.2.2, hipaa:164.312(b)]
needs:
  - {level: Metadata}
*/
SELECT cluster, count(*) AS events,
       round(100.0 * count(*) FILTER (WHERE user_name IS NOT NULL OR code = 401) / count(*), 2) AS user_pct,
       count(*) FILTER (WHERE user_name IS NULL AND code = 401) AS failed_logins,
       round(100.0 * count(verb) / count(*), 2) AS type_pct,
       round(100.0 * count(received_at) / count(*), 2) AS time_pct,
       round(100.0 * count(code) / count(*), 2) AS outcome_pct,
       round(100.0 * count(source_ip) / count(*), 2) AS origin_pct,
       round(100.0 * count(coalesce(resource, request_uri)) / count(*), 2) AS resource_pct,
       least(count(*) FILTER (WHERE user_name IS NOT NULL OR code = 401), count(verb), count(received_at), count(code), count(source_ip), count(coalesce(resource, request_uri))) = count(*) AS complete
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY cluster
ORDER BY cluster
