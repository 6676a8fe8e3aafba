/*
title: NodePort service created — a port opened on every node
engines: [duckdb, spark]
description: >
  A Service of type NodePort created: it exposes a port on every node, around load balancers and network
  policy.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1133]
reproduces:
  falco: [Create NodePort Service]
  panther: [Kubernetes.Service.NodePort.Deployed, GCP.K8S.Service.Type.NodePort.Deployed]
params:
  include_failed: {type: boolean, default: false, help: "Also refused or failed creates (Falco's condition)"}
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
  AND ($include_failed OR (coalesce(code, 200) < 400 AND coalesce(json_extract_string(response_object, '$.status'), '') <> 'Failure'))
  AND ($cluster IS NULL OR cluster = $cluster)
