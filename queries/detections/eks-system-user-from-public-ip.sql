/*
title: EKS system user calling from a public address
engines: [duckdb, spark]
description: >
  Panther's EKS rule: a final, non-403 request by a `system:` or `eks:` user whose first source address is
  public, except the EKS-managed addon and node managers running as AWSWesleyClusterManagerLambda, and
  real nodes (in system:nodes and system:authenticated) calling from AWS's network — known from the
  exporter's enrichment (MISP warning list amazon-aws, or ipinfo AS16509/amazon.com, kept in `extra`). Like
  Panther, only on EKS's logs (unless `eks_only` is false): see `eks-anonymous-access`. Like Panther, any
  `system:` name is a system user; with `admins_are_people`, one who is a person with administrative access
  (`actor_kind`: audit2rbac's system:admin in system:masters) is not, and is left out.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(d)]
mitre: [T1078.004]
reproduces:
  panther: [Amazon.EKS.Audit.SystemNamespaceFromPublicIP]
params:
  eks_only: {type: boolean, default: true, help: "Only events shaped as EKS's (Panther's log type); false: every cluster"}
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
audit:
  Amazon.EKS.Audit.SystemNamespaceFromPublicIP:
    upstream: 'On Amazon.EKS.Audit logs: a ResponseComplete, non-403 request by a system: or eks: user from a public first source IP, except eks:addon-manager and eks:node-manager as AWSWesleyClusterManagerLambda
      and nodes calling from AWS (enrichment).'
    ours: The same, on events that show EKS (`eks_only`).
    difference: None by default; `admins_are_people` narrows it, leaving out a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system user.
needs:
  - {level: Metadata}
*/
WITH public_sources AS (  -- each distinct source address (a lake holds few) classified once; the check reads the
  -- group's any_value so that it runs after the grouping, not on every request
  SELECT source_ip
  FROM final_requests
  WHERE in_window(received_at, date, $since, $until) AND ($cluster IS NULL OR cluster = $cluster)
  GROUP BY source_ip
  HAVING ip_is_global(any_value(source_ip))
)
SELECT *, user_name || ' ' || verb || ' ' || object
         || ' from public ' || source_ip AS summary
FROM final_requests JOIN public_sources USING (source_ip)
WHERE in_window(received_at, date, $since, $until)
  AND stage = 'ResponseComplete'
  AND coalesce(code, 0) <> 403
  AND (starts_with(user_name, 'system:') OR starts_with(user_name, 'eks:'))
  AND NOT ($admins_are_people AND actor_kind(user_name, user_groups, $admin_groups, $admin_users) = 'human')
  AND NOT (user_name IN ('eks:addon-manager', 'eks:node-manager')
           AND contains(coalesce(json_extract_string(user_extra, '$.arn[0]'), ''), ':assumed-role/AWSWesleyClusterManagerLambda'))
  AND NOT (starts_with(user_name, 'system:node:') AND list_has_all(coalesce(user_groups, []), ['system:nodes', 'system:authenticated'])
           AND (list_contains(coalesce(CAST(json_extract_string(extra, '$.p_enrichment.misp_warning_lists.p_any_ip_addresses[*].warning_lists[*].id') AS VARCHAR[]), []), 'amazon-aws')
                OR coalesce(json_extract_string(extra, '$.p_enrichment.ipinfo_asn.sourceIPs[0].asn') = 'AS16509'
                            AND json_extract_string(extra, '$.p_enrichment.ipinfo_asn.sourceIPs[0].domain') = 'amazon.com', false)))
  AND (NOT $eks_only OR coalesce(cloud_provider(user_name, user_extra, extra),
                                 CASE WHEN cluster IN (SELECT cluster FROM cluster_providers($since, $until) WHERE provider = 'eks') THEN 'eks' END) = 'eks')
  AND ($cluster IS NULL OR cluster = $cluster)
