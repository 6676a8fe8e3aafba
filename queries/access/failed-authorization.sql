/*
title: Failed authorization (403) by user and source IP
engines: [duckdb, spark]
description: Authenticated requests RBAC (or another authorizer) refused, grouped by user, source IP, verb and resource.
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(1)(ii)(D), hipaa:164.312(a)(1)]
mitre: [T1087.004]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, coalesce(impersonated_user, user_name) AS actor, user_name AS authenticated_user, source_ip, verb,
       coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1)) AS target,
       count(*) AS failures, list_sort(list_distinct(list(DISTINCT namespace))) AS namespaces,
       min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND code = 403 AND stage = 'ResponseComplete'
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY failures DESC, actor, target
