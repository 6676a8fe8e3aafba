/*
title: Kubernetes events deleted
engines: [duckdb, spark]
description: >
  Deleting Event objects removes the cluster's own trail of what happened (pods started, images pulled).
  `count_deletecollection` also counts deletecollection (every Event of a namespace at once), which Sigma's
  verb leaves out.
severity: medium
controls: [pci-dss-4.0:10.2.1.3, hipaa:164.312(b)]
mitre: [T1070]
reproduces:
  sigma: [Kubernetes Events Deleted]
params:
  ignore_controllers: {type: boolean, default: false, help: "Leave out single deletions by service accounts, nodes and the control plane (the event TTL controller's own cleanup)"}
audit:
  Kubernetes Events Deleted:
    upstream: Verb delete of events; any outcome, any user.
    ours: The same; `ignore_controllers` off.
    difference: None by default; `count_deletecollection` widens it to deletecollection (every Event of a namespace at once), which Sigma's verb leaves out.
needs:
  - {level: Metadata, resources: [events], verbs: [delete, deletecollection]}
*/
SELECT *, 'events ' || coalesce(namespace || '/', '') || coalesce(name, '(all)') || ' deleted by ' || coalesce(user_name, '(no user)') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'events'
  AND (verb = 'delete' OR ($count_deletecollection AND verb = 'deletecollection'))
  AND NOT ($ignore_controllers AND actor_kind(actor, actor_groups(user_groups, impersonated_user, impersonated_groups), $admin_groups, $admin_users) IN ('serviceaccount', 'node', 'system')
           AND coalesce(code BETWEEN 200 AND 299, false) AND verb = 'delete')
  AND ($cluster IS NULL OR cluster = $cluster)
