/*
title: ipv6_is_private(ip) — the common private IPv6 ranges (NULL for text that is not IPv6)
kind: macro
description: Loopback, unspecified, unique-local (fc00::/7), link-local (fe80::/10) and documentation (2001:db8::/32).
*/
CREATE OR REPLACE MACRO ipv6_is_private(ip) AS CASE
  WHEN regexp_full_match(coalesce(ip, ''), '[0-9a-fA-F:]+') AND contains(ip, ':')
    THEN lower(ip) IN ('::1', '::') OR regexp_matches(lower(ip), '^(f[cd][0-9a-f]{2}|fe[89ab][0-9a-f]|2001:0?db8):')
END
