/*
title: is_system_namespace(namespace) — kube-system, kube-public, kube-node-lease, gke-system (Panther's list)
kind: macro
description: Namespaces where the control plane and the cloud provider run their own workloads.
*/
CREATE OR REPLACE MACRO is_system_namespace(namespace) AS coalesce(namespace IN ('kube-system', 'kube-public', 'kube-node-lease', 'gke-system'), false)
