/*
title: Secret read refused or failed
engines: [duckdb, spark]
description: >
  A get of a Secret that did not succeed (403 forbidden, 404, or no response code).
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1552.007]
reproduces:
  falco: [K8s Secret Get Unsuccessfully Tried]
audit:
  K8s Secret Get Unsuccessfully Tried:
    upstream: A ResponseComplete get of a secret whose response code does not start with 2 (or is missing); any user.
    ours: The same.
    difference: none
needs:
  - {level: Metadata, resources: [secrets], verbs: [get]}
*/
SELECT *, coalesce(actor, '(no user)') || ' failed to read secret ' || coalesce(namespace || '/', '') || coalesce(name, '') || coalesce(' (' || code || ')', '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets'
  AND subresource IS NULL
  AND verb = 'get'
  AND coalesce(code NOT BETWEEN 200 AND 299, true)
  AND ($cluster IS NULL OR cluster = $cluster)
