/*
title: Pod in the node's host network
engines: [duckdb, spark]
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
  allowed_repositories: {type: "varchar[]", default: [gcr.io/google-containers/prometheus-to-sd, gcr.io/projectcalico-org/typha, gcr.io/projectcalico-org/node, gke.gcr.io/gke-metadata-server, gke.gcr.io/kube-proxy, gke.gcr.io/netd-amd64, registry.k8s.io/ip-masq-agent-amd64, registry.k8s.io/prometheus-to-sd], help: "Image repositories allowed the host network"}
needs: [pod_specs]
*/
SELECT *, 'host network used by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories)
WHERE in_window(received_at, date, $since, $until)
  AND host_network
  AND ($cluster IS NULL OR cluster = $cluster)
