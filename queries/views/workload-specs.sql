/*
title: Workload specs — every request that carries a pod spec, with what the detections read from it
description: >
  One row per final-stage create, update or patch of a Pod (including its ephemeralcontainers
  subresource) or of a workload whose template makes Pods (Deployment, DaemonSet, StatefulSet,
  ReplicaSet, Job, CronJob, ReplicationController, PodTemplate), whatever its response code. The spec is
  read from the request body (the response body when the request logged none). `containers` holds
  containers, initContainers and ephemeralContainers alike; `privileged`, `runs_as_root` (runAsUser 0 or
  runAsNonRoot false), `host_paths`, `capabilities` and the host namespaces cover all of them; `succeeded`
  is a code below 400 and no Failure status in the response; `object` is what a finding names
  (`object_text`). Empty at Metadata level, where no body is logged.
*/
WITH bodies AS (
  SELECT cluster, date, received_at, audit_id, stage, verb, api_group, resource, subresource, namespace, name,
         coalesce(impersonated_user, user_name) AS actor, user_name AS authenticated_user, user_groups, source_ip,
         user_agent, code, decision, authz_reason, response_object AS response, request_uri,
         actor_groups(user_groups, impersonated_user, impersonated_groups) AS actor_groups,
         coalesce(pod_spec(resource, request_object), pod_spec(resource, response_object)) AS spec
  FROM events
  WHERE is_final(stage)
    AND verb IN ('create', 'update', 'patch')
    AND resource IN ('pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs',
                     'replicationcontrollers', 'podtemplates')
    AND (subresource IS NULL OR (resource = 'pods' AND subresource = 'ephemeralcontainers'))
),
containers AS (
  SELECT *, list_concat(coalesce(CAST(json_extract(spec, '$.containers') AS JSON[]), []),
                        coalesce(CAST(json_extract(spec, '$.initContainers') AS JSON[]), []),
                        coalesce(CAST(json_extract(spec, '$.ephemeralContainers') AS JSON[]), [])) AS containers
  FROM bodies
  WHERE spec IS NOT NULL
)
SELECT cluster, date, received_at, audit_id, stage, verb, api_group, resource, subresource, namespace, name, actor,
       authenticated_user, user_groups, source_ip, user_agent, code, decision, authz_reason, spec, containers,
       list_filter(list_transform(containers, lambda c: json_extract_string(c, '$.image')), lambda i: i IS NOT NULL) AS images,
       list_filter(list_transform(containers, lambda c: image_repository(json_extract_string(c, '$.image'))), lambda r: r IS NOT NULL) AS repositories,
       coalesce(list_bool_or(list_transform(containers, lambda c: coalesce(TRY_CAST(json_extract_string(c, '$.securityContext.privileged') AS BOOLEAN), false))), false) AS privileged,
       coalesce(list_bool_or(list_transform(containers, lambda c: coalesce(TRY_CAST(json_extract_string(c, '$.securityContext.allowPrivilegeEscalation') AS BOOLEAN), false))), false) AS privilege_escalation,
       coalesce(list_bool_or(list_transform(containers, lambda c: TRY_CAST(json_extract_string(c, '$.securityContext.runAsUser') AS BIGINT) = 0
                                                      OR TRY_CAST(json_extract_string(c, '$.securityContext.runAsNonRoot') AS BOOLEAN) = false)), false) AS runs_as_root,
       list_distinct(flatten(list_transform(containers, lambda c: coalesce(CAST(json_extract_string(c, '$.securityContext.capabilities.add[*]') AS VARCHAR[]), [])))) AS capabilities,
       list_filter(coalesce(CAST(json_extract_string(spec, '$.volumes[*].hostPath.path') AS VARCHAR[]), []), lambda p: p IS NOT NULL) AS host_paths,
       coalesce(TRY_CAST(json_extract_string(spec, '$.hostNetwork') AS BOOLEAN), false) AS host_network,
       coalesce(TRY_CAST(json_extract_string(spec, '$.hostPID') AS BOOLEAN), false) AS host_pid,
       coalesce(TRY_CAST(json_extract_string(spec, '$.hostIPC') AS BOOLEAN), false) AS host_ipc,
       coalesce(code, 200) < 400 AND coalesce(json_extract_string(response, '$.status'), '') <> 'Failure' AS succeeded,
       request_uri, actor_groups,
       object_text(resource, subresource, namespace, name, request_uri) AS object
FROM containers
