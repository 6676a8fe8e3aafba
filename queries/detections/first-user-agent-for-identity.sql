/*
title: Identity using a client it never used (a service account suddenly using kubectl or curl)
engines: [duckdb, spark]
stateful: first-seen
description: >
  A request by an identity (the effective user; the control plane and the cloud's own callers left out unless
  `ignore_system_principals` is false) with a client it never used during the `baseline` before the window,
  although the baseline saw it acting: a workload's token taken out of its pod and used with kubectl, curl or a
  script. The client is the user agent's product, its text before the first `/` or space, lower-cased
  (`kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46` → `kubectl`), so a version upgrade is not new; a request
  without a user agent is the client `(none)`. An identity the baseline never saw is left out (it has no habits
  yet). Only the first request of each identity and client is reported; the baseline is read, never reported.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1078, T1528]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Metadata}
*/
WITH seen AS (
  SELECT DISTINCT cluster, actor, coalesce(nullif(lower(regexp_extract(user_agent, '^[^/ ]+', 0)), ''), '(none)') AS client
  FROM (SELECT DISTINCT cluster, actor, user_agent
        FROM final_requests
        WHERE in_baseline(received_at, date, $since, $baseline)
          AND ($cluster IS NULL OR cluster = $cluster))
),
known AS (SELECT DISTINCT cluster, actor FROM seen),
requests AS (
  SELECT *, coalesce(nullif(lower(regexp_extract(user_agent, '^[^/ ]+', 0)), ''), '(none)') AS client
  FROM final_requests
  WHERE in_window(received_at, date, $since, $until)
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
firsts AS (
  SELECT *, row_number() OVER (PARTITION BY cluster, actor, client ORDER BY received_at, audit_id) AS nth
  FROM requests r
  WHERE EXISTS (SELECT 1 FROM known k WHERE k.cluster = r.cluster AND k.actor = r.actor)
    AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.cluster = r.cluster AND s.actor = r.actor AND s.client = r.client)
)
SELECT *, actor || ' used ' || client || ' for the first time (' || coalesce(user_agent, 'no user agent') || '): ' || verb || ' ' || object
          || outcome_suffix(code) AS summary
FROM firsts
WHERE nth = 1
