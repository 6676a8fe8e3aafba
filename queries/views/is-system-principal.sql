/*
title: is_system_principal(user) — a control-plane or cloud-provider identity (Panther's definition)
kind: macro
description: >
  Panther's `is_system_principal`: kube-system service accounts, `eks:`, `masterclient`, `gke-`, `azure-`,
  `aksService`, and every `system:` user that is not a service account (nodes, controllers, the scheduler,
  system:anonymous). Panther also lists `.iam.gserviceaccount.com` as a prefix, which can never match an
  e-mail address; what it means is the suffix of GCP service accounts, read here as such.
*/
CREATE OR REPLACE MACRO is_system_principal(user_name) AS coalesce(
  starts_with(user_name, 'system:serviceaccount:kube-system:') OR starts_with(user_name, 'eks:')
  OR starts_with(user_name, 'masterclient') OR starts_with(user_name, 'gke-') OR starts_with(user_name, 'azure-')
  OR user_name = 'aksService' OR ends_with(user_name, '.iam.gserviceaccount.com')
  OR (starts_with(user_name, 'system:') AND NOT contains(user_name, 'serviceaccount')), false)
