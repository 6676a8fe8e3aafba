/*
title: Pod in the node's host network
description: >
  A Pod or workload template with spec.hostNetwork: true, unless every image is in `allowed_repositories`.
  Refused or failed requests are left out unless `include_failed`, and so is the control plane acting in
  its own namespaces unless `ignore_system` is false (Panther's filters).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create HostNetwork Pod]
  panther: [Kubernetes.Pod.Host.Network, GCP.K8s.Pod.Attached.To.Node.Host.Network]
params:
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
  allowed_repositories: {type: "varchar[]", default: [gcr.io/google-containers/prometheus-to-sd, gcr.io/projectcalico-org/typha, gcr.io/projectcalico-org/node, gke.gcr.io/gke-metadata-server, gke.gcr.io/kube-proxy, gke.gcr.io/netd-amd64, registry.k8s.io/ip-masq-agent-amd64, registry.k8s.io/prometheus-to-sd], help: "Image repositories allowed the host network"}
  include_failed: {type: boolean, default: false, help: Also requests that were refused or failed (Falco's attempts)}
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities in system namespaces}
needs:
  - {level: Request, resources: [pods, pods/ephemeralcontainers, replicationcontrollers, podtemplates], verbs: [create, update, patch]}
  - {level: Request, group: apps, resources: [deployments, daemonsets, statefulsets, replicasets], verbs: [create, update, patch]}
  - {level: Request, group: batch, resources: [jobs, cronjobs], verbs: [create, update, patch]}
*/
SELECT *, 'host network used by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories)
WHERE in_window(received_at, date, $since, $until)
  AND host_network
  AND ($cluster IS NULL OR cluster = $cluster)
