/*
title: Secrets listed
engines: [duckdb, spark]
description: >
  A list of Secrets (in a namespace or across all of them): every value in one response.
severity: low
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007]
reproduces:
  sigma: [Kubernetes Secrets Enumeration]
params:
  ignore_system_users: {type: boolean, default: false, help: "Leave out service accounts, nodes and the control plane (`actor_kind`: controllers that cache secrets)"}
audit:
  Kubernetes Secrets Enumeration:
    upstream: Verb list of secrets; any outcome, any user.
    ours: The same (`ignore_system_users` off).
    difference: none
needs:
  - {level: Metadata, resources: [secrets], verbs: [list]}
*/
SELECT *, coalesce(actor, '(no user)') || ' listed secrets in ' || coalesce(namespace, 'all namespaces') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets'
  AND verb = 'list'
  AND NOT ($ignore_system_users AND actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) IN ('serviceaccount', 'node', 'system'))
  AND ($cluster IS NULL OR cluster = $cluster)
