/*
title: Noise writes — what `auditlake changes` leaves out, per resource
engines: [duckdb, spark]
description: >
  Successful writes in the window that `changes` does not show unless given --include-noise (see
  is_noise_write: leases, events, access and token reviews, …), counted per resource, so an answer
  that left them out says how much it left out.
severity: info
controls: [pci-dss-4.0:10.2.1.2]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, verbs: [create, update, patch, delete]}
*/
SELECT resource || coalesce('/' || subresource, '') AS resource, count(*) AS writes
FROM changes
WHERE in_window(received_at, date, $since, $until) AND NOT is_status_only AND name IS NOT NULL
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
  AND is_noise_write(resource, subresource)
GROUP BY ALL
ORDER BY writes DESC, resource
