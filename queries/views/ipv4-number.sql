/*
title: ipv4_number(ip) — a dotted IPv4 address as a number (NULL for anything else)
kind: macro
description: >
  For range checks in plain SQL, without DuckDB's inet extension (which would be downloaded). Like Python's
  ipaddress, an octet with a leading zero (`01.2.3.4`) is not an address.
*/
CREATE OR REPLACE MACRO ipv4_number(ip) AS CASE WHEN regexp_full_match(coalesce(ip, ''), '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}')
  THEN CAST(split_part(ip, '.', 1) AS BIGINT) * 16777216 + CAST(split_part(ip, '.', 2) AS BIGINT) * 65536
       + CAST(split_part(ip, '.', 3) AS BIGINT) * 256 + CAST(split_part(ip, '.', 4) AS BIGINT) END
