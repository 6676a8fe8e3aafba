/*
title: RBAC permission enumeration (SelfSubjectRulesReview)
engines: [duckdb, spark]
description: >
  A client asked the API server for the list of everything it may do (kubectl auth can-i --list): the
  first step of privilege discovery. Sigma's field `apiGroup` is objectRef.apiGroup in the Event.
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1069.003, T1087.004]
reproduces:
  sigma: [RBAC Permission Enumeration Attempt]
params:
  ignore_system_users: {type: boolean, default: false, help: "Leave out service accounts, nodes and the control plane (`actor_kind`)"}
audit:
  RBAC Permission Enumeration Attempt:
    upstream: 'Verb create of selfsubjectrulesreviews with a top-level field apiGroup authorization.k8s.io: the audit Event has none (it is objectRef.apiGroup), so as written it never fires.'
    ours: Create of selfsubjectrulesreviews in objectRef.apiGroup authorization.k8s.io, any outcome, any user (`ignore_system_users` off).
    difference: Upstream's selection never matches; this reads what it means.
needs:
  - {level: Metadata, group: authorization.k8s.io, resources: [selfsubjectrulesreviews], verbs: [create]}
*/
SELECT *, coalesce(user_name, '(no user)') || ' listed its own permissions' || coalesce(' in ' || namespace, '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND verb = 'create'
  AND api_group = 'authorization.k8s.io'
  AND resource = 'selfsubjectrulesreviews'
  AND NOT ($ignore_system_users AND actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) IN ('serviceaccount', 'node', 'system'))
  AND ($cluster IS NULL OR cluster = $cluster)
