/*
title: Ingress created without TLS
engines: [duckdb, spark]
description: >
  An Ingress created with no spec.tls, and not refused: traffic to it is plain HTTP. Anyone, anywhere (Falco);
  `ignore_system_principals` leaves out system namespaces and control-plane identities (Panther).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1040]
reproduces:
  falco: [Ingress Object without TLS Certificate Created]
  panther: [Kubernetes.Ingress.NoTLS]
audit:
  Ingress Object without TLS Certificate Created:
    upstream: Create of an Ingress with a 2xx response and no spec.tls; any user, any namespace.
    ours: Create of an Ingress that did not fail (code below 400) with no or an empty spec.tls; any user, any namespace.
    difference: Also an Ingress whose spec.tls is an empty list (Panther's rule counts it).
  Kubernetes.Ingress.NoTLS:
    upstream: Create of an Ingress, not failed, outside system namespaces, not by a system principal, with no or an empty spec.tls.
    ours: The same, in every namespace and by anyone (Falco's rule).
    difference: Also system namespaces and system principals (Falco's rule counts both).
    params:
      ignore_system_principals: true
needs:
  - {level: Request, group: networking.k8s.io, resources: [ingresses], verbs: [create]}
*/
SELECT *, 'ingress ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' created without TLS by ' || coalesce(actor, '(no user)') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'ingresses'
  AND subresource IS NULL
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
  AND NOT ($ignore_system_principals AND coalesce(namespace IN ('kube-system', 'gke-system', 'kube-node-lease', 'kube-public'), false))
  AND coalesce(json_array_length(json_extract(request_object, '$.spec.tls')), 0) = 0
  AND ($cluster IS NULL OR cluster = $cluster)
