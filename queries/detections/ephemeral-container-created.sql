/*
title: Ephemeral (debug) container added to a running pod
engines: [duckdb, spark]
description: >
  kubectl debug adds an ephemeral container through the pods/ephemeralcontainers subresource: a shell in a
  running workload.
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1609]
reproduces:
  falco: [EphemeralContainers Created]
audit:
  EphemeralContainers Created:
    upstream: A ResponseComplete create, update or patch of pods/ephemeralcontainers; any outcome, any user.
    ours: The same.
    difference: none
needs:
  - {level: Metadata, resources: [pods/ephemeralcontainers]}
*/
SELECT *, 'ephemeral container added to pod ' || coalesce(namespace || '/', '') || coalesce(name, '') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'pods'
  AND subresource = 'ephemeralcontainers'
  AND coalesce(verb IN ('create', 'update', 'patch'), false)
  AND ($cluster IS NULL OR cluster = $cluster)
