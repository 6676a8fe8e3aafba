/*
title: Secrets listed across namespaces, then a new identity from the same address
engines: [duckdb, spark]
stateful: sequence
description: >
  A successful list of Secrets in all namespaces at once (what `secrets-dumped-across-namespaces` reports; the
  control plane left out unless `ignore_system_principals` is false), then, within `within`, a request from the
  same source address as an identity that address had never used before, neither in the `baseline` before the
  window nor since: every token of the cluster harvested in one response, then one of them put to use. "A new
  outbound identity" is read as the first request of an identity from the address that listed (an attacker's
  machine, or a compromised pod, switching credentials), other than the lister itself. The finding is that first
  request (one per address and identity); an address that used the identity during the baseline is not new. The
  summary names the listing, who made it and how long before. The baseline is read, never reported.
severity: critical
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007, T1550.001]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Metadata}
*/
WITH listings AS (
  SELECT cluster, received_at AS listed_at, actor AS lister, source_ip AS address
  FROM final_requests
  WHERE in_history(received_at, date, $since - $within, $until, $baseline)
    AND resource = 'secrets' AND verb = 'list' AND code BETWEEN 200 AND 299
    AND namespace IS NULL AND NOT contains(coalesce(request_uri, ''), '/namespaces/')
    AND source_ip IS NOT NULL
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
first_instants AS (  -- each identity's first request from an address that listed, over the baseline and the window (from the
  -- groups of the history: the earliest of their firsts), when it falls in the window
  SELECT *
  FROM (SELECT cluster, source_ip, actor, min(first_at) AS received_at
        FROM request_groups($since - $baseline, $until) r
        WHERE actor IS NOT NULL
          AND EXISTS (SELECT 1 FROM listings l WHERE l.cluster = r.cluster AND l.address = r.source_ip)
          AND ($cluster IS NULL OR cluster = $cluster)
        GROUP BY cluster, source_ip, actor)
  WHERE received_at >= $since
),
found AS (  -- the requests of those instants, read for them alone
  SELECT * FROM final_requests_at((SELECT list(DISTINCT received_at) FROM first_instants), $since, $until)
),
firsts AS (  -- the first request of each (ties at an instant are ordered by audit_id)
  SELECT *
  FROM (SELECT f.cluster, f.received_at, d.audit_id, f.actor, f.source_ip, d.verb, d.object, d.code,
               row_number() OVER (PARTITION BY f.cluster, f.source_ip, f.actor ORDER BY d.audit_id) AS nth
        FROM first_instants f
        JOIN found d ON d.cluster = f.cluster AND d.received_at = f.received_at AND d.actor = f.actor AND d.source_ip = f.source_ip)
  WHERE nth = 1
),
switched AS (
  SELECT f.*, l.listed_at, l.lister,
         row_number() OVER (PARTITION BY f.cluster, f.audit_id ORDER BY l.listed_at DESC) AS latest
  FROM firsts f
  JOIN listings l ON l.cluster = f.cluster AND l.address = f.source_ip AND l.lister <> f.actor
   AND f.received_at > l.listed_at AND f.received_at <= l.listed_at + $within
)
SELECT *,
       actor || ' acted from ' || source_ip || ' for the first time (' || verb || ' ' || object || outcome_suffix(code) || '), '
       || elapsed_text(listed_at, received_at) || ' after ' || lister || ' listed every secret of the cluster from there' AS summary
FROM switched
WHERE latest = 1
