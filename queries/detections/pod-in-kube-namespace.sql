/*
title: Pod created in kube-system or kube-public
engines: [duckdb, spark]
description: >
  A Pod created directly in a system namespace (`namespaces`: Panther's four), unless every image is one
  the platform runs there (Falco's allowed_kube_namespace_image_list).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1036.005]
reproduces:
  falco: [Pod Created in Kube Namespace]
  sigma: [Creation Of Pod In System Namespace]
  panther: [Kubernetes.Pod.SystemNamespace]
params:
  namespaces: {type: "varchar[]", default: [kube-system, kube-public, kube-node-lease, gke-system], help: "System namespaces (Falco: kube-system and kube-public)"}
  allowed_repositories: {type: "varchar[]", default: [gcr.io/google-containers/prometheus-to-sd, gcr.io/projectcalico-org/node, gke.gcr.io/addon-resizer, gke.gcr.io/heapster, gke.gcr.io/gke-metadata-server, registry.k8s.io/ip-masq-agent-amd64, registry.k8s.io/kube-apiserver, gke.gcr.io/kube-proxy, gke.gcr.io/netd-amd64, gke.gcr.io/watcher-daemonset, registry.k8s.io/addon-resizer, registry.k8s.io/prometheus-to-sd, registry.k8s.io/k8s-dns-dnsmasq-nanny-amd64, registry.k8s.io/k8s-dns-kube-dns-amd64, registry.k8s.io/k8s-dns-sidecar-amd64, registry.k8s.io/metrics-server-amd64, kope/kube-apiserver-healthcheck], help: "Image repositories expected in kube namespaces (Sigma has none: pass an empty list)"}
  include_failed: {type: boolean, default: false, help: Also refused or failed requests}
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities}
needs: [pod_specs]
*/
SELECT *, 'pod ' || coalesce(name, '') || ' created in ' || namespace || ' (' || array_to_string(images, ', ') || ')' || outcome_suffix(code) AS summary
FROM workload_specs
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'pods'
  AND subresource IS NULL
  AND verb = 'create'
  AND list_contains($namespaces, namespace)
  AND NOT coalesce(array_length(repositories) > 0 AND list_has_all($allowed_repositories, repositories), false)
  AND ($include_failed OR succeeded)
  AND NOT ($ignore_system AND is_system_principal(authenticated_user, user_groups, $admin_groups, $admin_users))
  AND ($cluster IS NULL OR cluster = $cluster)
