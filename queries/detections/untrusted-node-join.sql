/*
title: Node outside the allowed list joining (or trying to join) the cluster
engines: [duckdb, spark]
description: >
  A Node object created whose name is not in `allowed_nodes`; the summary says whether it succeeded. Inert
  until the list is given, as upstream (allow_all_k8s_nodes is always true).
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1078]
reproduces:
  falco: [Untrusted Node Successfully Joined the Cluster, Untrusted Node Unsuccessfully Tried to Join the Cluster]
params:
  allowed_nodes: {type: "varchar[]", help: "Node names allowed to join (the rule is off when not given)"}
audit:
  Untrusted Node Successfully Joined the Cluster:
    upstream: 'Inert: allow_all_k8s_nodes is always true until overridden (then: a 2xx create of a node not in allowed_k8s_nodes).'
    ours: 'Inert until `allowed_nodes` is given (then: every create of a node not in it, the summary saying whether it joined).'
    difference: none
  Untrusted Node Unsuccessfully Tried to Join the Cluster:
    upstream: 'Inert, as above (then: a create of a node not in the list whose response is not 2xx).'
    ours: 'As above: one detection for both outcomes.'
    difference: none
needs:
  - {level: Metadata, resources: [nodes], verbs: [create]}
*/
SELECT *, 'node ' || coalesce(name, '') || CASE WHEN code BETWEEN 200 AND 299 THEN ' joined the cluster' ELSE ' tried to join the cluster (' || coalesce(CAST(code AS VARCHAR), 'no code') || ')' END AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND $allowed_nodes IS NOT NULL
  AND resource = 'nodes'
  AND subresource IS NULL
  AND verb = 'create'
  AND NOT list_contains($allowed_nodes, coalesce(name, ''))
  AND ($cluster IS NULL OR cluster = $cluster)
