/*
title: API requests from Tor exit nodes
engines: [duckdb, spark]
description: >
  Requests whose source address is a Tor exit node: in `tor_exit_nodes` (give the current list, e.g. from
  check.torproject.org), or marked so by the exporter's enrichment (Panther's p_enrichment.tor_exit_nodes,
  kept in `extra`).
severity: medium
controls: [pci-dss-4.0:10.2.1.4, hipaa:164.308(a)(5)(ii)(C)]
mitre: [T1090.003]
reproduces:
  panther: [Kubernetes.API.IOC.Activity, GCP.K8s.IOC.Activity]
params:
  tor_exit_nodes: {type: "varchar[]", help: "Tor exit-node addresses (none by default: only enrichment in the events is used)"}
audit:
  Kubernetes.API.IOC.Activity:
    upstream: Any request whose p_enrichment names a Tor exit node.
    ours: The same, and addresses in `tor_exit_nodes` (empty by default).
    difference: none
  GCP.K8s.IOC.Activity:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE entry whose p_enrichment names a Tor exit node.'
    ours: Panther's Kubernetes rule (above), which runs by default.
    difference: Upstream runs nothing by default for this rule.
needs:
  - {level: Metadata}
*/
SELECT *, coalesce(actor, '(no user)') || ' ' || verb || ' ' || object || ' from Tor exit node ' || coalesce(source_ip, '?') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND (list_contains(coalesce($tor_exit_nodes, []), source_ip) OR coalesce(json_array_length(json_extract(extra, '$.p_enrichment.tor_exit_nodes')), 0) > 0)
  AND ($cluster IS NULL OR cluster = $cluster)
