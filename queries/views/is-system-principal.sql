/*
title: is_system_principal(user, groups, admin_groups, admin_users, admins_are_people) — a control-plane or cloud-provider identity (Panther's definition)
kind: macro
description: >
  Panther's `is_system_principal`: kube-system service accounts, `eks:`, `masterclient`, `gke-`, `azure-`,
  `aksService`, and every `system:` user that is not a service account (nodes, controllers, the scheduler,
  system:anonymous). Panther also lists `.iam.gserviceaccount.com` as a prefix, which can never match an
  e-mail address; what it means is the suffix of GCP service accounts, read here as such. Panther goes by
  the name alone, and so does this by default; with `admins_are_people` a person with administrative access
  (`actor_kind` human: audit2rbac's `system:admin` in system:masters, a member of `admin_groups`, a user in
  `admin_users`) is never one, whatever the name.
*/
CREATE OR REPLACE MACRO is_system_principal(user_name, groups := NULL, admin_groups := NULL, admin_users := NULL,
                                            admins_are_people := false) AS CASE  -- a CASE: `actor_kind` runs only where it decides
  WHEN coalesce(NOT (starts_with(user_name, 'system:serviceaccount:kube-system:') OR starts_with(user_name, 'eks:')
                     OR starts_with(user_name, 'masterclient') OR starts_with(user_name, 'gke-') OR starts_with(user_name, 'azure-')
                     OR user_name = 'aksService' OR ends_with(user_name, '.iam.gserviceaccount.com')
                     OR (starts_with(user_name, 'system:') AND NOT contains(user_name, 'serviceaccount'))), true) THEN false
  WHEN coalesce(admins_are_people, false) THEN actor_kind(user_name, groups, admin_groups, admin_users) <> 'human'
  ELSE true
END
