/*
title: outcome_suffix(code) — ` (denied, 403)` for findings about requests that did not succeed
kind: macro
description: >
  Empty for a request that succeeded (or has no code yet); otherwise the outcome and the HTTP code, so a
  finding's summary says when the apiserver refused (401/403) or failed (other 4xx/5xx) what was attempted.
*/
CREATE OR REPLACE MACRO outcome_suffix(code) AS
  CASE WHEN code IN (401, 403) THEN ' (denied, ' || code || ')'
       WHEN code >= 400 THEN ' (failed, ' || code || ')'
       ELSE '' END
