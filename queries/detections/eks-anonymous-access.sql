/*
title: Anonymous access to an EKS API server
description: >
  Panther's EKS rule: any request by system:anonymous (health checks included), except from localhost and
  from AWS load-balancer health checks on private addresses. Panther runs it on EKS logs only; so does this
  (unless `eks_only` is false): on clusters whose events in the window show they are EKS — an `eks:` user,
  an IAM `arn` in user.extra, or an export's `p_log_type: Amazon.EKS.Audit`. Elsewhere `anonymous-access`
  (the same question without health checks) answers it.
severity: low
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1190]
reproduces:
  panther: [Amazon.EKS.AnonymousAPIAccess]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
  eks_only: {type: boolean, default: true, help: "Only clusters the window shows to be EKS (Panther's log type); false: every cluster"}
needs:
  - {level: Metadata}
*/
SELECT received_at, cluster, 'eks-anonymous-access' AS rule, 'low' AS severity,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name) AS object,
       'anonymous ' || verb || ' ' || coalesce(request_uri, '') || ' from ' || coalesce(source_ip, '?') || ' (' || coalesce(decision, CAST(code AS VARCHAR), '?') || ')' AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND (NOT $eks_only OR cluster IN (
        SELECT DISTINCT cluster FROM events
        WHERE in_window(received_at, date, $since, $until)
          AND (starts_with(user_name, 'eks:') OR json_exists(user_extra, '$.arn')
               OR json_extract_string(extra, '$.p_log_type') = 'Amazon.EKS.Audit')))
  AND is_final(stage)
  AND user_name = 'system:anonymous'
  AND NOT coalesce(source_ips = ['127.0.0.1'], false)
  AND NOT (coalesce(user_agent, '') = 'ELB-HealthChecker/2.0' AND coalesce(ip_is_private(source_ip), false))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
