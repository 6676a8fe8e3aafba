/*
title: Pod with a hostPath volume
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
params:
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
  include_failed: {type: boolean, default: false, help: Also requests that were refused or failed (Falco's attempts)}
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities in system namespaces}
needs:
  - {level: Request, resources: [pods, pods/ephemeralcontainers, replicationcontrollers, podtemplates], verbs: [create, update, patch]}
  - {level: Request, group: apps, resources: [deployments, daemonsets, statefulsets, replicasets], verbs: [create, update, patch]}
  - {level: Request, group: batch, resources: [jobs, cronjobs], verbs: [create, update, patch]}
*/
SELECT *, 'host path ' || array_to_string(host_paths, ', ') || ' mounted by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users)
WHERE in_window(received_at, date, $since, $until)
  AND len(host_paths) > 0
  AND ($cluster IS NULL OR cluster = $cluster)
