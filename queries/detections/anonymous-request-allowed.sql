/*
title: Anonymous request allowed (beyond health checks)
engines: [duckdb, spark]
description: >
  A request by system:anonymous that the authorizer allowed, other than /healthz, /livez and /readyz (CIS
  1.1.1 / 5.1.x: anonymous access should be off or bound to nothing).
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1078.001]
reproduces:
  falco: [Anonymous Request Allowed]
audit:
  Anonymous Request Allowed:
    upstream: A ResponseComplete event by system:anonymous whose authorization decision is allow, except /healthz, /livez and /readyz (with or without a query).
    ours: The same, on each request's final event.
    difference: none
needs:
  - {level: Metadata}
*/
SELECT *, 'anonymous ' || verb || ' ' || coalesce(request_uri, '') || ' allowed' || coalesce(' (' || nullif(authz_reason, '') || ')', '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND user_name = 'system:anonymous'
  AND decision = 'allow'
  AND NOT regexp_matches(coalesce(request_uri, ''), '^/(healthz|livez|readyz)(\?|$)')
  AND ($cluster IS NULL OR cluster = $cluster)
