/*
title: Failed authentication (401) by source IP
engines: [duckdb, spark]
description: Requests the apiserver could not authenticate, grouped by source IP and user agent, with the paths tried.
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C), hipaa:164.312(d)]
mitre: [T1110]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster, source_ip, user_agent, count(*) AS failures,
       list_sort(list_distinct(list(DISTINCT split_part(request_uri, '?', 1))))[1:20] AS paths,
       min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND code = 401 AND stage = 'ResponseComplete'
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY failures DESC, source_ip
