/*
title: Client certificate requested for the API server
engines: [duckdb, spark]
description: >
  A CertificateSigningRequest for a client certificate (usage `client auth`, or signer kubernetes.io/kube-
  apiserver-client) created by someone other than the control plane and node bootstrap: a long-lived
  credential that survives token revocation.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1552.007]
reproduces:
  panther: [Kubernetes.ClientCertificate.Created]
params:
  bootstrap_users: {type: "varchar[]", default: [kubelet-nodepool-bootstrap], help: Node bootstrap identities}
audit:
  Kubernetes.ClientCertificate.Created:
    upstream: Create of a CertificateSigningRequest, not failed, not by a system principal or kubelet-nodepool-bootstrap, whose usages hold client auth or whose signer is kubernetes.io/kube-apiserver-client.
    ours: The same (`bootstrap_users` holds the bootstrap identity).
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Request, group: certificates.k8s.io, resources: [certificatesigningrequests], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' requested client certificate ' || coalesce(name, '') || ' (' || coalesce(json_extract_string(request_object, '$.spec.signerName'), 'no signer') || ')' AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'certificatesigningrequests'
  AND subresource IS NULL
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people)
  AND NOT list_contains($bootstrap_users, coalesce(user_name, ''))
  AND (list_contains(coalesce(CAST(json_extract_string(request_object, '$.spec.usages[*]') AS VARCHAR[]), []), 'client auth') OR contains(coalesce(json_extract_string(request_object, '$.spec.signerName'), ''), 'kubernetes.io/kube-apiserver-client'))
  AND ($cluster IS NULL OR cluster = $cluster)
