/*
title: ip_is_private(ip) — Python's ipaddress `is_private`, for IPv4 and the common IPv6 ranges
kind: macro
description: >
  True for the IANA special-purpose private ranges Python 3.11 lists (RFC 1918, loopback, link-local,
  documentation, benchmarking, reserved), and for IPv6 loopback, unique-local (fc00::/7) and link-local
  (fe80::/10); false for other valid addresses; NULL for text that is not an address. Panther's rules
  decide "public IP" with this.
*/
CREATE OR REPLACE MACRO ip_is_private(ip) AS CASE
  WHEN ipv4_number(ip) IS NOT NULL THEN (ipv4_number(ip) BETWEEN 0 AND 16777215
    OR ipv4_number(ip) BETWEEN 167772160 AND 184549375
    OR ipv4_number(ip) BETWEEN 2130706432 AND 2147483647
    OR ipv4_number(ip) BETWEEN 2851995648 AND 2852061183
    OR ipv4_number(ip) BETWEEN 2886729728 AND 2887778303
    OR ipv4_number(ip) BETWEEN 3221225472 AND 3221225479
    OR ipv4_number(ip) BETWEEN 3221225642 AND 3221225643
    OR ipv4_number(ip) BETWEEN 3221225984 AND 3221226239
    OR ipv4_number(ip) BETWEEN 3232235520 AND 3232301055
    OR ipv4_number(ip) BETWEEN 3323068416 AND 3323199487
    OR ipv4_number(ip) BETWEEN 3325256704 AND 3325256959
    OR ipv4_number(ip) BETWEEN 3405803776 AND 3405804031
    OR ipv4_number(ip) BETWEEN 4026531840 AND 4294967295
    OR ipv4_number(ip) BETWEEN 4294967295 AND 4294967295)
  WHEN regexp_full_match(coalesce(ip, ''), '[0-9a-fA-F:]+') AND contains(ip, ':')
    THEN lower(ip) IN ('::1', '::') OR regexp_matches(lower(ip), '^(f[cd][0-9a-f]{2}|fe[89ab][0-9a-f]|2001:0?db8):')
END
