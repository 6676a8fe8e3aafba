/*
title: System Role or ClusterRole changed or deleted
engines: [duckdb, spark]
description: >
  A Role or ClusterRole named `system:…` or `eks:…` created, updated, patched or deleted, by anyone, whatever
  the outcome; system:coredns and system:managed-certificate-controller change in normal operation. Falco
  counts creates and not eks: names; Panther eks: names and neither creates, refused requests nor system
  principals (`verbs`, `name_prefixes`, `ignore_failed`, `ignore_system_principals`).
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  falco: [System ClusterRole Modified/Deleted]
  panther: [Kubernetes.SystemRole.Modified]
params:
  verbs: {type: "varchar[]", default: [create, update, patch, delete], help: "Verbs that count (Falco: all four; Panther: not create)"}
  name_prefixes: {type: "varchar[]", default: ["system:", "eks:"], help: "Role names that are the system's (Falco: system: only)"}
  expected_changes: {type: "varchar[]", default: ["system:coredns", "system:managed-certificate-controller"], help: System roles that change in normal operation}
audit:
  System ClusterRole Modified/Deleted:
    upstream: Create, update, patch or delete of a Role or ClusterRole named system:…, except system:coredns and system:managed-certificate-controller; any outcome, any user.
    ours: Create, update, patch or delete (`verbs`) of a role named system:… or eks:… (`name_prefixes`), the same two exceptions, any outcome, any user.
    difference: Also eks:… roles (Panther's rule counts them).
    params:
      name_prefixes: ['system:']
  Kubernetes.SystemRole.Modified:
    upstream: Update, patch or delete of a Role or ClusterRole named system:… or eks:…, not failed, not by a system principal, except the same two.
    ours: 'As above: creates, any outcome, any user (Falco''s rule).'
    difference: Also creates, refused requests and system principals (Falco's rule counts all three).
    params:
      verbs: [update, patch, delete]
      ignore_failed: true
      ignore_system_principals: true
needs:
  - {level: Metadata, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [create, update, patch, delete]}
*/
SELECT *, coalesce(actor, '(no user)') || CASE verb WHEN 'delete' THEN ' deleted ' WHEN 'create' THEN ' created ' ELSE ' modified ' END || CASE resource WHEN 'clusterroles' THEN 'ClusterRole ' ELSE 'Role ' || coalesce(namespace || '/', '') END || name AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND coalesce(resource IN ('roles', 'clusterroles'), false)
  AND list_contains($verbs, verb)
  AND NOT ($ignore_failed AND coalesce(code, 200) >= 400)
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND list_bool_or(list_transform($name_prefixes, lambda p: starts_with(coalesce(name, ''), p)))
  AND NOT list_contains($expected_changes, name)
  AND ($cluster IS NULL OR cluster = $cluster)
