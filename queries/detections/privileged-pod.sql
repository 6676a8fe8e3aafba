/*
title: Privileged pod — a container runs privileged
engines: [duckdb, spark]
description: >
  A Pod created with a container (spec.containers) whose securityContext.privileged is true, or (unless
  `count_root` is false) that runs as root (runAsUser 0 or runAsNonRoot false, as Panther counts it),
  whatever the outcome and whoever asked (Falco). Images in `allowed_repositories` (empty; Falco's list is
  in the audit) are exempt only when every container's image is. `ignore_failed` and `ignore_system` leave
  out refused or failed requests and the control plane acting in its own namespaces (Panther's filters).
  Like Falco and Panther, this reads spec.containers of Pod creates; `all_pod_specs` also reads workload
  templates, updates and patches, and init and ephemeral containers (a privileged initContainer or
  DaemonSet is as privileged).
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611, T1610]
reproduces:
  falco: [Create Privileged Pod]
  panther: [Kubernetes.Pod.Privileged.Created, GCP.K8S.Privileged.Pod.Created]
params:
  allowed_repositories: {type: "varchar[]", default: [], help: "Image repositories allowed to run privileged (Falco's k8s_audit_privileged_images: see the audit)"}
  count_root: {type: boolean, default: true, help: "Also containers running as root (Panther); false gives Falco's condition"}
audit:
  Create Privileged Pod:
    upstream: Pod create with a container whose securityContext.privileged is true, unless every image is in k8s_audit_privileged_images (25 repositories); any outcome, any user.
    ours: A container privileged or running as root (runAsUser 0, runAsNonRoot false), any outcome, any user, `allowed_repositories` empty (Panther's rule has no image list).
    difference: 'Also root containers and the 25 platform images (Panther''s rule counts both); `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
    params:
      count_root: false
      allowed_repositories: [falcosecurity/falco, docker.io/falcosecurity/falco, public.ecr.aws/falcosecurity/falco, docker.io/calico/node, calico/node, docker.io/cloudnativelabs/kube-router, docker.io/docker/ucp-agent,
        docker.io/mesosphere/mesos-slave, docker.io/rook/toolbox, docker.io/sysdig/sysdig, gcr.io/google_containers/kube-proxy, gcr.io/google-containers/startup-script, gcr.io/projectcalico-org/node, gke.gcr.io/kube-proxy,
        gke.gcr.io/gke-metadata-server, gke.gcr.io/netd-amd64, gke.gcr.io/watcher-daemonset, gcr.io/google-containers/prometheus-to-sd, registry.k8s.io/ip-masq-agent-amd64, registry.k8s.io/kube-proxy, registry.k8s.io/prometheus-to-sd,
        quay.io/calico/node, sysdig/sysdig, registry.k8s.io/dns/k8s-dns-node-cache, mcr.microsoft.com/oss/kubernetes/kube-proxy]
  Kubernetes.Pod.Privileged.Created:
    upstream: Pod create with a container that is privileged or runs as root, not failed, and not a system principal (is_system_principal) in a system namespace (kube-system, kube-public, kube-node-lease,
      gke-system).
    ours: The same containers, any outcome, any user (Falco's rule).
    difference: 'Also failed creates and the control plane in its namespaces (Falco''s rule counts both); `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
    params:
      ignore_failed: true
      ignore_system: true
  GCP.K8S.Privileged.Pod.Created:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE pod create with a privileged or root container, not failed, not by a GCP service account, outside system namespaces.'
    ours: Falco's and Panther's Kubernetes rules (above), which run by default.
    difference: Upstream runs nothing by default for this rule.
    params:
      ignore_failed: true
      ignore_system: true
needs: [pod_specs]
*/
SELECT *, CASE WHEN privileged THEN 'privileged' ELSE 'root' END || ' container in ' || workload || ' (' || array_to_string(images, ', ') || ')' || outcome_suffix(code) AS summary
FROM reported_workload_specs($ignore_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories,
                             all_pod_specs := $all_pod_specs, admins_are_people := $admins_are_people)
WHERE in_window(received_at, date, $since, $until)
  AND (privileged OR ($count_root AND runs_as_root))
  AND ($cluster IS NULL OR cluster = $cluster)
