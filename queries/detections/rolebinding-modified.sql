/*
title: RoleBinding or ClusterRoleBinding created, changed or deleted
engines: [duckdb, spark]
description: >
  Who was given (or lost) which role: bindings are how privileges change.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  sigma: [Kubernetes Rolebinding Modification]
needs:
  - {level: Metadata, group: rbac.authorization.k8s.io, resources: [rolebindings, clusterrolebindings], verbs: [create, update, patch, delete]}
*/
SELECT *, rtrim(resource, 's') || ' ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '(name not logged)') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END || coalesce(' → ' || json_extract_string(request_object, '$.roleRef.name'), '') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND api_group = 'rbac.authorization.k8s.io'
  AND resource IN ('rolebindings', 'clusterrolebindings')
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND ($cluster IS NULL OR cluster = $cluster)
