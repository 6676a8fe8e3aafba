/*
title: Pod adding dangerous Linux capabilities
engines: [duckdb, spark]
description: >
  A Pod created with a container that adds a capability from `dangerous` (SYS_ADMIN, NET_ADMIN,
  BPF, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH, DAC_OVERRIDE): container escape and kernel access. Refused
  requests, system namespaces and system principals are left out (Panther). `all_pod_specs` also reads
  workload templates, updates and patches, and init and ephemeral containers; `admins_are_people` keeps a
  person in system:masters whose name is system:… (audit2rbac's system:admin).
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
    difference: 'None by default; `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way), and `admins_are_people`
      to a `system:` user in system:masters (audit2rbac''s system:admin), counted as a person, not a system principal.'
needs: [pod_specs]
*/
SELECT *, 'capabilities ' || array_to_string(list_filter(capabilities, lambda c: list_contains($dangerous, c)), ', ') || ' added in ' || resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') AS summary
FROM reported_workload_specs(false, false, $admin_groups, $admin_users, all_pod_specs := $all_pod_specs)
WHERE in_window(received_at, date, $since, $until)
  AND list_has_any(capabilities, $dangerous)
  AND succeeded
  AND NOT is_system_namespace(namespace)
  AND NOT is_system_principal(authenticated_user, user_groups, $admin_groups, $admin_users, $admins_are_people)
  AND ($cluster IS NULL OR cluster = $cluster)
