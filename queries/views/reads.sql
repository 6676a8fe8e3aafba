/*
title: Reads of sensitive resources — secrets, configmaps, service accounts, pod logs
description: >
  One row per get, list or watch of secrets, configmaps or serviceaccounts, and per read of a pod's
  log, allowed or not (`allowed`), at the ResponseComplete stage. A list or watch without a namespace
  read every namespace (`is_cluster_wide`). `actor_kind` counts only system:masters as administrators;
  saved queries classify `actor` and `actor_groups` again with the configured `admin_groups`/`admin_users`.
*/
SELECT
  cluster, date, received_at, audit_id, verb, resource, subresource, namespace, name,
  coalesce(impersonated_user, user_name) AS actor,
  actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups)) AS actor_kind,
  user_name AS authenticated_user, impersonated_user, user_groups,
  source_ip, user_agent, code, decision, authz_reason,
  coalesce(code < 400, decision = 'allow', false) AS allowed,
  (namespace IS NULL AND verb IN ('list', 'watch')) AS is_cluster_wide,
  request_uri,
  actor_groups(user_groups, impersonated_user, impersonated_groups) AS actor_groups
FROM events
WHERE stage = 'ResponseComplete'
  AND verb IN ('get', 'list', 'watch')
  AND (resource IN ('secrets', 'configmaps', 'serviceaccounts') OR (resource = 'pods' AND subresource = 'log'))
