/*
title: Files copied out of a pod (kubectl cp)
engines: [duckdb, spark]
description: >
  kubectl cp from a pod runs `tar cf - PATH` through exec: a tar command that writes an archive to
  standard output. Copies into a pod (tar xf) are not this. Refused requests and the control plane in its
  own namespaces are left out. As Panther, exec opened with create (kubectl before 1.30); `exec_over_get`
  also counts the GET that kubectl 1.30 and later opens over WebSockets (recommended).
severity: medium
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1005, T1041]
reproduces:
  panther: [Kubernetes.Kubectl.CP.Operation]
params:
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities (in system namespaces)}
audit:
  Kubernetes.Kubectl.CP.Operation:
    upstream: Create of pods/exec, not failed, except a system principal in a system namespace, whose command is tar with a c…f option writing to -.
    ours: The same (`ignore_system` on, as Panther).
    difference: None by default; `exec_over_get` widens it to exec opened with GET (kubectl 1.30 and later, recommended), and `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Metadata, resources: [pods/exec]}
*/
SELECT *, actor || ' copied ' || array_to_string(command_args[4:], ' ') || ' out of ' || coalesce(namespace || '/', '') || coalesce(name, '') AS summary
FROM exec_requests
WHERE in_window(received_at, date, $since, $until)
  AND subresource = 'exec'
  AND (verb = 'create' OR ($exec_over_get AND verb = 'get'))
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system AND is_system_principal(authenticated_user, user_groups, $admin_groups, $admin_users, $admins_are_people) AND is_system_namespace(namespace))
  AND list_bool_or(list_transform(command_args, lambda a: contains(lower(a), 'tar')))
  AND list_position(list_transform(command_args, lambda a: contains(lower(a), 'cf') AND lower(a) <> '-c'), true) IS NOT NULL
  AND list_contains(command_args[list_position(list_transform(command_args, lambda a: contains(lower(a), 'cf') AND lower(a) <> '-c'), true) + 1:], '-')
  AND ($cluster IS NULL OR cluster = $cluster)
