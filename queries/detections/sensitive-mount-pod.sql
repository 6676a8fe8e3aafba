/*
title: Pod mounting a sensitive host path (/proc, the container runtime socket, /etc …)
engines: [duckdb, spark]
description: >
  A Pod created with a hostPath volume whose path is one of `sensitive_paths` (Falco's list,
  matched exactly) unless every image is in `allowed_repositories`, whatever the outcome and whoever asked
  (Falco). `ignore_failed` and `ignore_system` give the filters of Panther's GKE rule (shipped disabled);
  `all_pod_specs` also reads workload templates, updates and patches, and init and ephemeral containers.
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create Sensitive Mount Pod]
  panther: [GCP.K8S.Pod.Create.Or.Modify.Host.Path.Volume.Mount]
params:
  sensitive_paths: {type: "varchar[]", default: [/proc, /var/run/docker.sock, /, /etc, /root, /var/run/crio/crio.sock, /run/containerd/containerd.sock, /home/admin, /var/lib/kubelet, /var/lib/kubelet/pki, /etc/kubernetes, /etc/kubernetes/manifests], help: "Host paths that give away the node (Falco's sensitive_vol_mount)"}
  allowed_repositories: {type: "varchar[]", default: [falcosecurity/falco, docker.io/falcosecurity/falco, public.ecr.aws/falcosecurity/falco, docker.io/sysdig/sysdig, sysdig/sysdig, gcr.io/google_containers/hyperkube, gcr.io/google_containers/kube-proxy, docker.io/calico/node, docker.io/rook/toolbox, docker.io/cloudnativelabs/kube-router, docker.io/consul, docker.io/datadog/docker-dd-agent, docker.io/datadog/agent, docker.io/docker/ucp-agent, docker.io/gliderlabs/logspout, docker.io/netdata/netdata, docker.io/google/cadvisor, docker.io/prom/node-exporter, amazon/amazon-ecs-agent, prom/node-exporter, amazon/cloudwatch-agent], help: "Image repositories allowed these mounts (Falco k8s_audit_sensitive_mount_images)"}
audit:
  Create Sensitive Mount Pod:
    upstream: Pod create with a hostPath volume whose path is one of 12 (/proc, /var/run/docker.sock, /, /etc, /root, the crio and containerd sockets, /home/admin, /var/lib/kubelet, /var/lib/kubelet/pki,
      /etc/kubernetes, /etc/kubernetes/manifests), unless every image is in k8s_audit_sensitive_mount_images; any outcome, any user.
    ours: The same 12 paths (`sensitive_paths`) and images.
    difference: None by default; `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).
  GCP.K8S.Pod.Create.Or.Modify.Host.Path.Volume.Mount:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE pod create or update mounting one of 14 host paths (Falco''s 12, /var/lib/docker/overlay2, /etc/kubernetes/pki), not failed, outside system
      namespaces.'
    ours: Falco's rule (above), which runs by default.
    difference: Upstream runs nothing by default for this rule.
    params:
      sensitive_paths: [/proc, /var/run/docker.sock, /, /etc, /root, /var/run/crio/crio.sock, /run/containerd/containerd.sock, /home/admin, /var/lib/kubelet, /var/lib/kubelet/pki, /etc/kubernetes, /etc/kubernetes/manifests,
        /var/lib/docker/overlay2, /etc/kubernetes/pki]
      ignore_failed: true
      ignore_system: true
needs: [pod_specs]
*/
SELECT *, 'host path ' || array_to_string(list_filter(host_paths, lambda p: list_contains($sensitive_paths, p)), ', ') || ' mounted by ' || workload || outcome_suffix(code) AS summary
FROM reported_workload_specs($ignore_failed, $ignore_system, $admin_groups, $admin_users, allowed_repositories := $allowed_repositories,
                             all_pod_specs := $all_pod_specs, admins_are_people := $admins_are_people)
WHERE in_window(received_at, date, $since, $until)
  AND list_has_any(host_paths, $sensitive_paths)
  AND ($cluster IS NULL OR cluster = $cluster)
