/*
title: Pod adding dangerous Linux capabilities
engines: [duckdb, spark]
description: >
  A Pod or workload template whose containers add a capability from `dangerous` (SYS_ADMIN, NET_ADMIN,
  BPF, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH, DAC_OVERRIDE): container escape and kernel access. Refused
  requests, system namespaces and the control plane are left out (Panther).
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611, T1068]
reproduces:
  panther: [Kubernetes.Pod.Dangerous.Capabilities]
params:
  dangerous: {type: "varchar[]", default: [SYS_ADMIN, NET_ADMIN, BPF, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH, DAC_OVERRIDE], help: Capabilities that count as dangerous}
audit:
  Kubernetes.Pod.Dangerous.Capabilities:
    upstream: Create of a Pod, not failed, outside system namespaces, not by a system principal, a container of which adds SYS_ADMIN, NET_ADMIN, BPF, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH or DAC_OVERRIDE.
    ours: The same capabilities (`dangerous`) and filters.
    difference: 'Also init and ephemeral containers, workload templates (Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs) and updates and patches: the same pod spec, made another way;
      and a `system:` user in system:masters (audit2rbac''s system:admin) counts as a person here (`actor_kind`), not as a system principal, so it is not left out.'
needs: [pod_specs]
*/
SELECT *, 'capabilities ' || array_to_string(list_filter(capabilities, lambda c: list_contains($dangerous, c)), ', ') || ' added in ' || resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') AS summary
FROM workload_specs
WHERE in_window(received_at, date, $since, $until)
  AND list_has_any(capabilities, $dangerous)
  AND succeeded
  AND NOT is_system_namespace(namespace)
  AND NOT is_system_principal(authenticated_user, user_groups, $admin_groups, $admin_users)
  AND ($cluster IS NULL OR cluster = $cluster)
