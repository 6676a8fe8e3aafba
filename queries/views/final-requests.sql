/*
title: Final requests — one row per request (its final event), with who acted and what it touched
description: >
  The events detections read: the final one of each request (`is_final`: ResponseComplete or Panic, or
  an export that keeps no stage), every column of `events` plus the two finding columns every detection
  reports: `actor`, the effective user (the impersonated one when there is one), and `object`, what the
  request touched (`object_text`).
*/
SELECT *,
       coalesce(impersonated_user, user_name) AS actor,
       object_text(resource, subresource, namespace, name, request_uri) AS object
FROM events
WHERE is_final(stage)
