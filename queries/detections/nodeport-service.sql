/*
title: NodePort service created — a port opened on every node
engines: [duckdb, spark]
description: >
  A Service of type NodePort created: it exposes a port on every node, around load balancers and network
  policy. Any outcome (Falco); `ignore_failed` leaves out refused and failed creates (Panther).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1133]
reproduces:
  falco: [Create NodePort Service]
  panther: [Kubernetes.Service.NodePort.Deployed, GCP.K8S.Service.Type.NodePort.Deployed]
params:
audit:
  Create NodePort Service:
    upstream: Create of a Service of type NodePort; any outcome, any user.
    ours: The same.
    difference: none
  Kubernetes.Service.NodePort.Deployed:
    upstream: Create of a Service of type NodePort, not failed.
    ours: Any outcome (Falco's rule).
    difference: Also refused or failed creates (Falco's rule counts them).
    params:
      ignore_failed: true
  GCP.K8S.Service.Type.NodePort.Deployed:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE service create of type NodePort, authorized and not failed.'
    ours: Falco's and Panther's Kubernetes rules (above), which run by default.
    difference: Upstream runs nothing by default for this rule.
    params:
      ignore_failed: true
needs:
  - {level: Request, resources: [services], verbs: [create]}
*/
SELECT *, 'NodePort service ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ports ' || coalesce(CAST(json_extract(request_object, '$.spec.ports[*].nodePort') AS VARCHAR), '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'services'
  AND subresource IS NULL
  AND verb = 'create'
  AND json_extract_string(request_object, '$.spec.type') = 'NodePort'
  AND NOT ($ignore_failed AND NOT (coalesce(code, 200) < 400 AND coalesce(json_extract_string(response_object, '$.status'), '') <> 'Failure'))
  AND ($cluster IS NULL OR cluster = $cluster)
