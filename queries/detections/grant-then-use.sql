/*
title: RBAC grant followed by its use
engines: [duckdb, spark]
stateful: sequence
description: >
  A RoleBinding or ClusterRoleBinding created, updated or patched (successfully, by someone other than the control
  plane unless `ignore_system_principals` is false) that names a subject, then, within `within`, a successful
  request by that subject (a User by name, a ServiceAccount as `system:serviceaccount:NAMESPACE:NAME`, a Group by
  the request's groups) other than the one who granted it: a privilege handed out and used at once, the shape of
  privilege escalation through RBAC. A RoleBinding's grant is used only in its namespace; when the apiserver
  logged an authorization reason, it must name this binding (the request was allowed by it, not by something the
  subject already had). The finding is the request that completes the pattern, the first for each subject and
  role; the same role granted to the same subject and used during the `baseline` before the window silences it
  (a pipeline that re-creates its bindings). The summary names the grant: who made it, which binding, how long
  before. The baseline is read, never reported.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1098, T1078]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [rolebindings, clusterrolebindings], verbs: [create, update, patch]}
  - {level: Metadata}
*/
WITH grants AS (
  SELECT cluster, granted_at, granter, kind, binding, scope, json_extract_string(body, '$.roleRef.name') AS role,
         list_transform(list_filter(subjects, lambda s: json_extract_string(s, '$.kind') <> 'Group'), lambda s: CASE json_extract_string(s, '$.kind')
           WHEN 'ServiceAccount' THEN 'system:serviceaccount:' || coalesce(json_extract_string(s, '$.namespace'), scope) || ':' || json_extract_string(s, '$.name')
           ELSE json_extract_string(s, '$.name') END) AS users,
         list_transform(list_filter(subjects, lambda s: json_extract_string(s, '$.kind') = 'Group'), lambda s: json_extract_string(s, '$.name')) AS groups
  FROM (SELECT cluster, received_at AS granted_at, actor AS granter, coalesce(request_object, response_object) AS body, namespace AS scope,
               CAST(json_extract(coalesce(request_object, response_object), '$.subjects') AS JSON[]) AS subjects,
               CASE WHEN resource = 'rolebindings' THEN 'RoleBinding' ELSE 'ClusterRoleBinding' END AS kind,
               coalesce(name, json_extract_string(coalesce(request_object, response_object), '$.metadata.name')) AS binding
        FROM final_requests
        WHERE in_history(received_at, date, $since - $within, $until, $baseline)
          AND coalesce(resource IN ('rolebindings', 'clusterrolebindings'), false) AND verb IN ('create', 'update', 'patch') AND code BETWEEN 200 AND 299
          AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
          AND ($cluster IS NULL OR cluster = $cluster))
),
edges AS (  -- where the span (granted_at, granted_at + within] of each grant begins and ends, by hour
  SELECT cluster, hour, list(edge) AS times
  FROM (SELECT cluster, date_trunc('hour', granted_at) AS hour, granted_at AS edge FROM grants
        UNION ALL
        SELECT cluster, date_trunc('hour', granted_at + $within), granted_at + $within FROM grants)
  GROUP BY cluster, hour
),
granted_groups AS (  -- every group some grant names (few): a request in none of them, by a user no grant names, can use none
  SELECT coalesce(list(DISTINCT name), []) AS names FROM (SELECT unnest(groups) AS name FROM grants)
),
requests AS (  -- the requests that can use a grant (what a finding shows is read for the findings alone): one by a user no grant names
  -- and in none of the groups they name can use none (both are keys of `heads`, so a group of requests is kept or left
  -- out whole); the history is read once
  SELECT *
  FROM (SELECT cluster, received_at, audit_id, actor, namespace, authz_reason,
               actor_groups(user_groups, impersonated_user, impersonated_groups) AS groups, coalesce(authz_reason, '') AS reason
        FROM final_requests
        WHERE in_history(received_at, date, $since, $until, $baseline)
          AND code BETWEEN 200 AND 299 AND actor IS NOT NULL
          AND ($cluster IS NULL OR cluster = $cluster))
  WHERE actor IN (SELECT unnest(users) FROM grants) OR list_has_any(groups, (SELECT names FROM granted_groups))
),
heads AS (
  -- Requests of one identity (the groups it acts with), in one namespace, with one authorization reason, within one
  -- hour and between the same two edges of the grants' spans can use the same grants: only the first of them can
  -- complete a pattern first, so only those are joined with the grants (not every request of the history).
  SELECT r.cluster, r.actor, r.groups, r.namespace, r.reason, min(r.received_at) AS received_at
  FROM requests r
  LEFT JOIN edges e ON e.cluster = r.cluster AND e.hour = date_trunc('hour', r.received_at)
  GROUP BY r.cluster, r.actor, r.groups, r.namespace, r.reason,
           date_trunc('hour', r.received_at), coalesce(array_length(list_filter(e.times, lambda t: t < r.received_at)), 0)
),
firsts AS (  -- those requests; ties at the same instant are all kept (the join below orders them by audit_id)
  SELECT r.cluster, r.received_at, r.audit_id, r.actor, r.namespace, r.authz_reason, r.groups
  FROM requests r
  JOIN heads h ON h.cluster = r.cluster AND h.received_at = r.received_at AND h.actor = r.actor AND h.groups = r.groups
   AND h.namespace IS NOT DISTINCT FROM r.namespace AND h.reason = r.reason
),
uses AS (
  SELECT r.*, g.granted_at, g.granter, g.kind, g.binding, g.scope, g.role,
         row_number() OVER (PARTITION BY r.cluster, r.actor, g.kind, g.role ORDER BY r.received_at, r.audit_id, g.granted_at DESC) AS nth
  FROM firsts r
  JOIN grants g
    ON g.cluster = r.cluster
   AND r.received_at > g.granted_at AND r.received_at <= g.granted_at + $within
   AND r.actor <> coalesce(g.granter, '')
   AND (list_contains(g.users, r.actor) OR list_has_any(g.groups, r.groups))
   AND (g.kind = 'ClusterRoleBinding' OR r.namespace = g.scope)
   AND (coalesce(r.authz_reason, '') = ''
        OR contains(r.authz_reason, g.kind || ' "' || g.binding || CASE WHEN g.kind = 'RoleBinding' THEN '/' || g.scope ELSE '' END || '"'))
)
SELECT u.*, d.source_ip, d.verb, d.object,
       u.actor || ' used ' || coalesce(u.role, '?') || ' (' || d.verb || ' ' || d.object || '), granted ' || elapsed_text(u.granted_at, u.received_at)
       || ' before by ' || coalesce(u.granter, '(no user)') || ' through ' || u.kind || ' ' || coalesce(u.scope || '/', '') || coalesce(u.binding, '?') AS summary
FROM uses u
JOIN final_requests d  -- what the finding shows, read for its request alone
  ON d.cluster = u.cluster AND d.received_at = u.received_at AND d.audit_id = u.audit_id
 AND in_window(d.received_at, d.date, $since, $until)
WHERE u.nth = 1 AND u.received_at >= $since
