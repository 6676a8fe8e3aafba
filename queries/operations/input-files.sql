/*
title: Input files that supplied the window's events — the provenance of a report
engines: [duckdb, spark]
description: >
  Per cluster, every audit log file (its path when it was read, as in each row's source_file) that
  supplied at least one event inside the window, with how many and the first and last. The lake's
  manifest holds each file's size, lines and sha256 (the ingest_sources table).
severity: info
controls: [pci-dss-4.0:10.3.2, pci-dss-4.0:10.2.1, hipaa:164.312(b)]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, source_file, count(*) AS events, min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY cluster, first_at, source_file
