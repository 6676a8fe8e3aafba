/*
title: Port-forward to a pod
engines: [duckdb, spark]
description: >
  A tunnel from a client to a pod's ports (pods/portforward): reaches services that are not exposed.
  Falco's rule has no stage filter and fires for every stage of the request; this fires once per request.
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1572]
reproduces:
  falco: [port-forward]
audit:
  port-forward:
    upstream: Any event (every stage) of pods/portforward; any outcome, any user.
    ours: Each request to pods/portforward once.
    difference: One finding per request, not one per stage of it.
needs:
  - {level: Metadata, resources: [pods/portforward]}
*/
SELECT *, 'port-forward to ' || coalesce(namespace || '/', '') || coalesce(name, '') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND subresource = 'portforward'
  AND ($cluster IS NULL OR cluster = $cluster)
