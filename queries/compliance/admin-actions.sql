/*
title: Actions by administrative identities — everything system:masters and cluster-admins did
description: >
  Every request by a member of an administrative group (system:masters by default) or by a user named as
  an administrator, grouped by actor, verb and resource, with the first and last time and the failures.
  PCI-DSS asks for all actions taken by anyone with administrative access.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.308(a)(1)(ii)(D)]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
  admin_groups: {type: "varchar[]", default: [system:masters], help: Groups whose members are administrators}
  admin_users: {type: "varchar[]", default: [kubernetes-admin, admin], help: Users who are administrators}
  exclude_users: {type: "varchar[]", default: [system:apiserver], help: "Administrators not to list (the apiserver's own loopback client is in system:masters)"}
needs:
  - {level: Metadata}
*/
SELECT cluster, user_name AS administrator, verb,
       coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1)) AS target,
       count(*) AS requests, count(*) FILTER (WHERE code >= 400) AS failures,
       list_sort(list_distinct(list(namespace)))[1:10] AS namespaces, list_sort(list_distinct(list(source_ip)))[1:10] AS source_ips,
       min(received_at) AS first_at, max(received_at) AS last_at
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND stage IN ('ResponseComplete', 'Panic')
  AND (list_has_any(coalesce(user_groups, []), $admin_groups) OR list_contains($admin_users, user_name))
  AND NOT list_contains(coalesce($exclude_users, []), user_name)
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
ORDER BY cluster, administrator, requests DESC, target
