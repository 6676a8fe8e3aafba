/*
title: Sessions — exec, attach and port-forward into pods, one row per session
description: >
  Interactive access to running containers. The session starts when the request is received and ends
  at its last logged stage (`duration_seconds`); `command` is decoded from the request URI (exec only), `container` and
  the `tty`/`stdin` flags likewise. `code` is the final response (101 Switching Protocols for an
  upgraded connection). `actor_kind` counts only system:masters as administrators; saved queries classify
  `actor` and `actor_groups` again with the configured `admin_groups` and `admin_users`.
*/
SELECT
  cluster,
  any_value(date) AS date,
  audit_id,
  min(received_at) AS started_at,
  max(stage_at) AS ended_at,
  round(epoch(max(stage_at)) - epoch(min(received_at)), 3) AS duration_seconds,
  any_value(subresource) AS kind,
  any_value(namespace) AS namespace,
  any_value(name) AS pod,
  any_value(regexp_extract(request_uri, '[?&]container=([^&]*)', 1)) AS container,
  any_value(exec_command(request_uri)) AS command,
  bool_or(regexp_matches(request_uri, '[?&]tty=(true|1)')) AS tty,
  bool_or(regexp_matches(request_uri, '[?&]stdin=(true|1)')) AS stdin,
  any_value(coalesce(impersonated_user, user_name)) AS actor,
  any_value(actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups))) AS actor_kind,
  any_value(user_name) AS authenticated_user,
  any_value(source_ip) AS source_ip,
  any_value(user_agent) AS user_agent,
  max(code) AS code,
  bool_and(coalesce(code < 400, true)) AS allowed,
  any_value(actor_groups(user_groups, impersonated_user, impersonated_groups)) AS actor_groups
FROM events
WHERE subresource IN ('exec', 'attach', 'portforward') AND resource = 'pods'
GROUP BY cluster, audit_id
