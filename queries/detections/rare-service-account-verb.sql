/*
title: A service account doing something it never did (a verb and resource new to it)
engines: [duckdb, spark]
stateful: rare
description: >
  A request by a service account (the control plane's own, in kube-system, left out unless
  `ignore_system_principals` is false) with a verb and resource (with its subresource; the path for a
  non-resource URL) it never requested during the `baseline` before the window, although the baseline saw it
  acting: workloads repeat themselves, so a token that starts creating pods, reading secrets or exec'ing has
  probably left its workload. Refused requests count on both sides: an attempt is a habit too, and a stolen token
  probing is news. A service account the baseline never saw is left out (it has no habits yet). Only the first
  request of each account, verb and resource is reported; the baseline is read, never reported.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1078.004, T1528]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Metadata}
*/
WITH seen AS (
  SELECT DISTINCT cluster, actor, verb, coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1), '') AS action
  FROM final_requests
  WHERE in_baseline(received_at, date, $since, $baseline)
    AND actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) = 'serviceaccount'
    AND ($cluster IS NULL OR cluster = $cluster)
),
known AS (SELECT DISTINCT cluster, actor FROM seen),
requests AS (
  SELECT *, coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1), '') AS action
  FROM final_requests
  WHERE in_window(received_at, date, $since, $until)
    AND actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) = 'serviceaccount'
    AND NOT ($ignore_system_principals AND is_system_principal(actor, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
firsts AS (
  SELECT *, row_number() OVER (PARTITION BY cluster, actor, verb, action ORDER BY received_at, audit_id) AS nth
  FROM requests r
  WHERE EXISTS (SELECT 1 FROM known k WHERE k.cluster = r.cluster AND k.actor = r.actor)
    AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.cluster = r.cluster AND s.actor = r.actor AND s.verb IS NOT DISTINCT FROM r.verb AND s.action = r.action)
)
SELECT *, actor || ' did ' || coalesce(verb, '?') || ' ' || action || ' for the first time (' || object || ')' || outcome_suffix(code) AS summary
FROM firsts
WHERE nth = 1
