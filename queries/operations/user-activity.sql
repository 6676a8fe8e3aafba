/*
title: Activity timeline of one user — everything they did, in order
engines: [duckdb, spark]
description: >
  Every request by the given user (as themselves or impersonated), one row per request at its
  final stage, oldest first: the raw material of an incident timeline.
severity: info
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.308(a)(1)(ii)(D)]
params:
  user: {type: varchar, required: true, help: The username (as in user_name or impersonated_user)}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT received_at, cluster, verb, resource, subresource, namespace, name, code, source_ip, user_agent,
       user_name AS authenticated_user, impersonated_user, split_part(request_uri, '?', 1) AS path, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND (user_name = $user OR impersonated_user = $user)
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
