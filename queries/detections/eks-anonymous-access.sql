/*
title: Anonymous access to an EKS API server
engines: [duckdb, spark]
description: >
  Panther's EKS rule: any request by system:anonymous (health checks included), except from localhost and
  from AWS load-balancer health checks on private addresses. Panther runs it on EKS logs only; so does this
  (unless `eks_only` is false): on events that show EKS themselves, and on events that show no cloud in a
  cluster whose events in the window show EKS and no other cloud (`cloud_provider`, `cluster_providers`:
  an `eks:` user, aws-iam-authenticator's IAM extras, an export's `p_log_type: Amazon.EKS.Audit`). GKE and
  AKS events never. Elsewhere `anonymous-access` (the same question without health checks) answers it.
severity: low
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1190]
reproduces:
  panther: [Amazon.EKS.AnonymousAPIAccess]
params:
  eks_only: {type: boolean, default: true, help: "Only events shaped as EKS's (Panther's log type); false: every cluster"}
audit:
  Amazon.EKS.AnonymousAPIAccess:
    upstream: 'On Amazon.EKS.Audit logs: any request by system:anonymous except from sourceIPs [127.0.0.1] and ELB-HealthChecker/2.0 from a private address.'
    ours: The same, on events that show EKS (`eks_only`).
    difference: none
needs:
  - {level: Metadata}
*/
SELECT *, 'anonymous ' || verb || ' ' || coalesce(request_uri, '') || ' from ' || coalesce(source_ip, '?') || ' (' || coalesce(decision, CAST(code AS VARCHAR), '?') || ')' AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND (NOT $eks_only OR coalesce(cloud_provider(user_name, user_extra, extra),
                                 CASE WHEN cluster IN (SELECT cluster FROM cluster_providers($since, $until) WHERE provider = 'eks') THEN 'eks' END) = 'eks')
  AND user_name = 'system:anonymous'
  AND NOT coalesce(source_ips = ['127.0.0.1'], false)
  AND NOT (coalesce(user_agent, '') = 'ELB-HealthChecker/2.0' AND coalesce(ip_is_private(source_ip), false))
  AND ($cluster IS NULL OR cluster = $cluster)
