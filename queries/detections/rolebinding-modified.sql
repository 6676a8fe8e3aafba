/*
title: RoleBinding or ClusterRoleBinding created, changed or deleted
engines: [duckdb, spark]
description: >
  Who was given (or lost) which role: bindings are how privileges change. `count_deletecollection` also
  counts deletecollection, which Sigma's verbs leave out.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098]
reproduces:
  sigma: [Kubernetes Rolebinding Modification]
audit:
  Kubernetes Rolebinding Modification:
    upstream: objectRef.apiGroup rbac.authorization.k8s.io, rolebindings or clusterrolebindings, verb create, delete, patch, replace or update; any outcome, any user.
    ours: The same (a replace is logged as update).
    difference: None by default; `count_deletecollection` widens it to deletecollection, which Sigma's verb list leaves out.
needs:
  - {level: Metadata, group: rbac.authorization.k8s.io, resources: [rolebindings, clusterrolebindings], verbs: [create, update, patch, delete]}
*/
SELECT *, rtrim(resource, 's') || ' ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '(name not logged)') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END || coalesce(' → ' || json_extract_string(request_object, '$.roleRef.name'), '') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND api_group = 'rbac.authorization.k8s.io'
  AND coalesce(resource IN ('rolebindings', 'clusterrolebindings'), false)
  AND (verb IN ('create', 'update', 'patch', 'delete') OR ($count_deletecollection AND verb = 'deletecollection'))
  AND ($cluster IS NULL OR cluster = $cluster)
