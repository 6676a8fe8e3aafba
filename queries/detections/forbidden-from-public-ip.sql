/*
title: Repeated 403s from one public address
engines: [duckdb, spark]
description: >
  `threshold` requests refused as forbidden (403) from the same public source address within `period`, per
  cluster: someone on the internet probing what a stolen or guessed credential can do. Each refusal from
  the address counts once the threshold is reached. Private and shared addresses are left out.
severity: low
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1613, T1078]
reproduces:
  panther: [Kubernetes.API.Multiple403.PublicIP, Amazon.EKS.Audit.Multiple403]
params:
  threshold: {type: integer, default: 10, help: Refusals from one address within the period that raise findings}
  period: {type: interval, default: 30m, help: The sliding period}
  api_paths_only: {type: boolean, default: false, help: "Only /api and /apis paths (Panther's EKS variant), not scanners' other URLs"}
audit:
  Kubernetes.API.Multiple403.PublicIP:
    upstream: Responses 403 (or gRPC 7) whose first source IP is global; an alert at 10 from one address within 30 minutes.
    ours: The same, per cluster, `threshold` 10 and `period` 30m sliding; every refusal past the threshold listed.
    difference: "Counted per cluster: Panther's dedup key is the address alone, across every cluster it reads."
  Amazon.EKS.Audit.Multiple403:
    upstream: 'On Amazon.EKS.Audit logs: 403s to /api or /apis paths from a public source IP; an alert at 10 within 30 minutes.'
    ours: 'The Kubernetes rule above: every path, every cloud.'
    difference: Also 403s outside /api and /apis and on other clouds (Panther's Kubernetes rule counts them).
    params:
      api_paths_only: true
needs:
  - {level: Metadata}
*/
WITH refused AS (
  SELECT received_at, cluster, actor, source_ip, verb, object, request_uri, audit_id
  FROM final_requests
  WHERE in_window(received_at, date, $since - $period, $until)
    AND code = 403
    AND ip_is_global(source_ip)
    AND (NOT $api_paths_only OR starts_with(coalesce(request_uri, ''), '/api/') OR starts_with(coalesce(request_uri, ''), '/apis/'))
    AND ($cluster IS NULL OR cluster = $cluster)
),
counted AS (
  SELECT *, count(*) OVER (PARTITION BY cluster, source_ip ORDER BY received_at RANGE BETWEEN $period PRECEDING AND CURRENT ROW) AS recent
  FROM refused
)
SELECT *, recent || ' refusals from ' || source_ip || ' within ' || $period || ': ' || verb || ' ' || object AS summary
FROM counted
WHERE recent >= $threshold AND received_at >= $since
