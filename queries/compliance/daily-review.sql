/*
title: Daily review — the anomalies of each day, counted
engines: [duckdb, spark]
description: >
  Per cluster and day: failed authentication and authorization, secrets read by people, exec/attach/
  port-forward sessions, cluster-admin grants, changes by people outside 08:00–18:00 UTC, and anonymous
  requests that were allowed beyond health checks. The starting point of the daily log review.
severity: info
controls: [pci-dss-4.0:10.4.1, hipaa:164.308(a)(1)(ii)(D)]
needs:
  - {level: Metadata}
  - {level: RequestResponse, group: rbac.authorization.k8s.io, resources: [clusterrolebindings], verbs: [create, update, patch]}
*/
SELECT cluster, date,
       count(*) FILTER (WHERE code = 401) AS failed_authentication,
       count(*) FILTER (WHERE code = 403) AS failed_authorization,
       count(*) FILTER (WHERE resource = 'secrets' AND verb IN ('get', 'list', 'watch')
                        AND actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) = 'human') AS secret_reads_by_people,
       count(*) FILTER (WHERE subresource IN ('exec', 'attach', 'portforward')) AS interactive_sessions,
       count(*) FILTER (WHERE resource = 'clusterrolebindings' AND verb IN ('create', 'update', 'patch') AND code < 300
                        AND coalesce(json_extract_string(request_object, '$.roleRef.name'),
                                     json_extract_string(response_object, '$.roleRef.name')) = 'cluster-admin') AS cluster_admin_grants,
       count(*) FILTER (WHERE verb IN ('create', 'update', 'patch', 'delete') AND code < 300
                        AND actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) = 'human'
                        AND (hour(received_at) < 8 OR hour(received_at) >= 18)) AS off_hours_changes_by_people,
       count(*) FILTER (WHERE (user_name = 'system:anonymous' OR list_contains(user_groups, 'system:unauthenticated')) AND code < 400
                        AND split_part(request_uri, '?', 1) NOT IN ('/healthz', '/livez', '/readyz', '/version')) AS anonymous_allowed
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY cluster, date
