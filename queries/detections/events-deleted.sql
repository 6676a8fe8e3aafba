/*
title: Kubernetes events deleted
description: >
  Deleting Event objects removes the cluster's own trail of what happened (pods started, images pulled).
severity: medium
controls: [pci-dss-4.0:10.2.1.3, hipaa:164.312(b)]
mitre: [T1070]
reproduces:
  sigma: [Kubernetes Events Deleted]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
  ignore_controllers: {type: boolean, default: false, help: "Leave out single deletions by system users (the event TTL controller's own cleanup)"}
needs:
  - {level: Metadata, resources: [events], verbs: [delete, deletecollection]}
*/
SELECT received_at, cluster, 'events-deleted' AS rule, 'medium' AS severity,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name) AS object,
       'events ' || coalesce(namespace || '/', '') || coalesce(name, '(all)') || ' deleted by ' || coalesce(user_name, '(no user)') AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource = 'events'
  AND verb IN ('delete', 'deletecollection')
  AND NOT (starts_with(coalesce(user_name, ''), 'system:') AND coalesce(code BETWEEN 200 AND 299, false) AND verb = 'delete' AND $ignore_controllers)
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
