/*
title: Stream completeness — unfinished requests, silences, and what the audit level left out, per cluster and day
engines: {duckdb: true, spark: "takes epoch() of an INTERVAL, which Spark SQL cannot"}
description: >
  A completeness statement for every cluster and UTC day of the window, each cluster inside its own span in
  the lake (no silence is counted before its first event or after its last; a day without any event inside
  that span is one silence). Unfinished requests: `requests_received` were logged at stage RequestReceived,
  and `requests_without_final_stage` of them have no ResponseComplete or Panic anywhere in the lake, so
  their outcome is not on record (ResponseStarted is not final). `unfinished_long_running` of those are
  watches or requests that had started streaming their response (exec, logs, port-forward): they end when
  the client leaves, so an open one on the last day of the data may still finish in a log not yet ingested.
  A log whose policy omits the RequestReceived stage shows no `requests_received` and cannot show
  unfinished requests. Silences: `longest_silence_minutes` (from `longest_silence_from`) is the longest
  time between consecutive events that day, and `silences_over_threshold` counts those longer than the
  threshold; a silence over midnight counts on both days. What the audit level could not record: of the
  `requests_logged` (final events, one per request), how many were logged at Metadata (no bodies),
  Request (the request body) and RequestResponse (both bodies); `writes_without_bodies` are creates,
  updates and patches logged at Metadata, so what they wrote is not on record; and
  `secret_requests_without_bodies` are requests on Secrets logged at Metadata. Requests the audit policy
  sets to level None are not logged at all, so no count here can show them (`auditlake policy simulate`).
severity: info
controls: [pci-dss-4.0:10.2.1, pci-dss-4.0:10.2.2]
params:
  threshold: {type: interval, default: 15m, help: Count silences between consecutive events longer than this}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
WITH spans AS (  -- each cluster's own span: its first and last event in the lake
  SELECT cluster, min(received_at) AS first_at, max(received_at) AS last_at
  FROM events
  WHERE $cluster IS NULL OR cluster = $cluster
  GROUP BY cluster
),
days AS (  -- every UTC day of the window inside that span, with or without events, and the part of it both cover
  SELECT cluster, CAST(day AS DATE) AS date,
         greatest(day, first_at, $since) AS day_start,
         least(day + INTERVAL 1 DAY, last_at, $until) AS day_end
  FROM spans, LATERAL (SELECT unnest(generate_series(date_trunc('day', greatest(first_at, $since)),
                                                      date_trunc('day', least(last_at, $until)), INTERVAL 1 DAY)) AS day)
),
windowed AS (
  SELECT cluster, date, received_at, audit_id, stage, level, verb, resource
  FROM events
  WHERE in_window(received_at, date, $since, $until)
    AND ($cluster IS NULL OR cluster = $cluster)
),
moments AS (  -- each day's event times and its two edges
  SELECT DISTINCT cluster, date, received_at AS moment FROM windowed
  UNION ALL SELECT cluster, date, day_start FROM days
  UNION ALL SELECT cluster, date, day_end FROM days
),
silences AS (
  SELECT cluster, date, moment AS silence_from, lead(moment) OVER (PARTITION BY cluster, date ORDER BY moment) - moment AS silence
  FROM moments
),
silences_per_day AS (
  SELECT cluster, date, max(silence) AS longest, arg_max(silence_from, silence) AS longest_from,
         count(*) FILTER (WHERE silence > $threshold) AS over_threshold
  FROM silences
  WHERE silence IS NOT NULL
  GROUP BY cluster, date
),
received AS (
  SELECT cluster, date, audit_id, verb FROM windowed WHERE stage = 'RequestReceived'
),
later_stages AS (  -- anywhere in the lake, not only in the window: v1beta1 logs stamp each stage with its own time
  SELECT cluster, audit_id, bool_or(stage IN ('ResponseComplete', 'Panic')) AS has_final, bool_or(stage = 'ResponseStarted') AS has_started
  FROM events
  WHERE stage IN ('ResponseStarted', 'ResponseComplete', 'Panic')
    AND date >= CAST(timezone('UTC', $since) AS DATE)  -- a later stage is never on an earlier day
    AND ($cluster IS NULL OR cluster = $cluster)
    AND audit_id IN (SELECT audit_id FROM received)
  GROUP BY cluster, audit_id
),
requests_per_day AS (
  SELECT received.cluster, received.date, count(*) AS requests_received,
         count(*) FILTER (WHERE has_final IS NOT TRUE) AS requests_without_final_stage,
         count(*) FILTER (WHERE has_final IS NOT TRUE AND (verb = 'watch' OR has_started)) AS unfinished_long_running
  FROM received LEFT JOIN later_stages USING (cluster, audit_id)
  GROUP BY received.cluster, received.date
),
levels_per_day AS (
  SELECT cluster, date, count(*) AS events,
         count(*) FILTER (WHERE is_final(stage)) AS requests_logged,
         count(*) FILTER (WHERE is_final(stage) AND level = 'Metadata') AS requests_at_metadata,
         count(*) FILTER (WHERE is_final(stage) AND level = 'Request') AS requests_at_request,
         count(*) FILTER (WHERE is_final(stage) AND level = 'RequestResponse') AS requests_at_request_response,
         count(*) FILTER (WHERE is_final(stage) AND level = 'Metadata' AND verb IN ('create', 'update', 'patch')) AS writes_without_bodies,
         count(*) FILTER (WHERE is_final(stage) AND level = 'Metadata' AND resource = 'secrets') AS secret_requests_without_bodies
  FROM windowed
  GROUP BY cluster, date
)
SELECT days.cluster, days.date, coalesce(levels.events, 0) AS events,
       coalesce(requests.requests_received, 0) AS requests_received,
       coalesce(requests.requests_without_final_stage, 0) AS requests_without_final_stage,
       coalesce(requests.unfinished_long_running, 0) AS unfinished_long_running,
       round(epoch(coalesce(silences.longest, INTERVAL 0 SECOND)) / 60, 1) AS longest_silence_minutes,
       CASE WHEN silences.longest > INTERVAL 0 SECOND THEN silences.longest_from END AS longest_silence_from,
       coalesce(silences.over_threshold, 0) AS silences_over_threshold,
       coalesce(levels.requests_logged, 0) AS requests_logged,
       coalesce(levels.requests_at_metadata, 0) AS requests_at_metadata,
       coalesce(levels.requests_at_request, 0) AS requests_at_request,
       coalesce(levels.requests_at_request_response, 0) AS requests_at_request_response,
       coalesce(levels.writes_without_bodies, 0) AS writes_without_bodies,
       coalesce(levels.secret_requests_without_bodies, 0) AS secret_requests_without_bodies
FROM days
LEFT JOIN levels_per_day AS levels USING (cluster, date)
LEFT JOIN requests_per_day AS requests USING (cluster, date)
LEFT JOIN silences_per_day AS silences USING (cluster, date)
WHERE days.day_start < days.day_end OR levels.events > 0
ORDER BY days.cluster, days.date
