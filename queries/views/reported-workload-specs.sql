/*
title: reported_workload_specs(ignore_failed, ignore_system, admin_groups, admin_users, allowed_repositories) — what a pod-spec detection reports
kind: macro
description: >
  `workload_specs` less what Panther's pod rules leave out, written once for the detections that share
  those filters: requests that were refused or failed when `ignore_failed`, the control plane acting in its
  own namespaces when `ignore_system`, and requests whose every image comes from `allowed_repositories`
  (none by default). `workload` names the object for a summary (`pods default/app`).
*/
CREATE OR REPLACE MACRO reported_workload_specs(ignore_failed, ignore_system, admin_groups, admin_users,
                                                allowed_repositories := CAST([] AS VARCHAR[])) AS TABLE
  SELECT *, resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') AS workload
  FROM workload_specs
  WHERE NOT (ignore_failed AND NOT (succeeded AND decision IS DISTINCT FROM 'forbid'))
    AND NOT (ignore_system AND is_system_principal(authenticated_user, user_groups, admin_groups, admin_users) AND is_system_namespace(namespace))
    AND NOT coalesce(array_length(repositories) > 0 AND list_has_all(allowed_repositories, repositories), false)
