/*
title: admin_binding_in_reason(reason, roles) — the ClusterRoleBinding an authorisation reason names, when its ClusterRole is one of roles
kind: macro
description: >
  The apiserver's RBAC authoriser says which binding allowed a request: `RBAC: allowed by ClusterRoleBinding
  "X" of ClusterRole "cluster-admin" to User "bob"`. This is `X` when the ClusterRole is in `roles`, and ''
  otherwise (another role, a RoleBinding, another authoriser, no reason).
*/
CREATE OR REPLACE MACRO admin_binding_in_reason(reason, roles) AS
  CASE WHEN contains(coalesce(reason, ''), '" of ClusterRole "')
        AND list_contains(roles, regexp_extract(reason, 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 2))
       THEN regexp_extract(reason, 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 1) ELSE '' END
