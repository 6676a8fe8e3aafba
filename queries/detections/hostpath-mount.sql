/*
title: Pod with a hostPath volume
engines: [duckdb, spark]
description: >
  Any Pod or workload template that mounts a directory of the node (a hostPath volume), whatever the path.
  Refused or failed requests are left out unless `include_failed`, and so is the control plane acting in
  its own namespaces unless `ignore_system` is false (Panther's filters). Sigma matches `hostPath: '*'` on
  Pod creates; workload templates, updates and patches are read too.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  sigma: [Container With A hostPath Mount Created]
  panther: [Kubernetes.Pod.HostPath.Volume]
needs: [pod_specs]
*/
SELECT *, 'host path ' || array_to_string(host_paths, ', ') || ' mounted by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users)
WHERE in_window(received_at, date, $since, $until)
  AND array_length(host_paths) > 0
  AND ($cluster IS NULL OR cluster = $cluster)
