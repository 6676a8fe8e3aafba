/*
title: Actions by administrators — everything the people with administrative access did
engines: [duckdb, spark]
description: >
  Every request by a person with administrative access (`is_administrator`: a member of system:masters or
  of `admin_groups`, or a user named in `admin_users`; the apiserver's loopback client and the cloud's
  managed callers are in system:masters too, and are not people), grouped by administrator, verb and
  resource, with the first and last time and the failures. The administrator is who authenticated: what
  they did while impersonating someone else is listed under their own name. PCI-DSS asks for all actions
  taken by anyone with administrative access.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.308(a)(1)(ii)(D)]
needs:
  - {level: Metadata}
*/
SELECT cluster, user_name AS administrator, verb,
       coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1)) AS target,
       count(*) AS requests, count(*) FILTER (WHERE code >= 400) AS failures,
       list_sort(list_distinct(list(DISTINCT namespace)))[1:10] AS namespaces, list_sort(list_distinct(list(DISTINCT source_ip)))[1:10] AS source_ips,
       min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND is_administrator(user_name, user_groups, $admin_groups, $admin_users)
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY cluster, administrator, requests DESC, target
