/*
title: Service account created in kube-system or kube-public
engines: [duckdb, spark]
description: >
  A ServiceAccount created in a system namespace by anyone, other than the controllers' own accounts
  (Falco's known_sa_list).
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1136]
reproduces:
  falco: [Service Account Created in Kube Namespace]
params:
  known_service_accounts: {type: "varchar[]", default: [coredns, coredns-autoscaler, cronjob-controller, daemon-set-controller, deployment-controller, disruption-controller, endpoint-controller, endpointslice-controller, endpointslicemirroring-controller, generic-garbage-collector, horizontal-pod-autoscaler, job-controller, namespace-controller, node-controller, persistent-volume-binder, pod-garbage-collector, pv-protection-controller, pvc-protection-controller, replicaset-controller, resourcequota-controller, root-ca-cert-publisher, service-account-controller, statefulset-controller], help: Service accounts the control plane creates}
audit:
  Service Account Created in Kube Namespace:
    upstream: A ResponseComplete create of a serviceaccount in kube-system or kube-public with a 2xx response, whose name is not in known_sa_list.
    ours: The same (`known_service_accounts` holds the list).
    difference: none
needs:
  - {level: Metadata, resources: [serviceaccounts], verbs: [create]}
*/
SELECT *, 'service account ' || namespace || '/' || coalesce(name, '') || ' created' AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'serviceaccounts'
  AND subresource IS NULL
  AND verb = 'create'
  AND coalesce(namespace IN ('kube-system', 'kube-public'), false)
  AND code BETWEEN 200 AND 299
  AND NOT list_contains($known_service_accounts, coalesce(name, ''))
  AND ($cluster IS NULL OR cluster = $cluster)
