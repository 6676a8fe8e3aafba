/*
title: Individual access to sensitive data — secrets, configmaps, pod logs and sessions, per person
engines: [duckdb, spark]
description: >
  Every read of a Secret or ConfigMap, every pod log read and every exec, attach or port-forward by a
  person (not a node, controller or service account) in the namespaces that hold sensitive data: the ones
  named in `namespaces`, the ones whose Namespace object carries the `namespace_label` (key=value, as seen
  in create/update bodies in the lake), or all namespaces when neither is given.
severity: high
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(b), hipaa:164.312(a)(1)]
params:
  namespaces: {type: "varchar[]", help: "Namespaces that hold sensitive data (comma-separated)"}
  namespace_label: {type: varchar, help: "A label (key=value) that marks namespaces holding sensitive data"}
needs:
  - {level: Metadata, resources: [secrets, configmaps, pods/log, pods/exec, pods/attach, pods/portforward]}
  - {level: RequestResponse, resources: [namespaces], verbs: [create, update, patch]}
*/
WITH labelled AS (
    SELECT DISTINCT name
    FROM events
    WHERE $namespace_label IS NOT NULL AND resource = 'namespaces' AND subresource IS NULL
      AND verb IN ('create', 'update', 'patch') AND code < 300
      AND json_extract_string(coalesce(response_object, request_object),
                              '$.metadata.labels."' || split_part($namespace_label, '=', 1) || '"')
          = split_part($namespace_label, '=', 2)
)
SELECT received_at, cluster, coalesce(impersonated_user, user_name) AS person, verb,
       resource || coalesce('/' || subresource, '') AS target, namespace, name, source_ip, user_agent, code, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) = 'human'
  AND ((resource IN ('secrets', 'configmaps') AND subresource IS NULL AND verb IN ('get', 'list', 'watch'))
       OR (resource = 'pods' AND subresource IN ('log', 'exec', 'attach', 'portforward')))
  AND (($namespaces IS NULL AND $namespace_label IS NULL)
       OR list_contains(coalesce($namespaces, []), namespace)
       OR namespace IN (SELECT name FROM labelled))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
