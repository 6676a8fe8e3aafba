/*
title: Request latency outliers — requests the apiserver took long to answer
engines: [duckdb, spark]
description: >
  Requests whose ResponseComplete came more than the threshold after they were received, leaving
  out the ones that are long by nature (watch, exec, attach, port-forward, log follow, proxy).
severity: info
controls: [pci-dss-4.0:10.4.1]
params:
  threshold: {type: interval, default: 1s, help: "Slower than this: 1s, 5s, 1m"}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT received_at, round(epoch(stage_at) - epoch(received_at), 3) AS latency_seconds, cluster, verb, resource, subresource, namespace, name, code,
       coalesce(impersonated_user, user_name) AS actor, user_agent, split_part(request_uri, '?', 1) AS path, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage = 'ResponseComplete'
  AND stage_at - received_at > $threshold
  AND verb <> 'watch'
  AND coalesce(subresource, '') NOT IN ('exec', 'attach', 'portforward', 'proxy')
  AND NOT (coalesce(subresource, '') = 'log' AND regexp_matches(request_uri, '[?&]follow=(true|1)'))
  AND NOT regexp_matches(request_uri, '[?&]watch=(true|1)')
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY latency_seconds DESC, received_at
