/*
title: ip_network(ip, ipv4_prefix, ipv6_prefix) — the network an address belongs to, as `203.0.113.0/24` or `2001:db8:0:1::/64`
kind: macro
description: >
  The address with its host bits cleared: an IPv4 address to its first `ipv4_prefix` bits (0–32), an IPv6
  address to its first `ipv6_prefix` bits in whole groups of 16 (64 → the first four groups; a prefix that is
  not a multiple of 16 is rounded down), `::` expanded and leading zeros dropped, so every spelling of an
  address gives one network. Anything else (a host name, an IPv4-mapped IPv6 address, an empty value) is
  returned as it is, so it is still a key of its own. `first-source-network-for-identity` keys on it.
*/
CREATE OR REPLACE MACRO ip_network(ip, ipv4_prefix, ipv6_prefix) AS coalesce(
  list_transform([ipv4_number(ip)], lambda n: list_transform([n - n % CAST(pow(2, 32 - ipv4_prefix) AS BIGINT)],
    lambda m: CAST(CAST(floor(m / 16777216) AS BIGINT) AS VARCHAR) || '.' || CAST(CAST(floor(m / 65536) AS BIGINT) % 256 AS VARCHAR) || '.'
              || CAST(CAST(floor(m / 256) AS BIGINT) % 256 AS VARCHAR) || '.' || CAST(m % 256 AS VARCHAR) || '/' || CAST(ipv4_prefix AS VARCHAR))[1])[1],
  CASE WHEN regexp_full_match(coalesce(ip, ''), '[0-9a-fA-F:]+') AND contains(ip, ':') THEN
    list_transform([list_filter(string_split(split_part(lower(ip), '::', 1), ':'), lambda g: g <> '')],
      lambda head: list_transform([CASE WHEN contains(ip, '::') THEN list_filter(string_split(split_part(lower(ip), '::', 2), ':'), lambda g: g <> '') ELSE CAST([] AS VARCHAR[]) END],
        lambda tail: array_to_string(list_transform(
            list_concat(head, list_transform(list_filter([1, 2, 3, 4, 5, 6, 7, 8], lambda i: i <= 8 - array_length(head) - array_length(tail)), lambda i: '0'),
                        tail)[1:CAST(floor(ipv6_prefix / 16) AS INTEGER)],
            lambda g: coalesce(nullif(regexp_replace(g, '^0+', ''), ''), '0')), ':')
          || CASE WHEN ipv6_prefix < 128 THEN '::' ELSE '' END || '/' || CAST(CAST(floor(ipv6_prefix / 16) * 16 AS INTEGER) AS VARCHAR))[1])[1]
  END,
  ip)
