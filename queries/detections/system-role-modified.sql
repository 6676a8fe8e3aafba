/*
title: System Role or ClusterRole changed or deleted
engines: [duckdb, spark]
description: >
  A Role or ClusterRole named `system:…` or `eks:…` updated, patched or deleted by someone other than the
  control plane, and not refused; system:coredns and system:managed-certificate-controller change in
  normal operation. Falco also counts creates and any outcome and user, and not eks: names.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  falco: [System ClusterRole Modified/Deleted]
  panther: [Kubernetes.SystemRole.Modified]
params:
  expected_changes: {type: "varchar[]", default: ["system:coredns", "system:managed-certificate-controller"], help: System roles that change in normal operation}
needs:
  - {level: Metadata, group: rbac.authorization.k8s.io, resources: [roles, clusterroles], verbs: [update, patch, delete]}
*/
SELECT *, coalesce(actor, '(no user)') || CASE verb WHEN 'delete' THEN ' deleted ' ELSE ' modified ' END || CASE resource WHEN 'clusterroles' THEN 'ClusterRole ' ELSE 'Role ' || coalesce(namespace || '/', '') END || name AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource IN ('roles', 'clusterroles')
  AND verb IN ('update', 'patch', 'delete')
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users))
  AND (starts_with(coalesce(name, ''), 'system:') OR starts_with(coalesce(name, ''), 'eks:'))
  AND NOT list_contains($expected_changes, name)
  AND ($cluster IS NULL OR cluster = $cluster)
