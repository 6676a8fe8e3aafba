/*
title: Service account token requested by someone
engines: [duckdb, spark]
description: >
  A token minted for a service account (serviceaccounts/token), not refused, that is not a pod-bound token
  a kubelet requests for a running pod, and not the control plane in its own namespaces: a credential
  someone can carry away. Panther's rule also fires on every token a kubelet mints for a pod; what it
  means is a long-lived, hand-requested token, so tokens bound to a Pod are left out (they expire with
  it).
severity: low
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1528, T1098]
reproduces:
  panther: [Kubernetes.ServiceAccount.TokenCreated]
params:
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities (in system namespaces)}
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
  AND NOT ($ignore_system AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users) AND is_system_namespace(namespace))
  AND json_extract_string(request_object, '$.spec.boundObjectRef.kind') IS DISTINCT FROM 'Pod'
  AND ($cluster IS NULL OR cluster = $cluster)
