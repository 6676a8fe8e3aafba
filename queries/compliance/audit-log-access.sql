/*
title: Access to audit logs and audit configuration
description: >
  Requests that can read or change audit trails through the API: the apiserver's /logs endpoint (node
  logs, where the audit log lives on self-managed control planes), node proxies to kubelet /logs, logs
  and exec of kube-apiserver pods, and any object whose name mentions audit (policies, sinks, shippers).
severity: high
controls: [pci-dss-4.0:10.2.1.3, pci-dss-4.0:10.3.2, hipaa:164.312(b)]
mitre: [T1562.008, T1070]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
  admin_groups: {type: "varchar[]", default: {setting: admin_groups}, help: "Groups whose members are people with administrative access (system:masters always is)"}
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: Users who are people with administrative access}
needs:
  - {level: Metadata}
*/
SELECT received_at, cluster, coalesce(impersonated_user, user_name) AS actor,
       actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) AS actor_kind,
       verb, coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1)) AS target, namespace, name,
       source_ip, user_agent, code, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND (starts_with(request_uri, '/logs')
       OR (resource = 'nodes' AND subresource = 'proxy' AND request_uri LIKE '%/logs%')
       OR (resource = 'pods' AND subresource IN ('log', 'exec', 'attach') AND namespace = 'kube-system' AND name LIKE 'kube-apiserver%')
       OR (name ILIKE '%audit%' AND verb NOT IN ('get', 'list', 'watch') OR name ILIKE '%audit%' AND resource IN ('secrets', 'configmaps')))
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
