/*
title: Pod in the node's host network
engines: [duckdb, spark]
description: >
  A Pod created with spec.hostNetwork: true, unless every image is in `allowed_repositories`.
  Whatever the outcome and whoever asked (Falco's rule); `ignore_failed` and `ignore_system` leave out refused
  or failed requests and the control plane acting in its own namespaces (Panther's filters).
  `all_pod_specs` also reads workload templates, updates and patches, and init and ephemeral containers.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create HostNetwork Pod]
  panther: [Kubernetes.Pod.Host.Network, GCP.K8s.Pod.Attached.To.Node.Host.Network]
params:
  allowed_repositories: {type: "varchar[]", default: [], help: "Image repositories allowed the host network (Falco's k8s_audit_hostnetwork_images: see the audit)"}
audit:
  Create HostNetwork Pod:
    upstream: Pod create with spec.hostNetwork true, unless every image is in k8s_audit_hostnetwork_images (8 repositories); any outcome, any user.
    ours: The same, any outcome, any user, with `allowed_repositories` empty (Panther's rule has no image list).
    difference: 'Also the eight platform images (Panther''s rule counts them); `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
    params:
      allowed_repositories: [gcr.io/google-containers/prometheus-to-sd, gcr.io/projectcalico-org/typha, gcr.io/projectcalico-org/node, gke.gcr.io/gke-metadata-server, gke.gcr.io/kube-proxy, gke.gcr.io/netd-amd64,
        registry.k8s.io/ip-masq-agent-amd64, registry.k8s.io/prometheus-to-sd]
  Kubernetes.Pod.Host.Network:
    upstream: Pod create with hostNetwork true, not failed, and not a system principal (is_system_principal) in a system namespace (kube-system, kube-public, kube-node-lease, gke-system).
    ours: Any outcome, any user (Falco's rule).
    difference: 'Also failed creates and the control plane in its namespaces (Falco''s rule counts both); `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
    params:
      ignore_failed: true
      ignore_system: true
  GCP.K8s.Pod.Attached.To.Node.Host.Network:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE pod create or update with hostNetwork true.'
    ours: Falco's and Panther's Kubernetes rules (above), which run by default.
    difference: Upstream runs nothing by default for this rule.
    params:
      ignore_failed: true
      ignore_system: true
needs: [pod_specs]
*/
SELECT *, 'host network used by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($ignore_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories,
                             all_pod_specs := $all_pod_specs, admins_are_people := $admins_are_people)
WHERE in_window(received_at, date, $since, $until)
  AND host_network
  AND ($cluster IS NULL OR cluster = $cluster)
