/*
title: Pod in the node's host PID namespace
engines: [duckdb, spark]
description: >
  A Pod created with spec.hostPID: true, unless every image is in `allowed_repositories`.
  Whatever the outcome and whoever asked (Falco's rule); `ignore_failed` and `ignore_system` leave out refused
  or failed requests and the control plane acting in its own namespaces (Panther's filters).
  `all_pod_specs` also reads workload templates, updates and patches, and init and ephemeral containers.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create HostPid Pod]
  panther: [Kubernetes.Pod.Host.PID, GCP.K8s.Pod.Using.Host.PID.Namespace]
params:
  allowed_repositories: {type: "varchar[]", default: [], help: "Image repositories allowed the host PID namespace"}
audit:
  Create HostPid Pod:
    upstream: Pod create with spec.hostPID true, unless every image is in k8s_audit_hostpid_images (empty); any outcome, any user.
    ours: The same; `allowed_repositories` empty.
    difference: None by default; `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).
  Kubernetes.Pod.Host.PID:
    upstream: Pod create with hostPID true, not failed, and not a system principal (is_system_principal) in a system namespace (kube-system, kube-public, kube-node-lease, gke-system).
    ours: Any outcome, any user (Falco's rule).
    difference: 'Also failed creates and the control plane in its namespaces (Falco''s rule counts both); `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
    params:
      ignore_failed: true
      ignore_system: true
  GCP.K8s.Pod.Using.Host.PID.Namespace:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE pod create or update with hostPID true.'
    ours: Falco's and Panther's Kubernetes rules (above), which run by default.
    difference: Upstream runs nothing by default for this rule.
    params:
      ignore_failed: true
      ignore_system: true
needs: [pod_specs]
*/
SELECT *, 'host PID namespace used by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($ignore_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories,
                             all_pod_specs := $all_pod_specs, admins_are_people := $admins_are_people)
WHERE in_window(received_at, date, $since, $until)
  AND host_pid
  AND ($cluster IS NULL OR cluster = $cluster)
