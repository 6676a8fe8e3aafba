/*
title: in_baseline(ts, day, since, baseline) — the span before the window that a detection over history reads
kind: macro
description: >
  True when `ts` lies in [since - baseline, since): the history a stateful detection compares the window with
  (`first-secret-read-in-namespace` and the other `stateful:` detections). What happened there is read, never
  reported: it is what makes an event of the window "not new". Bounds the `date` partition column like
  `in_window`, so only the baseline's days are read.
*/
CREATE OR REPLACE MACRO in_baseline(ts, day, lo, span) AS in_window(ts, day, lo - span, lo)
