/*
title: actor_kind(user, groups, admin_groups, admin_users) — human, serviceaccount, node, system or anonymous
kind: macro
description: >
  The one classification of identities: every saved query and detection that tells people from machines
  uses it. Pass the effective identity, `coalesce(impersonated_user, user_name)` and
  `actor_groups(user_groups, impersonated_user, impersonated_groups)`: whoever a request impersonates is
  who acted. Service accounts (system:serviceaccount:…, Google's …gserviceaccount.com) and kubelets
  (system:node:…, the system:nodes group) are themselves. Users named in `admin_users` are people. The
  control plane and the cloud's own callers (system:apiserver and the other kube components, eks:…,
  aks:…, aksService, masterclient, nodeclient, gke- and azure- names) are `system`, even in system:masters.
  Any other member of system:masters or of `admin_groups` is a person with administrative access whatever
  the name (audit2rbac's `system:admin`); other `system:` users are `system`; everyone else (OIDC,
  certificates, IAM) is a person. Without the two lists (the views, the DuckDB shell) only system:masters
  makes an administrator.
*/
CREATE OR REPLACE MACRO actor_kind(user_name, groups := NULL, admin_groups := NULL, admin_users := NULL) AS CASE
  WHEN user_name IS NULL OR user_name = 'system:anonymous' THEN 'anonymous'
  WHEN starts_with(user_name, 'system:serviceaccount:') OR ends_with(user_name, '.gserviceaccount.com') THEN 'serviceaccount'
  WHEN starts_with(user_name, 'system:node:') OR list_contains(coalesce(groups, []), 'system:nodes') THEN 'node'
  WHEN list_contains(coalesce(admin_users, []), user_name) THEN 'human'
  WHEN user_name IN ('system:apiserver', 'system:volume-scheduler', 'system:cloud-controller-manager', 'system:addon-manager',
                     'aksService', 'nodeclient')
    OR starts_with(user_name, 'system:kube-') OR starts_with(user_name, 'system:gke-') OR starts_with(user_name, 'eks:')
    OR starts_with(user_name, 'aks:') OR starts_with(user_name, 'gke-') OR starts_with(user_name, 'azure-')
    OR starts_with(user_name, 'masterclient') THEN 'system'
  WHEN list_has_any(coalesce(groups, []), list_concat(['system:masters'], coalesce(admin_groups, []))) THEN 'human'
  WHEN starts_with(user_name, 'system:') THEN 'system'
  ELSE 'human'
END
