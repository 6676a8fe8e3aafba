/*
title: Service account token read through exec
engines: [duckdb, spark]
description: >
  An exec whose command reads a service-account or cloud workload-identity token path inside the pod (cat,
  tar, ls …), not refused, and not the control plane in its own namespaces.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1528, T1552.007]
reproduces:
  panther: [Kubernetes.Pod.StealServiceAccountToken]
params:
  token_paths: {type: "varchar[]", default: ["/var/run/secrets/kubernetes.io/serviceaccount/token", /var/run/secrets/kubernetes.io/serviceaccount, /var/run/secrets/eks.amazonaws.com/serviceaccount/token, /var/run/secrets/eks.amazonaws.com/serviceaccount, /var/run/secrets/azure/tokens/azure-identity-token, /var/run/secrets/azure/tokens, /var/run/secrets/tokens/gcp-ksa/token, /var/run/secrets/tokens/gcp-ksa, serviceaccount/token], help: Token paths (substrings of the command)}
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities (in system namespaces)}
audit:
  Kubernetes.Pod.StealServiceAccountToken:
    upstream: Create of pods/exec, not failed, except a system principal in a system namespace, whose command names a service-account or workload-identity token path.
    ours: The same paths (`token_paths`) in the command or the URI (`ignore_system` on, as Panther).
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Metadata, resources: [pods/exec]}
*/
SELECT *, actor || ' read a token in ' || coalesce(namespace || '/', '') || coalesce(name, '') || ': ' || array_to_string(command_args, ' ') AS summary
FROM exec_requests
WHERE in_window(received_at, date, $since, $until)
  AND subresource = 'exec'
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system AND is_system_principal(authenticated_user, user_groups, $admin_groups, $admin_users, $admins_are_people) AND is_system_namespace(namespace))
  AND list_bool_or(list_transform($token_paths, lambda p: contains(lower(array_to_string(command_args, ' ')), p) OR contains(lower(url_decode(coalesce(request_uri, ''))), p)))
  AND ($cluster IS NULL OR cluster = $cluster)
