/*
title: Deployment patched (possible sidecar injection)
engines: [duckdb, spark]
description: >
  A patch to a Deployment, the way a sidecar container is slipped into a running workload. Noisy where
  pipelines patch deployments: read it with the change history. Sigma's field `apiGroup` is
  objectRef.apiGroup in the Event.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1609]
reproduces:
  sigma: [Potential Sidecar Injection Into Running Deployment]
audit:
  Potential Sidecar Injection Into Running Deployment:
    upstream: 'Verb patch of deployments with a top-level field apiGroup apps: the audit Event has none (it is objectRef.apiGroup), so as written it never fires.'
    ours: Patch of a Deployment (objectRef.apiGroup apps, not a subresource such as scale); any outcome, any user.
    difference: Upstream's selection never matches; this reads what it means (a patch of the Deployment itself, not of its scale).
needs:
  - {level: Metadata, group: apps, resources: [deployments], verbs: [patch]}
*/
SELECT *, 'deployment ' || coalesce(namespace || '/', '') || coalesce(name, '') || ' patched by ' || coalesce(actor, '(no user)') || coalesce(' (containers now: ' || array_to_string(CAST(json_extract_string(request_object, '$.spec.template.spec.containers[*].name') AS VARCHAR[]), ', ') || ')', '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND verb = 'patch'
  AND api_group = 'apps'
  AND resource = 'deployments'
  AND subresource IS NULL
  AND ($cluster IS NULL OR cluster = $cluster)
