/*
title: is_final(stage) — the one event per request that detections read
kind: macro
description: >
  ResponseComplete (or Panic) is the event that carries the outcome; exports that drop the stage (some
  SIEM copies, hand-written fixtures) have one event per request, which counts as final too.
*/
CREATE OR REPLACE MACRO is_final(stage) AS (stage IS NULL OR stage IN ('ResponseComplete', 'Panic'))
