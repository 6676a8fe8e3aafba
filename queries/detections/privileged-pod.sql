/*
title: Privileged pod — a container runs privileged
engines: [duckdb, spark]
description: >
  A Pod, or a workload whose template makes Pods, with any container (init and ephemeral ones too) whose
  securityContext.privileged is true, or (unless `count_root` is false) that runs as root (runAsUser 0 or
  runAsNonRoot false, as Panther counts it). Images in `allowed_repositories` (Falco's list) are exempt
  only when every container's image is. Refused or failed requests are left out unless `include_failed`,
  and so is the control plane acting in its own namespaces unless `ignore_system` is false (Panther's
  filters). Falco reads only spec.containers of Pod creates; this also reads initContainers,
  ephemeralContainers and workload templates, and updates and patches that make a container privileged.
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611, T1610]
reproduces:
  falco: [Create Privileged Pod]
  panther: [Kubernetes.Pod.Privileged.Created, GCP.K8S.Privileged.Pod.Created]
params:
  allowed_repositories: {type: "varchar[]", default: [falcosecurity/falco, docker.io/falcosecurity/falco, public.ecr.aws/falcosecurity/falco, docker.io/calico/node, calico/node, docker.io/cloudnativelabs/kube-router, docker.io/docker/ucp-agent, docker.io/mesosphere/mesos-slave, docker.io/rook/toolbox, docker.io/sysdig/sysdig, gcr.io/google_containers/kube-proxy, gcr.io/google-containers/startup-script, gcr.io/projectcalico-org/node, gke.gcr.io/kube-proxy, gke.gcr.io/gke-metadata-server, gke.gcr.io/netd-amd64, gke.gcr.io/watcher-daemonset, gcr.io/google-containers/prometheus-to-sd, registry.k8s.io/ip-masq-agent-amd64, registry.k8s.io/kube-proxy, registry.k8s.io/prometheus-to-sd, quay.io/calico/node, sysdig/sysdig, registry.k8s.io/dns/k8s-dns-node-cache, mcr.microsoft.com/oss/kubernetes/kube-proxy], help: "Image repositories allowed to run privileged (Falco k8s_audit_privileged_images)"}
  count_root: {type: boolean, default: true, help: "Also containers running as root (Panther); false gives Falco's condition"}
needs: [pod_specs]
*/
SELECT *, CASE WHEN privileged THEN 'privileged' ELSE 'root' END || ' container in ' || workload || ' (' || array_to_string(images, ', ') || ')' || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories)
WHERE in_window(received_at, date, $since, $until)
  AND (privileged OR ($count_root AND runs_as_root))
  AND ($cluster IS NULL OR cluster = $cluster)
