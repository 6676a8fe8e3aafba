/*
title: Unauthenticated (401) or unauthorized (403) request
engines: [duckdb, spark]
description: >
  Every request the API server refused for want of credentials or permission.
severity: low
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1078]
reproduces:
  sigma: [Kubernetes Unauthorized or Unauthenticated Access]
audit:
  Kubernetes Unauthorized or Unauthenticated Access:
    upstream: responseStatus.code 401 or 403; any user.
    ours: The same, once per request.
    difference: none
needs:
  - {level: Metadata}
*/
SELECT *, CASE code WHEN 401 THEN 'unauthenticated ' ELSE coalesce(actor, '(no user)') || ' forbidden: ' END || verb || ' ' || object AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND coalesce(code IN (401, 403), false)
  AND ($cluster IS NULL OR cluster = $cluster)
