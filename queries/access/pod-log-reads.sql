/*
title: Pod log reads — who read which application's logs
engines: [duckdb, spark]
description: Reads of the pods/log subresource; logs often hold personal data and tokens.
severity: medium
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(b)]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [pods/log], verbs: [get]}
*/
SELECT received_at, cluster, namespace, name AS pod,
       regexp_extract(request_uri, '[?&]container=([^&]*)', 1) AS container,
       regexp_matches(request_uri, '[?&]follow=(true|1)') AS follow,
       actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, allowed, code, audit_id
FROM reads
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'pods' AND subresource = 'log'
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY received_at, audit_id
