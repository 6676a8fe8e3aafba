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
firsts AS (  -- each identity's first request from an address that listed, over the baseline and the window (what a
  -- finding shows is read for the findings alone)
  SELECT *
  FROM (SELECT cluster, received_at, audit_id, actor, source_ip,
               row_number() OVER (PARTITION BY cluster, source_ip, actor ORDER BY received_at, audit_id) AS nth
        FROM final_requests r
        WHERE in_history(received_at, date, $since, $until, $baseline)
          AND actor IS NOT NULL
          AND EXISTS (SELECT 1 FROM listings l WHERE l.cluster = r.cluster AND l.address = r.source_ip)
          AND ($cluster IS NULL OR cluster = $cluster))
  WHERE nth = 1 AND received_at >= $since
),
switched AS (
  SELECT f.*, l.listed_at, l.lister,
         row_number() OVER (PARTITION BY f.cluster, f.audit_id ORDER BY l.listed_at DESC) AS latest
  FROM firsts f
  JOIN listings l ON l.cluster = f.cluster AND l.address = f.source_ip AND l.lister <> f.actor
   AND f.received_at > l.listed_at AND f.received_at <= l.listed_at + $within
)
SELECT s.*, d.verb, d.object, d.code,
       s.actor || ' acted from ' || s.source_ip || ' for the first time (' || d.verb || ' ' || d.object || outcome_suffix(d.code) || '), '
       || elapsed_text(s.listed_at, s.received_at) || ' after ' || s.lister || ' listed every secret of the cluster from there' AS summary
FROM switched s
JOIN final_requests d  -- what the finding shows, read for its request alone
  ON d.cluster = s.cluster AND d.received_at = s.received_at AND d.audit_id = s.audit_id
 AND in_window(d.received_at, d.date, $since, $until)
WHERE s.latest = 1
