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
made AS (SELECT cluster, date_trunc('hour', bound_at) AS hour, list(bound_at) AS times FROM bindings GROUP BY cluster, date_trunc('hour', bound_at)),
bound_groups AS (  -- every group some binding names (few)
  SELECT coalesce(list(DISTINCT name), []) AS names FROM (SELECT unnest(groups) AS name FROM bindings)
),
requests AS (  -- the requests that can use a binding (what a finding shows is read for the findings alone): a request whose reason
  -- names no admin binding, by a user no binding names and in none of their groups, can use none (all three are keys
  -- of `heads`, so a group of requests is kept or left out whole); the history is read once
  SELECT *
  FROM (SELECT cluster, received_at, audit_id, actor, coalesce(authz_reason, '') AS reason, user_name, user_groups,
               actor_groups(user_groups, impersonated_user, impersonated_groups) AS groups,
               CASE WHEN contains(coalesce(authz_reason, ''), '" of ClusterRole "')
                     AND list_contains($admin_roles, regexp_extract(authz_reason, 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 2))
                    THEN regexp_extract(authz_reason, 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 1) ELSE '' END AS reason_key
        FROM final_requests
        WHERE in_history(received_at, date, $since, $until, $baseline)
          AND actor IS NOT NULL
          AND ($cluster IS NULL OR cluster = $cluster))
  WHERE reason_key <> '' OR actor IN (SELECT unnest(users) FROM bindings) OR list_has_any(groups, (SELECT names FROM bound_groups))
),
heads AS (
  -- Requests of one identity (who authenticated, the groups it acts with, the admin binding its reason names) within
  -- one hour and between the same two bindings made can use the same bindings: only the first of them can be a first
  -- use, so only those are joined with the bindings (a few thousand rather than every request of the history).
  SELECT r.cluster, r.actor, r.user_name, r.user_groups, r.groups, r.reason_key, min(r.received_at) AS received_at
  FROM requests r
  LEFT JOIN made m ON m.cluster = r.cluster AND m.hour = date_trunc('hour', r.received_at)
  GROUP BY r.cluster, r.actor, r.user_name, r.user_groups, r.groups, r.reason_key,
           date_trunc('hour', r.received_at), coalesce(array_length(list_filter(m.times, lambda t: t <= r.received_at)), 0)
),
firsts AS (  -- those requests (ties at the same instant are all kept: the join below orders them by audit_id)
  SELECT r.cluster, r.received_at, r.audit_id, r.actor, r.groups,
         regexp_extract(r.reason, 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 1) AS reason_binding,
         regexp_extract(r.reason, 'ClusterRoleBinding "([^"]*)" of ClusterRole "([^"]*)"', 2) AS reason_role, r.reason_key
  FROM requests r
  JOIN heads h ON h.cluster = r.cluster AND h.received_at = r.received_at AND h.actor = r.actor
   AND h.user_name IS NOT DISTINCT FROM r.user_name AND h.user_groups IS NOT DISTINCT FROM r.user_groups
   AND h.groups = r.groups AND h.reason_key = r.reason_key
  WHERE NOT ($ignore_system_principals AND is_system_principal(h.user_name, h.user_groups, $admin_groups, $admin_users, $admins_are_people))
),
uses AS (
  SELECT r.*, coalesce(b.binding, r.reason_binding) AS binding, b.bound_at, b.bound_by,
         row_number() OVER (PARTITION BY r.cluster, r.actor, coalesce(b.binding, r.reason_binding)
                            ORDER BY r.received_at, r.audit_id, b.bound_at DESC) AS nth
  FROM firsts r
  LEFT JOIN bindings b
    ON b.cluster = r.cluster AND b.bound_at <= r.received_at
   AND (list_contains(b.users, r.actor) OR list_has_any(b.groups, r.groups))
  WHERE b.binding IS NOT NULL OR (r.reason_binding <> '' AND list_contains($admin_roles, r.reason_role))
)
, first_uses AS (  -- one finding per request: a request that is the first use of two bindings names the one its reason names, else the newest
  SELECT *, row_number() OVER (PARTITION BY cluster, audit_id ORDER BY binding = reason_binding DESC, bound_at DESC NULLS LAST, binding) AS per_request
  FROM uses
  WHERE nth = 1 AND received_at >= $since
)
SELECT u.*, d.source_ip, d.verb, d.code, d.object,
       u.actor || ' used ClusterRoleBinding ' || u.binding || ' for the first time: ' || d.verb || ' ' || d.object || outcome_suffix(d.code)
       || coalesce(' (bound by ' || u.bound_by || ' ' || elapsed_text(u.bound_at, u.received_at) || ' before)', '') AS summary
FROM first_uses u
JOIN final_requests d  -- what the finding shows, read for its request alone
  ON d.cluster = u.cluster AND d.received_at = u.received_at AND d.audit_id = u.audit_id
 AND in_window(d.received_at, d.date, $since, $until)
WHERE u.per_request = 1
