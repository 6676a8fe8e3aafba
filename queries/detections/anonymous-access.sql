/*
title: Anonymous API access (beyond health checks and probes)
engines: [duckdb, spark]
description: >
  Any request by system:anonymous, allowed or not, except from localhost, health-check paths, and the load
  balancers' and kubelet's probes (ELB-HealthChecker from 10.0.x, kube-probe, GoogleHC). The summary says
  whether it was allowed.
severity: low
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1190, T1078.001]
reproduces:
  panther: [Kubernetes.API.AnonymousAccess]
params:
  probe_agents: {type: "varchar[]", default: [kube-probe/, GoogleHC/], help: User-agent prefixes of health probes}
audit:
  Kubernetes.API.AnonymousAccess:
    upstream: Any request by system:anonymous, except from sourceIPs [127.0.0.1], ELB-HealthChecker/2.0 from 10.0.x, user agents starting kube-probe/ or GoogleHC/, and URIs starting /healthz, /readyz, /livez
      (or /apis/…).
    ours: The same (`probe_agents` holds the two user-agent prefixes).
    difference: none
needs:
  - {level: Metadata}
*/
SELECT *, 'anonymous ' || verb || ' ' || coalesce(request_uri, object) || ' from ' || coalesce(source_ip, '?') || CASE WHEN decision = 'allow' OR (decision IS NULL AND code < 400) THEN ' (allowed)' ELSE ' (refused)' END AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND user_name = 'system:anonymous'
  AND NOT coalesce(source_ips = ['127.0.0.1'], false)
  AND NOT (coalesce(user_agent, '') = 'ELB-HealthChecker/2.0' AND starts_with(coalesce(source_ip, ''), '10.0.'))
  AND NOT list_bool_or(list_transform($probe_agents, lambda a: starts_with(coalesce(user_agent, ''), a)))
  AND NOT list_bool_or(list_transform(['/healthz', '/readyz', '/livez', '/apis/healthz', '/apis/readyz', '/apis/livez'], lambda p: starts_with(coalesce(request_uri, ''), p)))
  AND ($cluster IS NULL OR cluster = $cluster)
