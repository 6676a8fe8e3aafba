/*
title: API requests from Tor exit nodes
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
needs:
  - {level: Metadata}
*/
SELECT received_at, cluster,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name, request_uri) AS object,
       coalesce(impersonated_user, user_name, '(no user)') || ' ' || verb || ' ' || object_text(resource, subresource, namespace, name, request_uri) || ' from Tor exit node ' || coalesce(source_ip, '?') AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND (list_contains(coalesce($tor_exit_nodes, []), source_ip) OR coalesce(json_array_length(json_extract(extra, '$.p_enrichment.tor_exit_nodes')), 0) > 0)
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
