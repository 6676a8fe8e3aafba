/*
title: ip_is_private(ip) — Python's ipaddress `is_private`, for IPv4 and the common IPv6 ranges
kind: macro
description: >
  True for the private ranges of `ipv4_number_is_private` and `ipv6_is_private`, false for other valid
  addresses, NULL for text that is not an address. Panther's rules decide "public IP" with this. The
  one-element list binds the parsed address once (a macro argument is expanded, and so re-evaluated,
  wherever it appears).
*/
CREATE OR REPLACE MACRO ip_is_private(ip) AS
  coalesce(list_transform([ipv4_number(ip)], lambda n: ipv4_number_is_private(n))[1], ipv6_is_private(ip))
