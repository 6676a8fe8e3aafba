/*
title: First exec or attach into a namespace
engines: [duckdb, spark]
stateful: first-seen
description: >
  A shell or command (pods/exec, pods/attach; GET or POST, as `exec-or-attach` reads them) that succeeded in a
  namespace where none succeeded during the `baseline` before the window: nobody opens a shell in the payments
  namespace, until someone does. With `per_actor` true the key is the namespace and the identity (a first exec by
  this identity there). The control plane and the cloud's own callers are left out unless
  `ignore_system_principals` is false. Only the first exec of each key is reported; the baseline is read, never
  reported.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1609]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
  per_actor: {type: boolean, default: false, help: "New for this identity, not for the namespace (anyone's exec there in the baseline is not enough)"}
needs:
  - {level: Metadata, resources: [pods/exec, pods/attach]}
*/
WITH firsts AS (  -- one pass over the baseline and the window (exec_requests reads every exec of the lake once)
  SELECT *, row_number() OVER (PARTITION BY cluster, coalesce(namespace, ''), CASE WHEN $per_actor THEN actor ELSE '' END
                               ORDER BY received_at, audit_id) AS nth
  FROM exec_requests
  WHERE in_history(received_at, date, $since, $until, $baseline)
    AND verb IN ('create', 'get') AND coalesce(code, 200) < 400
    AND ($cluster IS NULL OR cluster = $cluster)
)
SELECT *, 'first ' || subresource || ' into ' || coalesce(namespace, '(no namespace)') || CASE WHEN $per_actor THEN ' by ' || coalesce(actor, '(no user)') ELSE '' END
          || ': ' || coalesce(actor, '(no user)') || ' into ' || coalesce(name, '?') || coalesce(': ' || nullif(array_to_string(command_args, ' '), ''), '') AS summary
FROM firsts
WHERE nth = 1 AND received_at >= $since
  AND NOT ($ignore_system_principals AND is_system_principal(authenticated_user, user_groups, $admin_groups, $admin_users, $admins_are_people))
