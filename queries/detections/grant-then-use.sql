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
granted_groups AS (  -- every group some grant names (few): a request in none of them, by a user no grant names, can use none
  SELECT coalesce(list(DISTINCT name), []) AS names FROM (SELECT unnest(groups) AS name FROM grants)
),
keyed AS (  -- the history's successful requests that can use a grant, in groups (`request_groups`: one row per hour, identity, …).
  -- A key is the identity, the groups it acts with, the namespace and the authorisation reason: what decides which grants a
  -- request can use.
  SELECT *
  FROM (SELECT cluster, first_at, last_at, times, actor, namespace, actor_groups(user_groups, impersonated_user, impersonated_groups) AS groups,
               coalesce(authz_reason, '') AS reason
        FROM request_groups($since - $baseline, $until)
        WHERE code BETWEEN 200 AND 299 AND actor IS NOT NULL
          AND ($cluster IS NULL OR cluster = $cluster))
  WHERE actor IN (SELECT unnest(users) FROM grants) OR list_has_any(groups, (SELECT names FROM granted_groups))
),
usable AS (  -- each key with the instants of the grants it can use
  SELECT DISTINCT k.cluster, k.actor, k.groups, k.namespace, k.reason, g.granted_at
  FROM (SELECT DISTINCT cluster, actor, groups, namespace, reason FROM keyed) k
  JOIN grants g
    ON g.cluster = k.cluster AND k.actor <> coalesce(g.granter, '')
   AND (list_contains(g.users, k.actor) OR list_has_any(g.groups, k.groups))
   AND (g.kind = 'ClusterRoleBinding' OR k.namespace = g.scope)
   AND (k.reason = '' OR contains(k.reason, g.kind || ' "' || g.binding || CASE WHEN g.kind = 'RoleBinding' THEN '/' || g.scope ELSE '' END || '"'))
),
instants AS (  -- where a use can first complete a pattern: a key's first request after a grant it can use (the first of a group
  -- begun since, or of the instants after it in the group it cut), when that is `within` of it
  SELECT DISTINCT cluster, actor, groups, namespace, reason, received_at
  FROM (SELECT u.cluster, u.actor, u.groups, u.namespace, u.reason, u.granted_at,
               min(CASE WHEN k.first_at > u.granted_at THEN k.first_at ELSE list_min(list_filter(k.times, lambda t: t > u.granted_at)) END) AS received_at
        FROM usable u
        JOIN keyed k ON k.cluster = u.cluster AND k.actor = u.actor AND k.groups = u.groups AND k.namespace IS NOT DISTINCT FROM u.namespace
         AND k.reason = u.reason AND k.last_at > u.granted_at AND k.first_at <= u.granted_at + $within
        GROUP BY u.cluster, u.actor, u.groups, u.namespace, u.reason, u.granted_at)
  WHERE received_at <= granted_at + $within
),
uses AS (  -- each instant with the grants it uses, and whether it is the first use of its identity of each role
  SELECT i.*, g.granted_at, g.granter, g.kind, g.binding, g.scope, g.role,
         rank() OVER (PARTITION BY i.cluster, i.actor, g.kind, g.role ORDER BY i.received_at) AS place
  FROM instants i
  JOIN grants g
    ON g.cluster = i.cluster
   AND i.received_at > g.granted_at AND i.received_at <= g.granted_at + $within
   AND i.actor <> coalesce(g.granter, '')
   AND (list_contains(g.users, i.actor) OR list_has_any(g.groups, i.groups))
   AND (g.kind = 'ClusterRoleBinding' OR i.namespace = g.scope)
   AND (i.reason = '' OR contains(i.reason, g.kind || ' "' || g.binding || CASE WHEN g.kind = 'RoleBinding' THEN '/' || g.scope ELSE '' END || '"'))
),
found AS (  -- the requests of the instants that are first uses in the window, read for them alone
  SELECT * FROM final_requests_at((SELECT list(DISTINCT received_at) FROM uses WHERE place = 1), $since, $until)
),
firsts AS (  -- those requests by the keys of their instants; ties at an instant are ordered by audit_id, then the newest grant
  SELECT u.*, d.audit_id, d.source_ip, d.verb, d.object,
         row_number() OVER (PARTITION BY u.cluster, u.actor, u.kind, u.role ORDER BY d.audit_id, u.granted_at DESC) AS nth
  FROM uses u
  JOIN found d ON d.cluster = u.cluster AND d.received_at = u.received_at AND d.actor = u.actor
  WHERE u.place = 1 AND d.code BETWEEN 200 AND 299 AND actor_groups(d.user_groups, d.impersonated_user, d.impersonated_groups) = u.groups
    AND d.namespace IS NOT DISTINCT FROM u.namespace AND coalesce(d.authz_reason, '') = u.reason
)
SELECT *,
       actor || ' used ' || coalesce(role, '?') || ' (' || verb || ' ' || object || '), granted ' || elapsed_text(granted_at, received_at)
       || ' before by ' || coalesce(granter, '(no user)') || ' through ' || kind || ' ' || coalesce(scope || '/', '') || coalesce(binding, '?') AS summary
FROM firsts
WHERE nth = 1
