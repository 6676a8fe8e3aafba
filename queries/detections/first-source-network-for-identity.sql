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
WITH before AS (  -- the baseline's and the window's requests in groups (by hour, identity, address, …: `request_groups`)
  SELECT * FROM request_groups($since - $baseline, $since) WHERE source_ip IS NOT NULL AND ($cluster IS NULL OR cluster = $cluster)
),
during AS (
  SELECT * FROM request_groups($since, $until) WHERE source_ip IS NOT NULL AND ($cluster IS NULL OR cluster = $cluster)
),
addresses AS (  -- each address's network worked out once, not once per request
  SELECT source_ip, ip_network(source_ip, $ipv4_prefix, $ipv6_prefix) AS network
  FROM (SELECT source_ip FROM before UNION SELECT source_ip FROM during)
),
seen AS (
  SELECT DISTINCT b.cluster, b.actor, a.network
  FROM before b
  JOIN addresses a ON a.source_ip = b.source_ip
),
known AS (SELECT DISTINCT cluster, actor FROM seen),
new_groups AS (  -- the window's groups of a known identity in a network it never used
  SELECT g.cluster, g.actor, a.network, g.first_at
  FROM during g
  JOIN addresses a ON a.source_ip = g.source_ip
  WHERE NOT ($ignore_system_principals AND is_system_principal(g.user_name, g.user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND EXISTS (SELECT 1 FROM known k WHERE k.cluster = g.cluster AND k.actor = g.actor)
    AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.cluster = g.cluster AND s.actor = g.actor AND s.network = a.network)
),
first_instants AS (  -- the instant each identity first acted from each new network: the earliest of its groups' firsts
  SELECT cluster, actor, network, min(first_at) AS received_at FROM new_groups GROUP BY cluster, actor, network
),
found AS (  -- the requests of those instants, read for them alone
  SELECT * FROM final_requests_at((SELECT list(DISTINCT received_at) FROM first_instants), $since, $until)
),
firsts AS (  -- those requests by the identities and networks of their instants; ties are ordered by audit_id
  SELECT f.cluster, d.received_at, d.audit_id, f.actor, d.source_ip, f.network, d.verb, d.object, d.code,
         row_number() OVER (PARTITION BY f.cluster, f.actor, f.network ORDER BY d.audit_id) AS nth
  FROM first_instants f
  JOIN found d ON d.cluster = f.cluster AND d.received_at = f.received_at AND d.actor = f.actor
  WHERE ip_network(d.source_ip, $ipv4_prefix, $ipv6_prefix) = f.network
    AND NOT ($ignore_system_principals AND is_system_principal(d.user_name, d.user_groups, $admin_groups, $admin_users, $admins_are_people))
)
SELECT cluster, received_at, audit_id, actor, source_ip, network, verb, object, code,
       actor || ' acted from ' || source_ip || ' (network ' || network || ', never used in the baseline): ' || verb || ' ' || object
       || outcome_suffix(code) AS summary
FROM firsts
WHERE nth = 1
