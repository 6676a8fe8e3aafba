/*
title: Namespace created outside the allowed list
engines: [duckdb, spark]
description: >
  A Namespace created whose name is not in `allowed_namespaces` (Falco's default: kube-system, kube-
  public, default; extend it with yours).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
reproduces:
  falco: [Create Disallowed Namespace]
params:
  allowed_namespaces: {type: "varchar[]", default: [kube-system, kube-public, default], help: Namespaces that may be created}
audit:
  Create Disallowed Namespace:
    upstream: A ResponseComplete create of a namespace whose name is not in allowed_namespaces (kube-system, kube-public, default); any outcome.
    ours: The same list (`allowed_namespaces`); the name from the request object when objectRef has none.
    difference: "A create whose objectRef names nothing (the name only in the body): Falco's missing ka.target.name is in no list, so it fires whatever the name; this reads the body's name."
needs:
  - {level: Metadata, resources: [namespaces], verbs: [create]}
*/
SELECT *, 'namespace ' || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '(unnamed)') || ' created' || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'namespaces'
  AND subresource IS NULL
  AND verb = 'create'
  AND NOT list_contains($allowed_namespaces, coalesce(name, json_extract_string(request_object, '$.metadata.name'), ''))
  AND ($cluster IS NULL OR cluster = $cluster)
