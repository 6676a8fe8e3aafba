/*
title: final_requests_at(instants, lo, hi) — the final requests received at some of the given instants within [lo, hi)
kind: macro
description: >
  How a detection over history reads what a finding shows for the few requests it reports, once it knows their
  instants (from `request_groups`): `final_requests_at((SELECT list(DISTINCT received_at) FROM firsts), $since,
  $until)`. The instants arrive as one list, which DuckDB counts as one row when it plans the join, so it probes the
  lake with them (reading the row groups they fall in) instead of hashing every request of the window.
*/
CREATE OR REPLACE MACRO final_requests_at(instants, lo, hi) AS TABLE
  SELECT d.*
  FROM final_requests d
  JOIN (SELECT unnest(instants) AS received_at) i
    ON i.received_at = d.received_at AND in_window(d.received_at, d.date, lo, hi)
