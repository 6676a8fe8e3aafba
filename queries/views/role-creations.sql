/*
title: Role creations — Roles and ClusterRoles created, with their rules and whether the apiserver accepted them
description: >
  One row per final create of a Role or ClusterRole, whatever the outcome (Falco's role rules count
  refused ones); `succeeded` says the apiserver did not refuse it (a missing code counts as accepted). `role` names it for a summary (`ClusterRole admin-2`, `Role payments/reader`);
  `rules` is its rules as a list of {resources, verbs} (empty lists where a rule names none), which the
  `role-with-*` detections test.
*/
SELECT *,
       CASE resource WHEN 'clusterroles' THEN 'ClusterRole ' ELSE 'Role ' || coalesce(namespace || '/', '') END
         || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') AS role,
       list_transform(CAST(json_extract(request_object, '$.rules') AS JSON[]),
                      lambda r: {'resources': coalesce(CAST(json_extract_string(r, '$.resources[*]') AS VARCHAR[]), []),
                                 'verbs': coalesce(CAST(json_extract_string(r, '$.verbs[*]') AS VARCHAR[]), [])}) AS rules,
       coalesce(code, 200) < 400 AS succeeded
FROM final_requests
WHERE coalesce(resource IN ('roles', 'clusterroles'), false)
  AND subresource IS NULL
  AND verb = 'create'
