/*
title: Request by a user outside the allowed list
engines: [duckdb, spark]
description: >
  Any request by a person (`actor_kind`: not a service account, node, control-plane component or
  anonymous; a `system:` name in system:masters is a person) who is not in `allowed_users` (Falco's
  allowed_k8s_users and eks_allowed_k8s_users). Replace the list with your organisation's people and pipelines.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1078]
reproduces:
  falco: [Disallowed K8s User]
params:
  allowed_users: {type: "varchar[]", default: [minikube, minikube-user, kubelet, kops, admin, kube, kube-proxy, kube-apiserver-healthcheck, kubernetes-admin, vpa-recommender, vpa-updater, cluster-autoscaler, system:addon-manager, cloud-controller-manager, system:kube-controller-manager, eks:node-manager, eks:certificate-controller, eks:fargate-scheduler, eks:k8s-metrics, eks:authenticator, eks:cluster-event-watcher, eks:nodewatcher, eks:pod-identity-mutating-webhook, eks:cloud-controller-manager, eks:vpc-resource-controller, eks:addon-manager], help: Users allowed to use the API}
needs:
  - {level: Metadata}
*/
SELECT *, coalesce(user_name, '(no user)') || ' is not an allowed user: ' || verb || ' ' || object AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND (user_name IS NULL OR actor_kind(user_name, user_groups, $admin_groups, $admin_users) = 'human')
  AND NOT list_contains($allowed_users, coalesce(user_name, ''))
  AND ($cluster IS NULL OR cluster = $cluster)
