/*
title: actor_kind(user) — human, serviceaccount, node, system or anonymous
kind: macro
description: >
  Classifies a Kubernetes username. Service accounts (system:serviceaccount:ns:name), kubelets
  (system:node:…), control-plane and cloud-provider identities (other system:…, eks:…, aks…) and
  unauthenticated requests are told apart; everything else is a person (OIDC, certificates, IAM).
*/
CREATE OR REPLACE MACRO actor_kind(user_name) AS CASE
  WHEN user_name IS NULL OR user_name = 'system:anonymous' THEN 'anonymous'
  WHEN user_name LIKE 'system:serviceaccount:%' THEN 'serviceaccount'
  WHEN user_name LIKE 'system:node:%' THEN 'node'
  WHEN user_name LIKE 'system:%' OR user_name LIKE 'eks:%' OR user_name LIKE 'aks%' OR user_name LIKE 'masterclient%' THEN 'system'
  ELSE 'human'
END
