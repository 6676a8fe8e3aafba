/*
title: Container adding Linux capabilities
engines: [duckdb, spark]
description: >
  A Pod or workload template in which a container adds Linux capabilities
  (securityContext.capabilities.add). Sigma's selection `capabilities: '*'` names a field the audit Event
  does not have; what it means is the containers' securityContext.capabilities, read here.
severity: low
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  sigma: [Privileged Container Deployed]
audit:
  Privileged Container Deployed:
    upstream: 'Create of a Pod whose event has a top-level field `capabilities`: the audit Event has none, so the rule as written never fires; its description means containers that add Linux capabilities.'
    ours: Any container (init and ephemeral ones too) of a Pod or workload template, created, updated or patched, whose securityContext.capabilities.add is not empty; any outcome.
    difference: 'Upstream''s selection never matches; this reads what it means, and also init and ephemeral containers, workload templates (Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs)
      and updates and patches: the same pod spec, made another way.'
needs: [pod_specs]
*/
SELECT *, 'capabilities ' || array_to_string(capabilities, ', ') || ' added in ' || resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') || outcome_suffix(code) AS summary
FROM workload_specs
WHERE in_window(received_at, date, $since, $until)
  AND array_length(capabilities) > 0
  AND ($cluster IS NULL OR cluster = $cluster)
