/*
title: EKS system user calling from a public address
description: >
  Panther's EKS rule: a final, non-403 request by a `system:` or `eks:` user whose first source address is
  public, except the EKS-managed addon and node managers running as AWSWesleyClusterManagerLambda, and
  real nodes (in system:nodes and system:authenticated) calling from AWS's network — known from the
  exporter's enrichment (MISP warning list amazon-aws, or ipinfo AS16509/amazon.com, kept in `extra`).
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(d)]
mitre: [T1078.004]
reproduces:
  panther: [Amazon.EKS.Audit.SystemNamespaceFromPublicIP]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
needs:
  - {level: Metadata}
*/
SELECT received_at, cluster, 'eks-system-user-from-public-ip' AS rule, 'medium' AS severity,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name) AS object,
       user_name || ' ' || verb || ' ' || coalesce(nullif(object_text(resource, subresource, namespace, name), ''), request_uri, '')
         || ' from public ' || source_ip AS summary,
       audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage = 'ResponseComplete'
  AND coalesce(code, 0) <> 403
  AND (starts_with(user_name, 'system:') OR starts_with(user_name, 'eks:'))
  AND ip_is_global(source_ip)
  AND NOT (user_name IN ('eks:addon-manager', 'eks:node-manager')
           AND contains(coalesce(json_extract_string(user_extra, '$.arn[0]'), ''), ':assumed-role/AWSWesleyClusterManagerLambda'))
  AND NOT (starts_with(user_name, 'system:node:') AND list_has_all(coalesce(user_groups, []), ['system:nodes', 'system:authenticated'])
           AND (list_contains(coalesce(CAST(json_extract_string(extra, '$.p_enrichment.misp_warning_lists.p_any_ip_addresses[*].warning_lists[*].id') AS VARCHAR[]), []), 'amazon-aws')
                OR coalesce(json_extract_string(extra, '$.p_enrichment.ipinfo_asn.sourceIPs[0].asn') = 'AS16509'
                            AND json_extract_string(extra, '$.p_enrichment.ipinfo_asn.sourceIPs[0].domain') = 'amazon.com', false)))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
