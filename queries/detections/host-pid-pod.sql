/*
title: Pod in the node's host PID namespace
description: >
  A Pod or workload template with spec.hostPID: true, unless every image is in `allowed_repositories`.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611]
reproduces:
  falco: [Create HostPid Pod]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
  allowed_repositories: {type: "varchar[]", default: [], help: "Image repositories allowed the host PID namespace"}
needs:
  - {level: Request, resources: [pods, pods/ephemeralcontainers, replicationcontrollers, podtemplates], verbs: [create, update, patch]}
  - {level: Request, group: apps, resources: [deployments, daemonsets, statefulsets, replicasets], verbs: [create, update, patch]}
  - {level: Request, group: batch, resources: [jobs, cronjobs], verbs: [create, update, patch]}
*/
SELECT received_at, cluster, 'host-pid-pod' AS rule, 'medium' AS severity, actor, source_ip, verb,
       object_text(resource, subresource, namespace, name) AS object,
       'host PID namespace used by ' || resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') || CASE WHEN code >= 400 THEN ' (denied, ' || code || ')' ELSE '' END AS summary, audit_id
FROM workload_specs
WHERE in_window(received_at, date, $since, $until)
  AND host_pid
  AND NOT list_has_all($allowed_repositories, repositories)
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
