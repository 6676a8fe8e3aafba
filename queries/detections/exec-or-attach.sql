/*
title: Exec or attach into a pod
engines: [duckdb, spark]
description: >
  A shell or command in a running container (pods/exec, pods/attach), with the command the client sent.
  As upstream, the create verb (POST: kubectl before 1.30); kubectl 1.30 and later opens exec and attach
  with GET over WebSockets, which only `exec_over_get` counts: switch it on (recommended), or modern
  kubectl's execs go unseen. A session still open, whose only event so far is ResponseStarted, counts too. Falco reads the ResponseStarted
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
audit:
  Attach/Exec Pod:
    upstream: The ResponseStarted event of a create of pods/exec or pods/attach; any outcome, any user.
    ours: Each create of pods/exec or pods/attach once (its final event, or ResponseStarted while the session is open).
    difference: None by default; `exec_over_get` widens it to exec and attach opened with GET (kubectl 1.30 and later, over WebSockets), which the create verb misses (recommended).
  Potential Remote Command Execution In Pod Container:
    upstream: Verb create of pods/exec; any stage, outcome and user.
    ours: 'As above: exec and attach, created, once per request.'
    difference: Also attach (Falco's rule); once per request, not per stage; `exec_over_get` widens it to GET exec (recommended).
  Kubernetes.Pod.Exec:
    upstream: 'Shipped disabled (Enabled: false). Enabled: pods/exec whatever the verb (its own AKS test is a GET by kubectl 1.35), not failed, not by a system principal in a system namespace.'
    ours: Falco's and Sigma's rules (above), which run by default.
    difference: Upstream runs nothing by default for this rule; the detection runs for Falco's and Sigma's.
    params:
      exec_over_get: true
  GCP.K8s.ExecIntoPod:
    upstream: 'Shipped disabled (Enabled: false). Enabled: a GKE entry for pods/exec create, less an allow-list of principals that is empty by default.'
    ours: Falco's and Sigma's rules (above), which run by default.
    difference: Upstream runs nothing by default for this rule; the detection runs for Falco's and Sigma's.
needs:
  - {level: Metadata, resources: [pods/exec, pods/attach]}
*/
SELECT *, subresource || ' into ' || coalesce(namespace || '/', '') || coalesce(name, '') || coalesce(': ' || nullif(array_to_string(command_args, ' '), ''), '') || outcome_suffix(code) AS summary
FROM exec_requests
WHERE in_window(received_at, date, $since, $until)
  AND (verb = 'create' OR ($exec_over_get AND verb = 'get'))
  AND ($cluster IS NULL OR cluster = $cluster)
