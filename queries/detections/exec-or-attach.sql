/*
title: Exec or attach into a pod
description: >
  A shell or command in a running container (pods/exec, pods/attach), with the command decoded from the
  request URI. kubectl 1.30+ opens exec with GET (WebSockets), older ones with POST (create): both count.
  Falco reads the ResponseStarted event and Sigma only verb create; here the final event of each request
  is read, once per session.
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1609]
reproduces:
  falco: [Attach/Exec Pod]
  sigma: [Potential Remote Command Execution In Pod Container]
params:
  since: {type: timestamptz, help: Start of the window}
  until: {type: timestamptz, help: End of the window (exclusive)}
  cluster: {type: varchar, help: Only this cluster}
needs:
  - {level: Metadata, resources: [pods/exec, pods/attach]}
*/
SELECT received_at, cluster, 'exec-or-attach' AS rule, 'low' AS severity,
       coalesce(impersonated_user, user_name) AS actor, source_ip, verb,
       object_text(resource, subresource, namespace, name) AS object,
       subresource || ' into ' || coalesce(namespace || '/', '') || coalesce(name, '') || coalesce(': ' || exec_command(request_uri), '') || CASE WHEN code >= 400 THEN ' (denied, ' || code || ')' ELSE '' END AS summary, audit_id
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND is_final(stage)
  AND resource = 'pods'
  AND subresource IN ('exec', 'attach')
  AND verb IN ('create', 'get')
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
