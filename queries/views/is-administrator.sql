/*
title: is_administrator(user, groups, admin_groups, admin_users) — a person with administrative access
kind: macro
description: >
  A person (`actor_kind` human) who is in system:masters, in one of `admin_groups`, or named in
  `admin_users`: the individuals PCI-DSS 10.2.1.2 asks about. The apiserver's own loopback client and
  the cloud's managed callers are in system:masters too, and are not people.
*/
CREATE OR REPLACE MACRO is_administrator(user_name, groups, admin_groups, admin_users) AS
  actor_kind(user_name, groups, admin_groups, admin_users) = 'human'
  AND (list_contains(coalesce(admin_users, []), user_name)
       OR list_has_any(coalesce(groups, []), list_concat(['system:masters'], coalesce(admin_groups, []))))
