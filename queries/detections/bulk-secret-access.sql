/*
title: Bulk secret access — one user reading many different secrets
engines: {duckdb: true, spark: "its summary prints an interval as DuckDB does (00:30:00); Spark prints intervals otherwise"}
description: >
  Reads (get, list, watch) of at least `threshold` different secrets (or secret lists) by the same user and
  client within `period`, succeeded or not: secret harvesting. Control-plane identities are left out. Each
  read counts once the threshold of distinct secrets is reached.
severity: medium
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007, T1555]
reproduces:
  panther: [Kubernetes.BulkSecretAccess]
params:
  threshold: {type: integer, default: 15, help: Distinct secrets read by one user and client within the period}
  period: {type: interval, default: 30m, help: The sliding period}
enabled: false  # upstream ships it disabled: runs when named (--rule) or switched on (RULE.enabled=true)
audit:
  Kubernetes.BulkSecretAccess:
    upstream: 'Shipped disabled (Enabled: false). Enabled: get, list or watch of secrets by someone who is not a system principal, any outcome; an alert at 15 distinct secret names by one user and user
      agent within 30 minutes.'
    ours: 'Off by default (`enabled: false`); named with --rule or switched on with bulk-secret-access.enabled=true, the same condition with `threshold` 15 and `period` 30m, sliding, every read past the
      threshold listed.'
    difference: None once enabled, except that lists count per namespace where Panther counts every list as one name.
needs:
  - {level: Metadata, resources: [secrets], verbs: [get, list, watch]}
*/
WITH reads AS (
  SELECT received_at, cluster, actor, user_name, user_agent, source_ip, verb, object, audit_id,
         coalesce(name, 'list:' || namespace, 'list:' || request_uri, 'list') AS secret
  FROM final_requests
  WHERE in_window(received_at, date, $since - $period, $until)
    AND resource = 'secrets' AND subresource IS NULL AND verb IN ('get', 'list', 'watch')
    AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people)
    AND ($cluster IS NULL OR cluster = $cluster)
),
counted AS (
  SELECT r.*, (SELECT count(DISTINCT p.secret) FROM reads p
               WHERE p.cluster = r.cluster AND p.user_name IS NOT DISTINCT FROM r.user_name AND p.user_agent IS NOT DISTINCT FROM r.user_agent
                 AND p.received_at BETWEEN r.received_at - $period AND r.received_at) AS distinct_secrets
  FROM reads r
)
SELECT *, coalesce(user_name, '(no user)') || ' read ' || distinct_secrets || ' different secrets within ' || $period AS summary
FROM counted
WHERE distinct_secrets >= $threshold AND received_at >= $since
