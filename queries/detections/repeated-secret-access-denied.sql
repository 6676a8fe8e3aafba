/*
title: Repeated refused reads of secrets by one user in one namespace
engines: [duckdb, spark]
description: >
  `threshold` failed gets of Secrets (refused, not found, unauthenticated) by the same user in the same
  namespace within `period`: guessing secret names, or a credential testing its reach. System namespaces
  and control-plane identities are left out. Each failure counts once the threshold is reached.
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.312(a)(1)]
mitre: [T1552.007]
reproduces:
  panther: [Kubernetes.Secret.AccessDenied]
params:
  threshold: {type: integer, default: 20, help: Failures by one user in one namespace within the period}
  period: {type: interval, default: 15m, help: The sliding period}
audit:
  Kubernetes.Secret.AccessDenied:
    upstream: Get of a secret that failed (code 400 or more, or gRPC 1–16), outside system namespaces, not by a system principal; an alert at 20 by one user in one namespace within 15 minutes.
    ours: The same, `threshold` 20 and `period` 15m sliding; every failure past the threshold listed.
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Metadata, resources: [secrets], verbs: [get]}
*/
WITH failed AS (
  SELECT received_at, cluster, actor, user_name, source_ip, verb, namespace, name, object, code, audit_id
  FROM final_requests
  WHERE in_window(received_at, date, $since - $period, $until)
    AND resource = 'secrets' AND subresource IS NULL AND verb = 'get'
    AND code >= 400
    AND NOT is_system_namespace(namespace) AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people)
    AND ($cluster IS NULL OR cluster = $cluster)
),
counted AS (
  SELECT *, count(*) OVER (PARTITION BY cluster, user_name, namespace ORDER BY received_at RANGE BETWEEN $period PRECEDING AND CURRENT ROW) AS recent
  FROM failed
)
SELECT *, coalesce(user_name, '(no user)') || ' failed to read ' || recent || ' secret(s) in ' || coalesce(namespace, '?') || ' within ' || $period
         || ' (' || coalesce(name, '') || ': ' || code || ')' AS summary
FROM counted
WHERE recent >= $threshold AND received_at >= $since
