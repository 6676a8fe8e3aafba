/*
title: request_groups(lo, hi) — the final requests of [lo, hi) in groups, one row per hour, identity, address, target and outcome
kind: macro
description: >
  What the detections over history ask of every request of an identity (who, acting as whom, in which groups,
  from where, on what, with which outcome and authorisation reason), one row per hour (`hour`: whole UTC hours
  since 1970) and combination, with the instants of its requests (`times`, `first_at`, `last_at`): ≈ 100,000
  rows for the 5 M final requests of the 10 M-event benchmark lake. A detection finds the first request of a
  key over a span as the earliest of its groups' `first_at`, and the first after an instant among `times`, then
  reads the requests of the few instants it reports for their audit ids and what a finding shows. `detect`
  answers it once per run (`shared_window`: the groups of the run's history in one table; for a call whose
  bounds cut an hour, that hour's part is read again), so the history's identities are decoded once instead of
  once per detection.
*/
CREATE OR REPLACE MACRO request_groups(lo, hi) AS TABLE
  SELECT cluster, hour, coalesce(impersonated_user, user_name) AS actor, user_name, user_groups, impersonated_user, impersonated_groups,
         authz_reason, source_ip, namespace, resource, subresource, code, first_at, last_at, times
  FROM (SELECT cluster, epoch_us(received_at) // 3600000000 AS hour, user_name, user_groups, impersonated_user, impersonated_groups,
               authz_reason, source_ip, namespace, resource, subresource, code,
               min(received_at) AS first_at, max(received_at) AS last_at, list(received_at) AS times
        FROM final_requests
        WHERE in_window(received_at, date, lo, hi)
        GROUP BY cluster, epoch_us(received_at) // 3600000000, user_name, user_groups, impersonated_user, impersonated_groups,
                 authz_reason, source_ip, namespace, resource, subresource, code)
