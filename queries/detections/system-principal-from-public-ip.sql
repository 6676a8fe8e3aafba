/*
title: System identity used from a public address outside the cloud
engines: [duckdb, spark]
description: >
  A service account, node or cloud-managed identity (system:serviceaccount:…, system:node:…, eks:…, aks:…)
  whose request came only from public addresses: these identities live inside the cluster, so their
  credentials are being used from outside. Left out: 403s, requests with any private source address,
  the cloud's own managed callers (EKS addon/node managers running as AWSWesleyClusterManagerLambda, AKS
  CSI drivers and cloud-node-manager), and nodes calling from their cloud's network (AWS AS16509, Azure
  AS8075, Google AS15169/AS396982) when the exporter's enrichment names the ASN (ipinfo in `extra`).
severity: high
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(d)]
mitre: [T1078.004, T1528]
reproduces:
  panther: [Kubernetes.System.Principal.PublicIP]
params:
  managed_identities: {type: "varchar[]", default: ["system:serviceaccount:kube-system:csi-azuredisk-node-sa", "system:serviceaccount:kube-system:csi-azurefile-node-sa", "system:serviceaccount:kube-system:csi-secrets-store-provider-azure", "system:serviceaccount:kube-system:cloud-node-manager"], help: Cloud-managed identities that call from public addresses}
  cloud_asns: {type: "varchar[]", default: [AS16509, AS8075, AS15169, AS396982], help: Autonomous systems of the cloud providers' networks}
audit:
  Kubernetes.System.Principal.PublicIP:
    upstream: 'A non-403 request by system:serviceaccount:, system:node:, eks: or aks: users whose source IPs are all valid and public, except EKS managers as AWSWesleyClusterManagerLambda, AKS CSI drivers
      and cloud-node-manager, and nodes from their cloud''s ASN.'
    ours: The same (`managed_identities`, `cloud_asns`).
    difference: none
needs:
  - {level: Metadata}
*/
WITH public_sources AS (  -- each distinct list of source addresses a finding can have (one public, none private), of
  -- the requests the cheap conditions below keep: the lists classified once, and the requests' own columns then read
  -- only for those lists. The check reads the group's any_value so that it runs after the grouping, not on every request.
  SELECT source_ips
  FROM final_requests
  WHERE in_window(received_at, date, $since, $until) AND array_length(source_ips) > 0 AND ($cluster IS NULL OR cluster = $cluster)
    AND coalesce(code, 0) <> 403
    AND (starts_with(user_name, 'system:serviceaccount:') OR starts_with(user_name, 'system:node:') OR starts_with(user_name, 'eks:') OR starts_with(user_name, 'aks:'))
    AND NOT list_contains($managed_identities, user_name)
  GROUP BY source_ips
  HAVING NOT list_bool_or(list_transform(any_value(source_ips), lambda ip: coalesce(NOT ip_is_global(ip), false)))
     AND list_bool_or(list_transform(any_value(source_ips), lambda ip: coalesce(ip_is_global(ip), false)))
)
SELECT *, user_name || ' ' || verb || ' ' || coalesce(nullif(object, ''), request_uri, '')
         || ' from public ' || array_to_string(source_ips, ', ')
         || coalesce(' (' || json_extract_string(extra, '$.p_enrichment.ipinfo_asn.sourceIPs[0].asn') || ')', '') AS summary
FROM final_requests JOIN public_sources USING (source_ips)
WHERE in_window(received_at, date, $since, $until)
  AND coalesce(code, 0) <> 403
  AND (starts_with(user_name, 'system:serviceaccount:') OR starts_with(user_name, 'system:node:') OR starts_with(user_name, 'eks:') OR starts_with(user_name, 'aks:'))
  AND NOT (user_name IN ('eks:addon-manager', 'eks:node-manager')
           AND contains(coalesce(json_extract_string(user_extra, '$.arn[0]'), ''), ':assumed-role/AWSWesleyClusterManagerLambda'))
  AND NOT list_contains($managed_identities, user_name)
  AND NOT (starts_with(user_name, 'system:node:')
           AND coalesce(list_contains($cloud_asns, json_extract_string(extra, '$.p_enrichment.ipinfo_asn.sourceIPs[0].asn')), false))
  AND ($cluster IS NULL OR cluster = $cluster)
