/*
title: elapsed_text(earlier, later) — how long before, as `45s`, `3m`, `2h` or `5d` (rounded down)
kind: macro
description: >
  For the summaries of sequence detections, which name the earlier step and how long before it happened
  ("exec into payments/api-1, created privileged 3m before by …"). NULL when either instant is NULL.
*/
CREATE OR REPLACE MACRO elapsed_text(earlier, later) AS
  list_transform([CAST(floor(epoch(later) - epoch(earlier)) AS BIGINT)], lambda s:
    CASE WHEN s < 60 THEN CAST(s AS VARCHAR) || 's'
         WHEN s < 3600 THEN CAST(CAST(floor(s / 60) AS BIGINT) AS VARCHAR) || 'm'
         WHEN s < 86400 THEN CAST(CAST(floor(s / 3600) AS BIGINT) AS VARCHAR) || 'h'
         ELSE CAST(CAST(floor(s / 86400) AS BIGINT) AS VARCHAR) || 'd' END)[1]
