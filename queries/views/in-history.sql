/*
title: in_history(ts, day, since, until, baseline) — the baseline and the window together
kind: macro
description: >
  True when `ts` lies in [since - baseline, until): what a sequence detection reads in one pass, so that a pattern
  the baseline already completed silences the same pattern in the window (only events of [since, until) are
  reported). Bounds the `date` partition column like `in_window`.
*/
CREATE OR REPLACE MACRO in_history(ts, day, lo, hi, span) AS in_window(ts, day, lo - span, hi)
