/*
title: Changed objects — every write to the objects that changed in the window, with bodies
engines: [duckdb, spark]
description: >
  The raw material of `auditlake changes`: for every object written to in the window (optionally of one
  resource or namespace), all its successful writes up to the end of the window, so each change can be
  diffed against the state before it, even when that state was written before the window began.
severity: info
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(c)(1)]
params:
  resource: {type: varchar, help: "Only this resource, plural (deployments, configmaps, …)"}
  namespace: {type: varchar, help: Only this namespace}
  include_noise: {type: boolean, default: false, help: "Also the writes is_noise_write leaves out: events, leases, access reviews, token requests"}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: RequestResponse, group: apps, resources: [deployments, statefulsets, daemonsets], verbs: [create, update, patch, delete]}
*/
WITH touched AS (
  SELECT DISTINCT cluster, resource, namespace, name
  FROM changes
  WHERE in_window(received_at, date, $since, $until) AND NOT is_status_only AND name IS NOT NULL
    AND ($cluster IS NULL OR cluster = $cluster)
    AND ($resource IS NULL OR resource = $resource)
    AND ($namespace IS NULL OR namespace = $namespace)
    AND ($include_noise OR NOT is_noise_write(resource, subresource))
)
SELECT c.received_at, c.cluster, c.api_group, c.resource, c.verb, c.subresource, c.namespace, c.name, c.actor,
       actor_kind(c.actor, c.actor_groups, $admin_groups, $admin_users) AS actor_kind,
       c.authenticated_user, c.impersonated_user, c.user_extra, c.source_ip, c.user_agent, c.code, c.level, c.audit_id,
       c.request_object, c.response_object
FROM changes AS c
JOIN touched AS t ON c.cluster = t.cluster AND c.resource = t.resource AND c.name = t.name AND c.namespace IS NOT DISTINCT FROM t.namespace
WHERE c.received_at < $until AND NOT c.is_status_only
ORDER BY c.cluster, c.resource, c.namespace, c.name, c.received_at, c.source_file, c.source_line, c.source_item, c.audit_id
