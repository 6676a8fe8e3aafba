/*
title: Container adding Linux capabilities
engines: [duckdb, spark]
description: >
  A Pod created with a container (spec.containers) that adds Linux capabilities
  (securityContext.capabilities.add); `all_pod_specs` also reads workload templates, updates and patches, and
  init and ephemeral containers. Sigma's selection `capabilities: '*'` names a field the audit Event does not
  have; what it means is the containers' securityContext.capabilities, read here.
severity: low
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  sigma: [Privileged Container Deployed]
audit:
  Privileged Container Deployed:
    upstream: 'Create of a Pod whose event has a top-level field `capabilities`: the audit Event has none, so the rule as written never fires; its description means containers that add Linux capabilities.'
    ours: A Pod create with a container whose securityContext.capabilities.add is not empty; any outcome, any user.
    difference: 'Upstream''s selection never matches; this reads what it means; `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
needs: [pod_specs]
*/
SELECT *, 'capabilities ' || array_to_string(capabilities, ', ') || ' added in ' || resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') || outcome_suffix(code) AS summary
FROM reported_workload_specs(false, false, $admin_groups, $admin_users, all_pod_specs := $all_pod_specs)
WHERE in_window(received_at, date, $since, $until)
  AND array_length(capabilities) > 0
  AND ($cluster IS NULL OR cluster = $cluster)
