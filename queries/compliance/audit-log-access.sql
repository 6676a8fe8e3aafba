/*
title: Access to audit logs and audit configuration
engines: [duckdb, spark]
description: >
  Requests that read or change the audit trail itself, and nothing merely named like it: the apiserver's
  `/logs` (the control-plane node's /var/log, where `--audit-log-path` usually writes); a kubelet's `/logs`
  or the kube-apiserver container's log through `nodes/proxy`; the logs of kube-apiserver pods (with
  `--audit-log-path=-` they are the audit log) and exec or attach into them (the audit log is mounted
  there); the audit policy and audit webhook configuration where a cluster keeps them as ConfigMaps or
  Secrets (`audit` as a word in the name: `audit-policy`, `kube-apiserver-audit`, `audit-webhook-config`,
  not audit2rbac's role bindings); AuditSink objects (dynamic audit); and the objects named in
  `trail_objects`, where a cluster exposes the trail (a log shipper's configuration, the volume holding the
  lake). A kubelet reading a ConfigMap or Secret it mounts is not listed.
severity: high
controls: [pci-dss-4.0:10.2.1.3, pci-dss-4.0:10.3.2, hipaa:164.312(b)]
mitre: [T1562.008, T1070]
params:
  trail_objects: {type: "varchar[]", help: "More objects that hold the audit trail, as resource/namespace/name (configmaps/logging/fluent-bit-audit, persistentvolumeclaims/auditlake/lake; resource//name when cluster-scoped)"}
needs:
  - {level: Metadata}
*/
SELECT received_at, cluster, actor, actor_kind, verb, target, namespace, name, source_ip, user_agent, code, audit_id
FROM (
  SELECT *, coalesce(impersonated_user, user_name) AS actor,
         actor_kind(coalesce(impersonated_user, user_name), actor_groups(user_groups, impersonated_user, impersonated_groups),
                    $admin_groups, $admin_users) AS actor_kind,
         coalesce(resource || coalesce('/' || subresource, ''), split_part(request_uri, '?', 1)) AS target
  FROM events
  WHERE in_window(received_at, date, $since, $until)
    AND stage IN ('ResponseComplete', 'Panic')
    AND ($cluster IS NULL OR cluster = $cluster)
    AND (regexp_matches(coalesce(request_uri, ''), '^/logs([/?]|$)') AND resource IS NULL
         OR (resource = 'nodes' AND subresource = 'proxy'
             AND regexp_matches(request_uri, '/proxy/(logs([/?]|$)|containerLogs/kube-system/kube-apiserver)'))
         OR (resource = 'pods' AND subresource IN ('log', 'exec', 'attach') AND namespace = 'kube-system' AND starts_with(name, 'kube-apiserver'))
         OR (resource IN ('configmaps', 'secrets') AND subresource IS NULL AND regexp_matches(coalesce(name, ''), '(^|[^a-z0-9])audit([^a-z0-9]|$)'))
         OR resource = 'auditsinks'
         OR list_contains(coalesce($trail_objects, []), resource || '/' || coalesce(namespace, '') || '/' || coalesce(name, '')))
)
WHERE NOT (actor_kind = 'node' AND resource IN ('configmaps', 'secrets') AND verb IN ('get', 'list', 'watch'))
ORDER BY received_at, audit_id
