/*
title: First read of secrets in a namespace by an identity
engines: [duckdb, spark]
stateful: first-seen
description: >
  An identity (the effective user: a person or a workload; the control plane and the cloud's own callers left out
  unless `ignore_system_principals` is false) successfully reads Secrets (get, list or watch) in a namespace where
  it read none during the `baseline` before the window: a stolen token trying its reach, a person browsing
  credentials they never needed. A list or watch across all namespaces counts as its own "namespace" (all
  namespaces). Only the first such read of each identity and namespace is reported (later reads are no longer
  first); reads in the baseline are read, never reported. Elastic's "new terms" rules, over the lake's history.
severity: medium
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Metadata, resources: [secrets], verbs: [get, list, watch]}
*/
WITH seen AS (
  SELECT DISTINCT cluster, actor, coalesce(namespace, '') AS scope
  FROM final_requests
  WHERE in_baseline(received_at, date, $since, $baseline)
    AND resource = 'secrets' AND subresource IS NULL AND verb IN ('get', 'list', 'watch') AND code BETWEEN 200 AND 299
    AND ($cluster IS NULL OR cluster = $cluster)
),
reads AS (
  SELECT *, coalesce(namespace, '') AS scope
  FROM final_requests
  WHERE in_window(received_at, date, $since, $until)
    AND resource = 'secrets' AND subresource IS NULL AND verb IN ('get', 'list', 'watch') AND code BETWEEN 200 AND 299
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
firsts AS (
  SELECT *, row_number() OVER (PARTITION BY cluster, actor, scope ORDER BY received_at, audit_id) AS nth
  FROM reads r
  WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.cluster = r.cluster AND s.actor = r.actor AND s.scope = r.scope)
)
SELECT *, coalesce(actor, '(no user)') || ' read secrets in ' || coalesce(namespace, 'all namespaces') || ' for the first time ('
          || verb || ' ' || object || '; none in the baseline)' AS summary
FROM firsts
WHERE nth = 1
