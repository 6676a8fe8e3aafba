/*
title: Exec or attach into a pod
engines: [duckdb, spark]
description: >
  A shell or command in a running container (pods/exec, pods/attach), with the command the client sent.
  kubectl 1.30+ opens exec with GET (WebSockets), older ones with POST (create): both count. A session
  still open, whose only event so far is ResponseStarted, counts too. Falco reads the ResponseStarted
  event and Sigma only verb create; here each request is read once (its final event, or ResponseStarted
  while it is open). Panther's GKE rule has an allow-list of principals, empty by default: so is this
  (every exec).
severity: low
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1609]
reproduces:
  falco: [Attach/Exec Pod]
  sigma: [Potential Remote Command Execution In Pod Container]
  panther: [Kubernetes.Pod.Exec, GCP.K8s.ExecIntoPod]
needs:
  - {level: Metadata, resources: [pods/exec, pods/attach]}
*/
SELECT *, subresource || ' into ' || coalesce(namespace || '/', '') || coalesce(name, '') || coalesce(': ' || nullif(array_to_string(command_args, ' '), ''), '') || outcome_suffix(code) AS summary
FROM exec_requests
WHERE in_window(received_at, date, $since, $until)
  AND verb IN ('create', 'get')
  AND ($cluster IS NULL OR cluster = $cluster)
