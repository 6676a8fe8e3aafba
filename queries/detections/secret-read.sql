/*
title: Secret read (get) by a person or a workload
engines: [duckdb, spark]
description: >
  A successful get of a Secret. Upstream's description says service-account tokens are excluded but its
  condition excludes nothing, so it fires on every kubelet and controller read; what it means is reads by
  someone, so nodes and control-plane users are left out unless `include_system` is true (then it is the
  upstream condition exactly).
severity: high
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007]
reproduces:
  falco: [K8s Secret Get Successfully]
params:
  include_system: {type: boolean, default: false, help: Also reads by nodes and control-plane users (upstream's literal condition)}
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
  AND ($include_system OR actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) NOT IN ('node', 'system'))
  AND ($cluster IS NULL OR cluster = $cluster)
