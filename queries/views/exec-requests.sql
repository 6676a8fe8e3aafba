/*
title: Exec requests — one row per exec or attach into a pod, with its command as a list
description: >
  Each exec/attach request once: its final event, or its ResponseStarted event while the session is still
  open (or when an export kept only that stage). `command_args` is the command as the client sent it: the
  repeated `command=` parameters of the request URI, URL-decoded (kubectl), or a `command` list in the
  request body (some exports and SDKs). `object` is what a finding names (`object_text`).
*/
SELECT cluster, date, received_at, audit_id, stage, verb, resource, subresource, namespace, name,
       coalesce(impersonated_user, user_name) AS actor, user_name AS authenticated_user, source_ip, user_agent, code, request_uri,
       coalesce(CAST(json_extract_string(request_object, '$.command[*]') AS VARCHAR[]),
                list_transform(regexp_extract_all(coalesce(request_uri, ''), '[?&]command=([^&]*)', 1),
                               lambda c: url_decode(replace(c, '+', ' ')))) AS command_args,
       actor_groups(user_groups, impersonated_user, impersonated_groups) AS actor_groups, user_groups,
       object_text(resource, subresource, namespace, name, request_uri) AS object
FROM events
WHERE resource = 'pods' AND coalesce(subresource IN ('exec', 'attach'), false) AND (is_final(stage) OR stage = 'ResponseStarted')
QUALIFY row_number() OVER (PARTITION BY cluster, audit_id ORDER BY CASE WHEN is_final(stage) THEN 0 ELSE 1 END, stage_at DESC) = 1
