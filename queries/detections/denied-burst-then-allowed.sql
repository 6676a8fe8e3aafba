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
WITH refusals AS (  -- every refusal by an identity the rule watches, on a resource (few: their instants, from the groups)
  SELECT cluster, actor, resource, coalesce(subresource, '') AS part, coalesce(namespace, '') AS scope, unnest(times) AS received_at
  FROM request_groups($since - $within - $baseline, $until)
  WHERE code = 403 AND resource IS NOT NULL AND actor IS NOT NULL
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
allowed AS (  -- successes on a refused resource by an identity the rule watches (who made a success is checked here: a success
  -- never changes a count of refusals), in groups of an hour
  SELECT g.cluster, g.actor, g.resource, coalesce(g.subresource, '') AS part, coalesce(g.namespace, '') AS scope, g.first_at, g.last_at, g.times
  FROM request_groups($since - $baseline, $until) g
  WHERE g.code BETWEEN 200 AND 299 AND g.resource IS NOT NULL AND g.actor IS NOT NULL
    AND NOT ($ignore_system_principals AND is_system_principal(g.user_name, g.user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR g.cluster = $cluster)
    AND EXISTS (SELECT 1 FROM refusals f WHERE f.cluster = g.cluster AND f.actor = g.actor AND f.resource = g.resource
                                           AND f.part = coalesce(g.subresource, '') AND f.scope = coalesce(g.namespace, ''))
),
candidates AS (  -- after each refusal, the first success on its resource within `within`: a burst that reaches the threshold at
  -- a refusal is first completed by the first success from then on, if any is
  SELECT DISTINCT cluster, actor, resource, part, scope, received_at
  FROM (SELECT f.cluster, f.actor, f.resource, f.part, f.scope, f.refused_at,
               min(CASE WHEN a.first_at >= f.refused_at THEN a.first_at ELSE list_min(list_filter(a.times, lambda t: t >= f.refused_at)) END) AS received_at
        FROM (SELECT DISTINCT cluster, actor, resource, part, scope, received_at AS refused_at FROM refusals) f
        JOIN allowed a
          ON a.cluster = f.cluster AND a.actor = f.actor AND a.resource = f.resource AND a.part = f.part AND a.scope = f.scope
         AND a.last_at >= f.refused_at AND a.first_at <= f.refused_at + $within
        GROUP BY f.cluster, f.actor, f.resource, f.part, f.scope, f.refused_at)
  WHERE received_at <= refused_at + $within
),
counted AS (  -- the refusals within `within` before each of those successes
  SELECT *,
         sum(CASE WHEN code = 403 THEN 1 ELSE 0 END) OVER (PARTITION BY cluster, actor, resource, part, scope ORDER BY received_at RANGE BETWEEN $within PRECEDING AND CURRENT ROW)
           AS refusals,
         min(CASE WHEN code = 403 THEN received_at END) OVER (PARTITION BY cluster, actor, resource, part, scope ORDER BY received_at RANGE BETWEEN $within PRECEDING AND CURRENT ROW)
           AS first_refused
  FROM (SELECT cluster, actor, resource, part, scope, received_at, 403 AS code FROM refusals
        UNION ALL
        SELECT cluster, actor, resource, part, scope, received_at, 200 FROM candidates)
),
completions AS (  -- the successes that complete a burst, and whether each is the first on its resource
  SELECT *, rank() OVER (PARTITION BY cluster, actor, resource, part, scope ORDER BY received_at) AS place
  FROM counted
  WHERE code = 200 AND refusals >= $threshold
),
found AS (  -- the requests of the first completions in the window, read for them alone
  SELECT * FROM final_requests_at((SELECT list(DISTINCT received_at) FROM completions WHERE place = 1), $since, $until)
),
firsts AS (  -- those requests by the identities and on the resources of their completions; ties are ordered by audit_id
  SELECT c.*, d.audit_id, d.source_ip, d.verb, d.object,
         row_number() OVER (PARTITION BY c.cluster, c.actor, c.resource, c.part, c.scope ORDER BY d.audit_id) AS nth
  FROM completions c
  JOIN found d
    ON d.cluster = c.cluster AND d.received_at = c.received_at AND d.actor = c.actor AND d.resource = c.resource
   AND coalesce(d.subresource, '') = c.part AND coalesce(d.namespace, '') = c.scope
  WHERE c.place = 1 AND d.code BETWEEN 200 AND 299
    AND NOT ($ignore_system_principals AND is_system_principal(d.user_name, d.user_groups, $admin_groups, $admin_users, $admins_are_people))
)
SELECT *,
       actor || ' allowed ' || verb || ' ' || object || ' after ' || refusals || ' refusal(s) on ' || resource
       || CASE WHEN part <> '' THEN '/' || part ELSE '' END || CASE WHEN scope <> '' THEN ' in ' || scope ELSE '' END
       || ', the first ' || elapsed_text(first_refused, received_at) || ' before' AS summary
FROM firsts
WHERE nth = 1
