/*
title: Exec, attach and port-forward sessions — who got a shell in which pod, running what
engines: [duckdb, spark]
description: >
  Interactive sessions into pods, with the command decoded from the request URI (for exec), the
  container, and whether a TTY was attached.
severity: high
controls: [pci-dss-4.0:10.2.1.2, pci-dss-4.0:10.2.1.1, hipaa:164.312(b), hipaa:164.308(a)(1)(ii)(D)]
mitre: [T1609]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [pods/exec, pods/attach, pods/portforward], verbs: [create, get]}
*/
SELECT started_at, ended_at, duration_seconds, cluster, kind, namespace, pod, container, command, tty, stdin,
       actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, authenticated_user, source_ip, user_agent, code, allowed, audit_id
FROM sessions
WHERE in_window(started_at, date, $since, $until)
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY started_at, audit_id
