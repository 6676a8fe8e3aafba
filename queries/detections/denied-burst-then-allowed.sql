/*
title: A burst of refusals, then the same request allowed (enumeration that succeeded)
engines: [duckdb, spark]
stateful: sequence
description: >
  At least `threshold` requests refused with 403 by the same identity on the same resource (its kind and
  subresource in one namespace, or cluster-wide; the names may differ: guessing them is the point), then,
  within `within` of them, a successful (2xx) request by that identity on that resource: an enumeration or a
  permission probe that found its way in. The control plane and the cloud's own callers are left out unless
  `ignore_system_principals` is false. The finding is the allowed request, the first for each identity and
  resource; the same identity doing so on the same resource during the `baseline` before the window silences it
  (a client that retries while RBAC propagates). The baseline is read, never reported.
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.312(b)]
mitre: [T1613, T1078]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
  threshold: {type: integer, default: 5, help: Refusals (403) of one identity on one resource within `within` before the allowed request}
  within: {type: interval, default: 15m, help: How long before the allowed request the refusals count}
needs:
  - {level: Metadata}
*/
WITH attempts AS (  -- refusals by whoever the rule watches; successes by anyone (who made those is checked once counted,
  -- on the few that complete a burst, not on every request: a success never changes a count of refusals); what a
  -- finding shows is read for the findings alone
  SELECT cluster, received_at, audit_id, actor, code, resource, coalesce(subresource, '') AS part, coalesce(namespace, '') AS scope, user_name, user_groups
  FROM final_requests
  WHERE in_history(received_at, date, $since - $within, $until, $baseline)
    AND resource IS NOT NULL AND actor IS NOT NULL
    AND (code = 403 AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
         OR code BETWEEN 200 AND 299)
    AND ($cluster IS NULL OR cluster = $cluster)
),
refused AS (  -- the few keys with a refusal counted (read by themselves: `code = 403` leaves few rows to decode)
  SELECT DISTINCT cluster, actor, resource, coalesce(subresource, '') AS part, coalesce(namespace, '') AS scope
  FROM final_requests
  WHERE in_history(received_at, date, $since - $within, $until, $baseline)
    AND resource IS NOT NULL AND actor IS NOT NULL AND code = 403
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
counted AS (
  SELECT *,
         sum(CASE WHEN code = 403 THEN 1 ELSE 0 END) OVER (PARTITION BY cluster, actor, resource, part, scope ORDER BY received_at RANGE BETWEEN $within PRECEDING AND CURRENT ROW)
           AS refusals,
         min(CASE WHEN code = 403 THEN received_at END) OVER (PARTITION BY cluster, actor, resource, part, scope ORDER BY received_at RANGE BETWEEN $within PRECEDING AND CURRENT ROW)
           AS first_refused
  FROM attempts a
  WHERE EXISTS (SELECT 1 FROM refused f WHERE f.cluster = a.cluster AND f.actor = a.actor AND f.resource = a.resource
                                          AND f.part = a.part AND f.scope = a.scope)
),
completions AS (
  SELECT *, row_number() OVER (PARTITION BY cluster, actor, resource, part, scope ORDER BY received_at, audit_id) AS nth
  FROM counted
  WHERE code BETWEEN 200 AND 299 AND refusals >= $threshold AND received_at >= $since - $baseline
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
)
SELECT c.*, d.source_ip, d.verb, d.object,
       c.actor || ' allowed ' || d.verb || ' ' || d.object || ' after ' || c.refusals || ' refusal(s) on ' || c.resource
       || CASE WHEN c.part <> '' THEN '/' || c.part ELSE '' END || CASE WHEN c.scope <> '' THEN ' in ' || c.scope ELSE '' END
       || ', the first ' || elapsed_text(c.first_refused, c.received_at) || ' before' AS summary
FROM completions c
JOIN final_requests d  -- what the finding shows, read for its request alone
  ON d.cluster = c.cluster AND d.received_at = c.received_at AND d.audit_id = c.audit_id
 AND in_window(d.received_at, d.date, $since, $until)
WHERE c.nth = 1 AND c.received_at >= $since
