/*
title: First use of a cluster-admin binding by a subject
engines: [duckdb, spark]
stateful: first-seen
description: >
  The first request of an identity through a ClusterRoleBinding to cluster-admin (or another role of
  `admin_roles`), when the `baseline` before the window saw no request of that identity through that binding: a
  new administrator, or a dormant one waking up. A request is a use of a binding when (1) the apiserver's
  authorization reason names it (`RBAC: allowed by ClusterRoleBinding "X" of ClusterRole "cluster-admin" to
  User "bob"`), or (2) its identity is a subject of a binding to such a role that the lake saw created, updated
  or patched (successfully) in the baseline or the window, at or before the request: a User by name, a
  ServiceAccount as `system:serviceaccount:NAMESPACE:NAME`, a Group by the request's groups (the impersonated
  ones when it impersonates). The key is the identity and the binding; only its first request is reported, and
  the summary says who made the binding and how long before, when the lake saw it. The control plane and the
  cloud's own callers are left out unless `ignore_system_principals` is false. The baseline is read, never
  reported.
severity: high
controls: [pci-dss-4.0:10.2.1.2, pci-dss-4.0:10.2.1.5, hipaa:164.312(b)]
mitre: [T1078, T1098]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
  admin_roles: {type: "varchar[]", default: [cluster-admin], help: ClusterRoles whose use is watched}
needs:
  - {level: Request, group: rbac.authorization.k8s.io, resources: [clusterrolebindings], verbs: [create, update, patch]}
  - {level: Metadata}
*/
WITH bindings AS (
  SELECT cluster, bound_at, bound_by, binding,
         list_transform(list_filter(subjects, lambda s: json_extract_string(s, '$.kind') <> 'Group'), lambda s: CASE json_extract_string(s, '$.kind')
           WHEN 'ServiceAccount' THEN 'system:serviceaccount:' || json_extract_string(s, '$.namespace') || ':' || json_extract_string(s, '$.name')
           ELSE json_extract_string(s, '$.name') END) AS users,
         list_transform(list_filter(subjects, lambda s: json_extract_string(s, '$.kind') = 'Group'), lambda s: json_extract_string(s, '$.name')) AS groups
  FROM (SELECT cluster, received_at AS bound_at, actor AS bound_by, CAST(json_extract(coalesce(request_object, response_object), '$.subjects') AS JSON[]) AS subjects,
               json_extract_string(coalesce(request_object, response_object), '$.roleRef.name') AS role,
               coalesce(name, json_extract_string(coalesce(request_object, response_object), '$.metadata.name')) AS binding
        FROM final_requests
        WHERE in_history(received_at, date, $since, $until, $baseline)
          AND resource = 'clusterrolebindings' AND verb IN ('create', 'update', 'patch') AND code BETWEEN 200 AND 299
          AND ($cluster IS NULL OR cluster = $cluster))
  WHERE list_contains($admin_roles, role)
),
bound_groups AS (  -- every group some binding names (few)
  SELECT coalesce(list(DISTINCT name), []) AS names FROM (SELECT unnest(groups) AS name FROM bindings)
),
keyed AS (  -- the history's requests that can use a binding, in groups (`request_groups`: one row per hour, identity, …): by
  -- a user no binding names, in none of their groups, whose reason names no admin binding, a request can use none. A key is
  -- who authenticated, the groups it acts with and the authorisation reason: what decides which bindings a request uses.
  SELECT *
  FROM (SELECT cluster, first_at, last_at, times, actor, user_name, user_groups, authz_reason,
               actor_groups(user_groups, impersonated_user, impersonated_groups) AS groups
        FROM request_groups($since - $baseline, $until)
        WHERE actor IS NOT NULL AND ($cluster IS NULL OR cluster = $cluster))
  WHERE (admin_binding_in_reason(authz_reason, $admin_roles) <> '' OR actor IN (SELECT unnest(users) FROM bindings)
         OR list_has_any(groups, (SELECT names FROM bound_groups)))
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
),
starts AS (  -- per key and binding name: when the first binding of that name it can use was made
  SELECT k.cluster, k.actor, k.user_name, k.user_groups, k.groups, k.authz_reason, b.binding, min(b.bound_at) AS bound_at
  FROM (SELECT DISTINCT cluster, actor, user_name, user_groups, groups, authz_reason FROM keyed) k
  JOIN bindings b ON b.cluster = k.cluster AND (list_contains(b.users, k.actor) OR list_has_any(b.groups, k.groups))
  GROUP BY k.cluster, k.actor, k.user_name, k.user_groups, k.groups, k.authz_reason, b.binding
),
instants AS (  -- where a key can first use a binding: its first request (through the binding its reason names), and its
  -- first at or after the first binding of each name it can use (the first of a group begun since, or of the instants after
  -- it in the group it cut)
  SELECT DISTINCT cluster, actor, user_name, user_groups, groups, authz_reason, received_at
  FROM (SELECT cluster, actor, user_name, user_groups, groups, authz_reason, min(first_at) AS received_at
        FROM keyed GROUP BY cluster, actor, user_name, user_groups, groups, authz_reason
        UNION ALL
        SELECT s.cluster, s.actor, s.user_name, s.user_groups, s.groups, s.authz_reason,
               min(CASE WHEN k.first_at >= s.bound_at THEN k.first_at ELSE list_min(list_filter(k.times, lambda t: t >= s.bound_at)) END)
        FROM starts s
        JOIN keyed k ON k.cluster = s.cluster AND k.actor = s.actor AND k.user_name IS NOT DISTINCT FROM s.user_name
         AND k.user_groups IS NOT DISTINCT FROM s.user_groups AND k.groups = s.groups AND k.authz_reason IS NOT DISTINCT FROM s.authz_reason
         AND k.last_at >= s.bound_at
        GROUP BY s.cluster, s.actor, s.user_name, s.user_groups, s.groups, s.authz_reason, s.binding)
),
uses AS (  -- each instant with the bindings it uses, and whether it is the first of its identity through each
  SELECT *, rank() OVER (PARTITION BY cluster, actor, binding ORDER BY received_at) AS place
  FROM (SELECT i.*, regexp_extract(coalesce(i.authz_reason, ''), 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 1) AS reason_binding,
               coalesce(b.binding, admin_binding_in_reason(i.authz_reason, $admin_roles)) AS binding, b.bound_at, b.bound_by
        FROM instants i
        LEFT JOIN bindings b
          ON b.cluster = i.cluster AND b.bound_at <= i.received_at
         AND (list_contains(b.users, i.actor) OR list_has_any(b.groups, i.groups))
        WHERE b.binding IS NOT NULL OR admin_binding_in_reason(i.authz_reason, $admin_roles) <> '')
),
found AS (  -- the requests of the instants that are first uses in the window, read for them alone
  SELECT * FROM final_requests_at((SELECT list(DISTINCT received_at) FROM uses WHERE place = 1), $since, $until)
),
firsts AS (  -- those requests by the keys of their instants; ties at an instant are ordered by audit_id, then the newest binding
  SELECT u.cluster, u.received_at, d.audit_id, u.actor, u.binding, u.reason_binding, u.bound_at, u.bound_by, d.source_ip, d.verb, d.code, d.object,
         row_number() OVER (PARTITION BY u.cluster, u.actor, u.binding ORDER BY d.audit_id, u.bound_at DESC) AS nth
  FROM uses u
  JOIN found d ON d.cluster = u.cluster AND d.received_at = u.received_at AND d.actor = u.actor
  WHERE u.place = 1 AND d.user_name IS NOT DISTINCT FROM u.user_name AND d.user_groups IS NOT DISTINCT FROM u.user_groups
    AND actor_groups(d.user_groups, d.impersonated_user, d.impersonated_groups) = u.groups AND d.authz_reason IS NOT DISTINCT FROM u.authz_reason
),
first_uses AS (  -- one finding per request: a request that is the first use of two bindings names the one its reason names, else the newest
  SELECT *, row_number() OVER (PARTITION BY cluster, audit_id ORDER BY binding = reason_binding DESC, bound_at DESC NULLS LAST, binding) AS per_request
  FROM firsts
  WHERE nth = 1
)
SELECT *,
       actor || ' used ClusterRoleBinding ' || binding || ' for the first time: ' || verb || ' ' || object || outcome_suffix(code)
       || coalesce(' (bound by ' || bound_by || ' ' || elapsed_text(bound_at, received_at) || ' before)', '') AS summary
FROM first_uses
WHERE per_request = 1
