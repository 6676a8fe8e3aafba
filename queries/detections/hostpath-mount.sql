/*
title: Pod with a hostPath volume
engines: [duckdb, spark]
description: >
  Any Pod created with a volume that mounts a directory of the node (a hostPath volume), whatever the path.
  Whatever the outcome and whoever asked (Sigma's rule); `ignore_failed` and `ignore_system` leave out refused
  or failed requests and the control plane acting in its own namespaces (Panther's filters). `all_pod_specs`
  also reads workload templates, updates and patches, and init and ephemeral containers (the same volume, made
  another way).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  sigma: [Container With A hostPath Mount Created]
  panther: [Kubernetes.Pod.HostPath.Volume]
audit:
  Container With A hostPath Mount Created:
    upstream: 'Create of pods with a top-level field hostPath: the audit Event has none, so as written it never fires; it means Pods with a hostPath volume.'
    ours: Pod creates with any hostPath volume, any outcome, any user.
    difference: 'Upstream''s selection never matches; this reads what it means; `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
  Kubernetes.Pod.HostPath.Volume:
    upstream: Pod create with any hostPath volume, not failed, and not a system principal (is_system_principal) in a system namespace (kube-system, kube-public, kube-node-lease, gke-system).
    ours: Any outcome, any user (Sigma's rule, read as meant).
    difference: 'Also failed creates and the control plane in its namespaces; `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
    params:
      ignore_failed: true
      ignore_system: true
needs: [pod_specs]
*/
SELECT *, 'host path ' || array_to_string(host_paths, ', ') || ' mounted by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($ignore_failed, $ignore_system, $admin_groups, $admin_users, all_pod_specs := $all_pod_specs,
                             admins_are_people := $admins_are_people)
WHERE in_window(received_at, date, $since, $until)
  AND array_length(host_paths) > 0
  AND ($cluster IS NULL OR cluster = $cluster)
