/*
title: in_window(ts, day, since, until) — the time window every saved query reads
kind: macro
description: >
  True when `ts` lies in [since, until). Also bounds the `date` partition column by the UTC days of
  the window, which is what lets DuckDB skip the Parquet files of other days.
*/
CREATE OR REPLACE MACRO in_window(ts, day, lo, hi) AS
  ts >= lo AND ts < hi
  AND day BETWEEN CAST(timezone('UTC', lo) AS DATE) AND CAST(timezone('UTC', hi) AS DATE)
