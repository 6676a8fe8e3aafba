/*
title: Identity acting from a network it never used
engines: [duckdb, spark]
stateful: first-seen
description: >
  A request by an identity (the effective user; the control plane and the cloud's own callers left out unless
  `ignore_system_principals` is false) from a source network it never used during the `baseline` before the
  window, although the baseline saw it acting: a credential used from somewhere new. A network is the source
  address's first `ipv4_prefix` bits (default /24) or `ipv6_prefix` bits (default /64, in whole groups of 16),
  `ip_network`, so a pod restarted on another address of its node's range is not new. An identity the baseline
  never saw has no habits to compare with and is left out (its first request would always be "new"). Refused
  requests count too: a stolen token that is probing is acting. Only the first request of each identity and
  network is reported; the baseline is read, never reported.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1078]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
  ipv4_prefix: {type: integer, default: 24, help: Bits of an IPv4 source address that make its network (32 is the address itself)}
  ipv6_prefix: {type: integer, default: 64, help: Bits of an IPv6 source address that make its network (whole groups of 16)}
needs:
  - {level: Metadata}
*/
WITH addresses AS (  -- each address's network worked out once, not once per request
  SELECT source_ip, ip_network(source_ip, $ipv4_prefix, $ipv6_prefix) AS network
  FROM (SELECT DISTINCT source_ip
        FROM final_requests
        WHERE in_history(received_at, date, $since, $until, $baseline)
          AND source_ip IS NOT NULL
          AND ($cluster IS NULL OR cluster = $cluster))
),
seen AS (
  SELECT DISTINCT b.cluster, b.actor, a.network
  FROM (SELECT DISTINCT cluster, actor, source_ip
        FROM final_requests
        WHERE in_baseline(received_at, date, $since, $baseline)
          AND source_ip IS NOT NULL
          AND ($cluster IS NULL OR cluster = $cluster)) b
  JOIN addresses a ON a.source_ip = b.source_ip
),
known AS (SELECT DISTINCT cluster, actor FROM seen),
requests AS (  -- what a finding shows is read for the findings alone
  SELECT r.cluster, r.received_at, r.audit_id, r.actor, r.source_ip, a.network
  FROM final_requests r
  JOIN addresses a ON a.source_ip = r.source_ip
  WHERE in_window(r.received_at, r.date, $since, $until)
    AND NOT ($ignore_system_principals AND is_system_principal(r.user_name, r.user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR r.cluster = $cluster)
),
firsts AS (
  SELECT *, row_number() OVER (PARTITION BY cluster, actor, network ORDER BY received_at, audit_id) AS nth
  FROM requests r
  WHERE EXISTS (SELECT 1 FROM known k WHERE k.cluster = r.cluster AND k.actor = r.actor)
    AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.cluster = r.cluster AND s.actor = r.actor AND s.network = r.network)
)
SELECT f.*, d.verb, d.object, d.code,
       f.actor || ' acted from ' || f.source_ip || ' (network ' || f.network || ', never used in the baseline): ' || d.verb || ' ' || d.object
       || outcome_suffix(d.code) AS summary
FROM firsts f
JOIN final_requests d  -- what the finding shows, read for its request alone
  ON d.cluster = f.cluster AND d.received_at = f.received_at AND d.audit_id = f.audit_id
 AND in_window(d.received_at, d.date, $since, $until)
WHERE f.nth = 1
