/*
title: Privileged or hostPath pod created, then exec'd into
engines: [duckdb, spark]
stateful: sequence
description: >
  A Pod created (successfully) with a privileged container or a hostPath volume (`workload_specs`), then, within
  `within`, a successful exec or attach into that same pod (namespace and name, as the create's objectRef names it;
  the apiserver fills it in from the request body at Request level): a foothold on the node, built and entered. Pods that workloads make are named by their
  controllers and are not matched; whoever created the pod, the control plane included, counts, but the exec must
  be by someone other than the control plane unless `ignore_system_principals` is false. The finding is the exec
  that completes the pattern, the first for each identity and namespace; the same identity doing so in the same
  namespace during the `baseline` before the window silences it (an administrator's routine `kubectl debug node`).
  The summary names the pod's creator, what made it dangerous and how long before. The baseline is read, never
  reported.
severity: high
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1611, T1609]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Request, resources: [pods], verbs: [create]}
  - {level: Metadata, resources: [pods/exec, pods/attach]}
*/
WITH pods AS (
  SELECT cluster, received_at AS created_at, actor AS creator, namespace, name AS pod,
         trim(CASE WHEN privileged THEN 'privileged ' ELSE '' END || CASE WHEN array_length(host_paths) > 0 THEN 'hostPath ' || array_to_string(host_paths, ',') ELSE '' END) AS danger
  FROM reported_workload_specs(false, false, $admin_groups, $admin_users, all_pod_specs := true)  -- every container of the Pod: init ones too
  WHERE in_history(received_at, date, $since - $within, $until, $baseline)
    AND resource = 'pods' AND subresource IS NULL AND verb = 'create' AND succeeded
    AND (privileged OR array_length(host_paths) > 0)
    AND ($cluster IS NULL OR cluster = $cluster)
),
execs AS (
  SELECT e.*, p.created_at, p.creator, p.danger,
         row_number() OVER (PARTITION BY e.cluster, e.actor, e.namespace ORDER BY e.received_at, e.audit_id, p.created_at DESC) AS nth
  FROM exec_requests e
  JOIN pods p ON p.cluster = e.cluster AND p.namespace = e.namespace AND p.pod = e.name
   AND e.received_at > p.created_at AND e.received_at <= p.created_at + $within
  WHERE in_history(e.received_at, e.date, $since, $until, $baseline)
    AND e.verb IN ('create', 'get') AND coalesce(e.code, 200) < 400
    AND NOT ($ignore_system_principals AND is_system_principal(e.authenticated_user, e.user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR e.cluster = $cluster)
)
SELECT *, coalesce(actor, '(no user)') || ' ' || subresource || ' into ' || namespace || '/' || name || coalesce(': ' || nullif(array_to_string(command_args, ' '), ''), '')
          || ', created ' || danger || ' ' || elapsed_text(created_at, received_at) || ' before by ' || coalesce(creator, '(no user)') AS summary
FROM execs
WHERE nth = 1 AND received_at >= $since
