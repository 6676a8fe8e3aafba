/*
title: Pod mounting a sensitive host path (/proc, the container runtime socket, /etc …)
engines: [duckdb, spark]
description: >
  A Pod or workload template with a hostPath volume whose path is one of `sensitive_paths` (Falco's list
  and Panther's GKE list, matched exactly as both do) unless every image is in `allowed_repositories`.
  Refused or failed requests are left out unless `include_failed`, and so is the control plane acting in
  its own namespaces unless `ignore_system` is false (Panther's filters).
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create Sensitive Mount Pod]
  panther: [GCP.K8S.Pod.Create.Or.Modify.Host.Path.Volume.Mount]
params:
  sensitive_paths: {type: "varchar[]", default: [/proc, /var/run/docker.sock, /, /etc, /root, /var/run/crio/crio.sock, /run/containerd/containerd.sock, /home/admin, /var/lib/kubelet, /var/lib/kubelet/pki, /etc/kubernetes, /etc/kubernetes/manifests, /var/lib/docker/overlay2, /etc/kubernetes/pki], help: Host paths that give away the node}
  allowed_repositories: {type: "varchar[]", default: [falcosecurity/falco, docker.io/falcosecurity/falco, public.ecr.aws/falcosecurity/falco, docker.io/sysdig/sysdig, sysdig/sysdig, gcr.io/google_containers/hyperkube, gcr.io/google_containers/kube-proxy, docker.io/calico/node, docker.io/rook/toolbox, docker.io/cloudnativelabs/kube-router, docker.io/consul, docker.io/datadog/docker-dd-agent, docker.io/datadog/agent, docker.io/docker/ucp-agent, docker.io/gliderlabs/logspout, docker.io/netdata/netdata, docker.io/google/cadvisor, docker.io/prom/node-exporter, amazon/amazon-ecs-agent, prom/node-exporter, amazon/cloudwatch-agent], help: "Image repositories allowed these mounts (Falco k8s_audit_sensitive_mount_images)"}
needs: [pod_specs]
*/
SELECT *, 'host path ' || array_to_string(list_filter(host_paths, lambda p: list_contains($sensitive_paths, p)), ', ') || ' mounted by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($include_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories)
WHERE in_window(received_at, date, $since, $until)
  AND list_has_any(host_paths, $sensitive_paths)
  AND ($cluster IS NULL OR cluster = $cluster)
