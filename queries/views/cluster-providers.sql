/*
title: cluster_providers(since, until) — the cloud each cluster's events in a window show, when they show one
kind: macro
description: >
  Per cluster: the one `cloud_provider` its events in [since, until) show. A cluster whose events show
  none, or several (logs of different clouds ingested under one name), has no row: the EKS-only
  detections then judge each event by itself alone. `cloud_provider` is asked once per distinct identity
  (user, extras) rather than once per event: a few hundred thousand in ten million events, ≈ 4 → 2 CPU-s
  (`OFFSET 0` keeps DuckDB from moving the question below the DISTINCT, where it would ask every event).
*/
CREATE OR REPLACE MACRO cluster_providers(lo, hi) AS TABLE
  SELECT cluster, any_value(provider) AS provider
  FROM (SELECT DISTINCT cluster, cloud_provider(user_name, user_extra, extra) AS provider
        FROM (SELECT DISTINCT cluster, user_name, user_extra, extra FROM events WHERE in_window(received_at, date, lo, hi) OFFSET 0)
        WHERE cloud_provider(user_name, user_extra, extra) IS NOT NULL)
  GROUP BY cluster
  HAVING count(*) = 1
