/*
title: Workload specs — every request that carries a pod spec
description: >
  One row per final-stage create, update or patch of a Pod (including its ephemeralcontainers
  subresource) or of a workload whose template makes Pods (Deployment, DaemonSet, StatefulSet,
  ReplicaSet, Job, CronJob, ReplicationController, PodTemplate), whatever its response code. The spec is
  read from the request body (the response body when the request logged none). `pod_containers` holds the
  spec's `containers` (what Falco, Sigma and Panther read); `all_containers` holds containers,
  initContainers and ephemeralContainers alike. `host_paths` and the host namespaces are the spec's own;
  `succeeded` is a code below 400 and no Failure status in the response; `object` is what a finding names
  (`object_text`). Empty at Metadata level, where no body is logged. What the detections read from the
  containers (privileged, capabilities, images …) is `reported_workload_specs(…)`.
*/
WITH bodies AS (
  SELECT cluster, date, received_at, audit_id, stage, verb, api_group, resource, subresource, namespace, name,
         coalesce(impersonated_user, user_name) AS actor, user_name AS authenticated_user, user_groups, source_ip,
         user_agent, code, decision, authz_reason, response_object AS response, request_uri,
         actor_groups(user_groups, impersonated_user, impersonated_groups) AS actor_groups,
         coalesce(pod_spec(resource, request_object), pod_spec(resource, response_object)) AS spec
  FROM events
  WHERE is_final(stage)
    AND coalesce(verb IN ('create', 'update', 'patch'), false)
    AND coalesce(resource IN ('pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs',
                              'replicationcontrollers', 'podtemplates'), false)
    AND (subresource IS NULL OR (resource = 'pods' AND subresource = 'ephemeralcontainers'))
)
SELECT cluster, date, received_at, audit_id, stage, verb, api_group, resource, subresource, namespace, name, actor,
       authenticated_user, user_groups, source_ip, user_agent, code, decision, authz_reason, spec,
       coalesce(CAST(json_extract(spec, '$.containers') AS JSON[]), []) AS pod_containers,
       list_concat(coalesce(CAST(json_extract(spec, '$.containers') AS JSON[]), []),
                   coalesce(CAST(json_extract(spec, '$.initContainers') AS JSON[]), []),
                   coalesce(CAST(json_extract(spec, '$.ephemeralContainers') AS JSON[]), [])) AS all_containers,
       list_filter(coalesce(CAST(json_extract_string(spec, '$.volumes[*].hostPath.path') AS VARCHAR[]), []), lambda p: p IS NOT NULL) AS host_paths,
       coalesce(TRY_CAST(json_extract_string(spec, '$.hostNetwork') AS BOOLEAN), false) AS host_network,
       coalesce(TRY_CAST(json_extract_string(spec, '$.hostPID') AS BOOLEAN), false) AS host_pid,
       coalesce(TRY_CAST(json_extract_string(spec, '$.hostIPC') AS BOOLEAN), false) AS host_ipc,
       coalesce(code, 200) < 400 AND coalesce(json_extract_string(response, '$.status'), '') <> 'Failure' AS succeeded,
       request_uri, actor_groups,
       object_text(resource, subresource, namespace, name, request_uri) AS object
FROM bodies
WHERE spec IS NOT NULL
