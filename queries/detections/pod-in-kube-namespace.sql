/*
title: Pod created in kube-system or kube-public
engines: [duckdb, spark]
description: >
  A Pod created in a system namespace (`namespaces`: Panther's four, which hold Falco's two and Sigma's
  one), whatever the outcome, by anyone, a subresource such as pods/binding too (Sigma's selection does not
  look at it), read at Metadata level (the images, when the body is logged, are only for
  `allowed_repositories`). Falco's image list, the subresources, failed creates and system principals are
  each an upstream's exclusion: `allowed_repositories`, `ignore_subresources`, `ignore_failed`,
  `ignore_system_principals` (the audit gives each rule's values).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1036.005]
reproduces:
  falco: [Pod Created in Kube Namespace]
  sigma: [Creation Of Pod In System Namespace]
  panther: [Kubernetes.Pod.SystemNamespace]
params:
  namespaces: {type: "varchar[]", default: [kube-system, kube-public, kube-node-lease, gke-system], help: "System namespaces (Falco: kube-system and kube-public)"}
  allowed_repositories: {type: "varchar[]", default: [], help: "Image repositories expected in kube namespaces (Falco's allowed_kube_namespace_image_list: see the audit)"}
  ignore_subresources: {type: boolean, default: false, help: "Leave out subresources (pods/binding, pods/eviction), which Sigma's selection counts"}
audit:
  Pod Created in Kube Namespace:
    upstream: Pod create (not a subresource) in kube-system or kube-public, unless every image is in allowed_kube_namespace_image_list (17 repositories); any outcome, any user.
    ours: Create of pods, a subresource too, in kube-system, kube-public, kube-node-lease or gke-system; any outcome, any user; `allowed_repositories` empty.
    difference: Also the two other system namespaces, subresources (binding, eviction) and the 17 platform images (Sigma's and Panther's rules count them).
    params:
      namespaces: [kube-system, kube-public]
      allowed_repositories: [gcr.io/google-containers/prometheus-to-sd, gcr.io/projectcalico-org/node, gke.gcr.io/addon-resizer, gke.gcr.io/heapster, gke.gcr.io/gke-metadata-server, registry.k8s.io/ip-masq-agent-amd64,
        registry.k8s.io/kube-apiserver, gke.gcr.io/kube-proxy, gke.gcr.io/netd-amd64, gke.gcr.io/watcher-daemonset, registry.k8s.io/addon-resizer, registry.k8s.io/prometheus-to-sd, registry.k8s.io/k8s-dns-dnsmasq-nanny-amd64,
        registry.k8s.io/k8s-dns-kube-dns-amd64, registry.k8s.io/k8s-dns-sidecar-amd64, registry.k8s.io/metrics-server-amd64, kope/kube-apiserver-healthcheck]
      ignore_subresources: true
  Creation Of Pod In System Namespace:
    upstream: Verb create of pods in kube-system, whatever the subresource; any outcome, any user.
    ours: As above.
    difference: Also kube-public, kube-node-lease and gke-system (Falco's and Panther's rules count them).
    params:
      namespaces: [kube-system]
  Kubernetes.Pod.SystemNamespace:
    upstream: Pod create, not a subresource, not failed, not by a system principal, in kube-system, kube-public, kube-node-lease or gke-system.
    ours: As above.
    difference: Also subresources, failed creates and system principals (Sigma's and Falco's rules count them).
    params:
      ignore_subresources: true
      ignore_failed: true
      ignore_system_principals: true
needs:
  - {level: Metadata, resources: [pods, pods/binding, pods/eviction], verbs: [create]}
*/
SELECT *, 'pod ' || coalesce(name, json_extract_string(response_object, '$.metadata.name'), json_extract_string(request_object, '$.metadata.name'), json_extract_string(request_object, '$.metadata.generateName') || '…', '(unnamed)') || coalesce('/' || subresource, '') || ' created in ' || namespace
         || coalesce(' (' || nullif(array_to_string(images, ', '), '') || ')', '') || outcome_suffix(code) AS summary
FROM (SELECT *, list_filter(list_transform(coalesce(CAST(json_extract(coalesce(request_object, response_object), '$.spec.containers') AS JSON[]), []),
                                           lambda c: json_extract_string(c, '$.image')), lambda i: i IS NOT NULL) AS images
      FROM final_requests)
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'pods'
  AND NOT ($ignore_subresources AND subresource IS NOT NULL)
  AND verb = 'create'
  AND list_contains($namespaces, namespace)
  AND NOT coalesce(subresource IS NULL AND array_length(images) > 0
                   AND list_has_all($allowed_repositories, list_transform(images, lambda i: image_repository(i))), false)
  AND NOT ($ignore_failed AND NOT (coalesce(code, 200) < 400 AND coalesce(json_extract_string(response_object, '$.status'), '') <> 'Failure'))
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND ($cluster IS NULL OR cluster = $cluster)
