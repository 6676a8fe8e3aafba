/*
title: Changes — every successful write to an object, with who made it
description: >
  One row per create, update, patch, delete or deletecollection that the apiserver answered with 2xx,
  at the ResponseComplete stage. `actor` is the effective user (the impersonated one when there is
  one) and `actor_groups` its groups, `authenticated_user` who really sent it. `actor_kind` is
  `actor_kind` with only system:masters as administrators; saved queries classify again with the
  configured `admin_groups` and `admin_users`. Status-only writes (subresource status) are kept
  and marked, so queries can leave controller churn out.
*/
SELECT
  cluster, date, received_at, stage_at, audit_id, verb,
  api_group, api_version, resource, subresource, namespace, name, object_uid,
  coalesce(impersonated_user, user_name) AS actor,
  actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups)) AS actor_kind,
  user_name AS authenticated_user, impersonated_user, user_groups, user_extra,
  source_ip, source_ips, user_agent, code, level, request_uri,
  coalesce(subresource = 'status', false) AS is_status_only,
  request_object, response_object,
  source_file, source_line, source_item,
  actor_groups(user_groups, impersonated_user, impersonated_groups) AS actor_groups
FROM events
WHERE stage = 'ResponseComplete'
  AND verb IN ('create', 'update', 'patch', 'delete', 'deletecollection')
  AND code BETWEEN 200 AND 299
  AND resource IS NOT NULL
