/*
title: Secret read (get) by a person or a workload
engines: [duckdb, spark]
description: >
  A successful get of a Secret, by anyone, as upstream's condition (its description says service-account
  tokens are excluded, its condition excludes nothing): every kubelet and controller read too.
  `ignore_system` leaves out nodes and control-plane users, to see reads by people and workloads.
severity: high
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007]
reproduces:
  falco: [K8s Secret Get Successfully]
params:
  ignore_system: {type: boolean, default: false, help: "Leave out reads by nodes and the control plane (`actor_kind`): the kubelets and controllers that read every secret they mount"}
audit:
  K8s Secret Get Successfully:
    upstream: A ResponseComplete get of a secret with a 2xx response, by anyone (its description says service-account tokens are excluded; its condition excludes nothing).
    ours: The same, kubelets and controllers included (`ignore_system` off).
    difference: none
needs:
  - {level: Metadata, resources: [secrets], verbs: [get]}
*/
SELECT *, coalesce(actor, '(no user)') || ' read secret ' || coalesce(namespace || '/', '') || coalesce(name, '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets'
  AND subresource IS NULL
  AND verb = 'get'
  AND code BETWEEN 200 AND 299
  AND NOT ($ignore_system AND actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) IN ('node', 'system'))
  AND ($cluster IS NULL OR cluster = $cluster)
