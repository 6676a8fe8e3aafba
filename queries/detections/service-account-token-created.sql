/*
title: Service account token requested by someone
engines: [duckdb, spark]
description: >
  A token minted for a service account (serviceaccounts/token), not refused, and not the control plane in
  its own namespaces: a credential someone can carry away. As Panther's rule, this also fires on the
  tokens a kubelet mints for pods outside system namespaces; `ignore_pod_tokens` leaves out tokens bound to
  a Pod (they expire with it), to see long-lived, hand-requested ones.
severity: low
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1528, T1098]
reproduces:
  panther: [Kubernetes.ServiceAccount.TokenCreated]
params:
  ignore_pod_tokens: {type: boolean, default: false, help: "Leave out tokens bound to a Pod (a kubelet's for a running pod, which expire with it): Panther counts them"}
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities (in system namespaces)}
audit:
  Kubernetes.ServiceAccount.TokenCreated:
    upstream: 'Create of serviceaccounts/token, not failed, except a system principal in a system namespace: kubelets'' tokens for pods in other namespaces included.'
    ours: The same (`ignore_system` on, as Panther; `ignore_pod_tokens` off).
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Request, resources: [serviceaccounts/token], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created a token for ' || coalesce(namespace || '/', '') || coalesce(name, '') || coalesce(' (' || json_extract_string(request_object, '$.spec.expirationSeconds') || ' s)', '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'serviceaccounts'
  AND subresource = 'token'
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people) AND is_system_namespace(namespace))
  AND NOT ($ignore_pod_tokens AND coalesce(json_extract_string(request_object, '$.spec.boundObjectRef.kind') = 'Pod', false))
  AND ($cluster IS NULL OR cluster = $cluster)
