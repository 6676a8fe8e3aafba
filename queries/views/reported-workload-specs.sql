/*
title: reported_workload_specs(ignore_failed, ignore_system, admin_groups, admin_users, allowed_repositories, all_pod_specs, admins_are_people) — what a pod-spec detection reads and reports
kind: macro
description: >
  `workload_specs` as the upstream pod rules read it, written once for every pod-spec detection. By
  default (`all_pod_specs` false) only Pod creates, and only the spec's `containers`: what Falco's, Sigma's
  and Panther's rules read. `all_pod_specs` also reads workload templates (Deployments, DaemonSets,
  StatefulSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers, PodTemplates), updates and patches
  (the ephemeralcontainers subresource included), and initContainers and ephemeralContainers: the same pod
  spec, made another way. From the containers read: `images`, `repositories`, `privileged`,
  `privilege_escalation`, `runs_as_root` (runAsUser 0 or runAsNonRoot false) and `capabilities` (added).
  Left out: requests that were refused or failed when `ignore_failed`, system principals (`is_system_principal`,
  `admins_are_people` passed on) acting in system namespaces when `ignore_system`, and requests whose every
  image comes from `allowed_repositories` (none by default). `workload` names the object for a summary
  (`pods default/app`).
*/
CREATE OR REPLACE MACRO reported_workload_specs(ignore_failed, ignore_system, admin_groups, admin_users,
                                                allowed_repositories := CAST([] AS VARCHAR[]), all_pod_specs := false,
                                                admins_are_people := false) AS TABLE
  WITH chosen AS (
    SELECT *, CASE WHEN all_pod_specs THEN all_containers ELSE pod_containers END AS containers
    FROM workload_specs
    WHERE all_pod_specs OR (resource = 'pods' AND subresource IS NULL AND verb = 'create')
  ),
  flagged AS (
    SELECT *,
           list_filter(list_transform(containers, lambda c: json_extract_string(c, '$.image')), lambda i: i IS NOT NULL) AS images,
           list_filter(list_transform(containers, lambda c: image_repository(json_extract_string(c, '$.image'))), lambda r: r IS NOT NULL) AS repositories,
           coalesce(list_bool_or(list_transform(containers, lambda c: coalesce(TRY_CAST(json_extract_string(c, '$.securityContext.privileged') AS BOOLEAN), false))), false) AS privileged,
           coalesce(list_bool_or(list_transform(containers, lambda c: coalesce(TRY_CAST(json_extract_string(c, '$.securityContext.allowPrivilegeEscalation') AS BOOLEAN), false))), false) AS privilege_escalation,
           coalesce(list_bool_or(list_transform(containers, lambda c: TRY_CAST(json_extract_string(c, '$.securityContext.runAsUser') AS BIGINT) = 0
                                                          OR TRY_CAST(json_extract_string(c, '$.securityContext.runAsNonRoot') AS BOOLEAN) = false)), false) AS runs_as_root,
           list_distinct(flatten(list_transform(containers, lambda c: coalesce(CAST(json_extract_string(c, '$.securityContext.capabilities.add[*]') AS VARCHAR[]), [])))) AS capabilities,
           resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') AS workload
    FROM chosen
  )
  SELECT *
  FROM flagged
  WHERE NOT (ignore_failed AND NOT (succeeded AND decision IS DISTINCT FROM 'forbid'))
    AND NOT (ignore_system AND is_system_principal(authenticated_user, user_groups, admin_groups, admin_users, admins_are_people)
             AND is_system_namespace(namespace))
    AND NOT coalesce(array_length(repositories) > 0 AND list_has_all(allowed_repositories, repositories), false)
