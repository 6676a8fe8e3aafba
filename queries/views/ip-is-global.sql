/*
title: ip_is_global(ip) — Python's ipaddress `is_global` (a public address)
kind: macro
description: Not private and not shared address space (100.64.0.0/10, carrier-grade NAT); NULL for text that is not an address.
*/
CREATE OR REPLACE MACRO ip_is_global(ip) AS
  coalesce(list_transform([ipv4_number(ip)], lambda n: NOT (ipv4_number_is_private(n) OR n BETWEEN 1681915904 AND 1686110207))[1],
           NOT ipv6_is_private(ip))
