/*
title: DaemonSet created (a pod on every node)
engines: [duckdb, spark]
description: >
  A DaemonSet created, not refused, by someone other than the control plane in its own namespaces: code on
  every node at once.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1610]
reproduces:
  panther: [Kubernetes.DaemonSet.Created, GCP.K8s.New.Daemonset.Deployed]
params:
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities (in system namespaces)}
audit:
  Kubernetes.DaemonSet.Created:
    upstream: Create of a DaemonSet, not failed, except a system principal in a system namespace.
    ours: The same (`ignore_system` on, as Panther).
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
  GCP.K8s.New.Daemonset.Deployed:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE audit entry granted io.k8s.apps.v1.daemonsets.create; any user.'
    ours: Panther's Kubernetes rule (above), which runs by default.
    difference: Upstream runs nothing by default for this rule; enabled, it also counts system principals in system namespaces.
    params:
      ignore_system: false
needs:
  - {level: Metadata, group: apps, resources: [daemonsets], verbs: [create]}
*/
SELECT *, 'daemonset ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' created by ' || coalesce(actor, '(no user)') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'daemonsets'
  AND subresource IS NULL
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people) AND is_system_namespace(namespace))
  AND ($cluster IS NULL OR cluster = $cluster)
