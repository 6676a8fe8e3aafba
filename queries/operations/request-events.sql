/*
title: One request's events — every stored stage of an audit id, with its bodies and where it was read
engines: [duckdb, spark]
description: >
  The drill-down from a finding, a report row or a history entry: every stage the lake holds for the
  audit id (RequestReceived, ResponseStarted, ResponseComplete, Panic), all columns, bodies as JSON, and the
  lineage an auditor checks against the original log (source file, line, item, ingest batch). Secret values
  appear as the fingerprints ingest put in their place.
severity: info
controls: [pci-dss-4.0:10.2.2, hipaa:164.312(b)]
params:
  audit_id: {type: varchar, required: true, help: The request's audit id (the audit_id column of every finding and saved query)}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT *
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND audit_id = $audit_id
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY cluster, stage_at, CASE stage WHEN 'RequestReceived' THEN 0 WHEN 'ResponseStarted' THEN 1 ELSE 2 END
