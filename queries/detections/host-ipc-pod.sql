/*
title: Pod in the node's host IPC namespace
engines: [duckdb, spark]
description: >
  A Pod or workload template with spec.hostIPC: true, unless every image is in `allowed_repositories`.
  Refused or failed requests are left out unless `include_failed`, and so is the control plane acting in
  its own namespaces unless `ignore_system` is false (Panther's filters).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create HostIPC Pod]
  panther: [Kubernetes.Pod.Host.IPC]
params:
  allowed_repositories: {type: "varchar[]", default: [], help: "Image repositories allowed the host IPC namespace"}
needs: [pod_specs]
*/
SELECT *, 'host IPC namespace used by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories)
WHERE in_window(received_at, date, $since, $until)
  AND host_ipc
  AND ($cluster IS NULL OR cluster = $cluster)
