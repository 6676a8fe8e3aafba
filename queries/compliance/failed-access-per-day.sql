/*
title: Failed access per day — 401 and 403 over time
engines: [duckdb, spark]
description: Failed authentication (401) and authorization (403) per cluster and day, for trend charts.
severity: info
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
needs:
  - {level: Metadata}
*/
SELECT cluster, date, count(*) FILTER (WHERE code = 401) AS unauthenticated, count(*) FILTER (WHERE code = 403) AS forbidden
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic') AND code IN (401, 403)
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY cluster, date
