/*
title: actor_groups(user_groups, impersonated_user, impersonated_groups) — the groups of whoever acted
kind: macro
description: >
  A request that impersonates (`kubectl --as bob --as-group …`) acts with the impersonated user's groups
  (the apiserver logs them under impersonatedUser, e.g. only system:authenticated), not the impersonator's:
  audit2rbac's `system:admin` is in system:masters, `bob` whom it impersonates is not. An empty list when
  the event names none.
*/
CREATE OR REPLACE MACRO actor_groups(user_groups, impersonated_user, impersonated_groups) AS
  coalesce(CASE WHEN impersonated_user IS NULL THEN user_groups ELSE impersonated_groups END, CAST([] AS VARCHAR[]))
