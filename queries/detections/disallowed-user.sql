/*
title: Request by a user outside the allowed list
engines: [duckdb, spark]
description: >
  Any request by a user whose name does not start with `system:` and who is not in `allowed_users` (Falco's
  allowed_k8s_users and eks_allowed_k8s_users). Replace the list with your organisation's people and pipelines.
  `people_only` asks `actor_kind` instead, because a name says little: it leaves out the cloud's own callers
  (eks:…, aksService, gke-…) and counts a `system:` user in system:masters (audit2rbac's system:admin).
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1078]
reproduces:
  falco: [Disallowed K8s User]
params:
  people_only: {type: boolean, default: false, help: "Only people (`actor_kind`): not the cloud's callers (eks:…, aksService), and a system: user in system:masters counts"}
  allowed_users: {type: "varchar[]", default: [minikube, minikube-user, kubelet, kops, admin, kube, kube-proxy, kube-apiserver-healthcheck, kubernetes-admin, vpa-recommender, vpa-updater, cluster-autoscaler, system:addon-manager, cloud-controller-manager, system:kube-controller-manager, eks:node-manager, eks:certificate-controller, eks:fargate-scheduler, eks:k8s-metrics, eks:authenticator, eks:cluster-event-watcher, eks:nodewatcher, eks:pod-identity-mutating-webhook, eks:cloud-controller-manager, eks:vpc-resource-controller, eks:addon-manager], help: Users allowed to use the API}
audit:
  Disallowed K8s User:
    upstream: 'A ResponseComplete event by a user whose name does not start with system: and is not in allowed_k8s_users or eks_allowed_k8s_users.'
    ours: The same, with the two lists as `allowed_users`.
    difference: none
needs:
  - {level: Metadata}
*/
SELECT *, coalesce(user_name, '(no user)') || ' is not an allowed user: ' || verb || ' ' || object AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND CASE WHEN $people_only THEN user_name IS NULL OR actor_kind(user_name, user_groups, $admin_groups, $admin_users) = 'human'
           ELSE coalesce(NOT starts_with(user_name, 'system:'), true) END
  AND NOT list_contains($allowed_users, coalesce(user_name, ''))
  AND ($cluster IS NULL OR cluster = $cluster)
