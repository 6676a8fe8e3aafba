/*
title: Certificate signing requests and approvals
engines: [duckdb, spark]
description: >
  CertificateSigningRequests created, approved (the approval subresource) or deleted: a client
  certificate signed by the cluster CA is a long-lived credential.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1649]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Request, group: certificates.k8s.io, resources: [certificatesigningrequests], verbs: [create]}
  - {level: Metadata, group: certificates.k8s.io, resources: [certificatesigningrequests/approval], verbs: [update, patch]}
*/
SELECT received_at, cluster, name AS csr, verb, coalesce(subresource, '') AS subresource,
       CASE WHEN subresource = 'approval' THEN 'approval' WHEN verb = 'create' AND subresource IS NULL THEN 'request'
            WHEN verb IN ('delete', 'deletecollection') THEN 'deletion' ELSE 'update' END AS action,
       coalesce(json_extract_string(request_object, '$.spec.signerName'), json_extract_string(response_object, '$.spec.signerName')) AS signer,
       actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'certificatesigningrequests'
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
