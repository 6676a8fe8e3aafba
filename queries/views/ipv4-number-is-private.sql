/*
title: ipv4_number_is_private(n) — Python's ipaddress `is_private` for an IPv4 address given as its number
kind: macro
description: >
  The IANA special-purpose private ranges Python 3.11 lists (RFC 1918, this network, loopback, link-local,
  IETF protocol assignments, documentation, benchmarking, reserved, broadcast). Takes the number so that
  callers parse the address once (`ipv4_number`).
*/
CREATE OR REPLACE MACRO ipv4_number_is_private(n) AS
  n BETWEEN 0 AND 16777215                 -- 0.0.0.0/8
  OR n BETWEEN 167772160 AND 184549375     -- 10.0.0.0/8
  OR n BETWEEN 2130706432 AND 2147483647   -- 127.0.0.0/8
  OR n BETWEEN 2851995648 AND 2852061183   -- 169.254.0.0/16
  OR n BETWEEN 2886729728 AND 2887778303   -- 172.16.0.0/12
  OR n BETWEEN 3221225472 AND 3221225479   -- 192.0.0.0/29
  OR n BETWEEN 3221225642 AND 3221225643   -- 192.0.0.170/31
  OR n BETWEEN 3221225984 AND 3221226239   -- 192.0.2.0/24
  OR n BETWEEN 3232235520 AND 3232301055   -- 192.168.0.0/16
  OR n BETWEEN 3323068416 AND 3323199487   -- 198.18.0.0/15
  OR n BETWEEN 3325256704 AND 3325256959   -- 198.51.100.0/24
  OR n BETWEEN 3405803776 AND 3405804031   -- 203.0.113.0/24
  OR n BETWEEN 4026531840 AND 4294967295   -- 240.0.0.0/4 and 255.255.255.255
