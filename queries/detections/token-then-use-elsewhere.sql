/*
title: Service-account token requested, then used from another address
engines: {duckdb: true, spark: "Spark finds one more use than DuckDB on the simulated attack stories (a lease update from the pod itself; found 2026-12-01, cause not yet known): DuckDB only until the two agree"}
stateful: sequence
description: >
  A token minted for a service account (serviceaccounts/token, successful, not bound to a Pod, by someone other
  than the control plane unless `ignore_system_principals` is false: what `service-account-token-created`
  reports), then, within `within`, a request as that service account from a source address other than the one
  the token was requested from, with no pod named in its credentials (a token a kubelet mounts carries
  `authentication.kubernetes.io/pod-name` in user.extra; a token carried out of the cluster does not): a
  credential minted here and used elsewhere. The finding is the request that completes the pattern, the first for
  each service account and address; the same service account used from the same address after a token request
  during the `baseline` before the window silences it. The summary names who requested the token, from where and
  how long before. The baseline is read, never reported.
severity: high
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1528, T1550.001]
params:
  ignore_system_principals: {type: boolean, default: true, help: "Leave out control-plane and cloud identities (ours: no upstream rule to follow; their habits are not a person's)"}
  admins_are_people: {type: boolean, default: true, help: "A person with administrative access is never a system principal, whatever the name"}
needs:
  - {level: Request, resources: [serviceaccounts/token], verbs: [create]}
  - {level: Metadata}
*/
WITH tokens AS (
  SELECT cluster, received_at AS requested_at, actor AS requester, source_ip AS requested_from,
         'system:serviceaccount:' || namespace || ':' || name AS account
  FROM final_requests
  WHERE in_history(received_at, date, $since - $within, $until, $baseline)
    AND resource = 'serviceaccounts' AND subresource = 'token' AND verb = 'create' AND code BETWEEN 200 AND 299
    AND namespace IS NOT NULL AND name IS NOT NULL
    AND json_extract_string(request_object, '$.spec.boundObjectRef.kind') IS DISTINCT FROM 'Pod'
    AND NOT ($ignore_system_principals AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people))
    AND ($cluster IS NULL OR cluster = $cluster)
),
uses AS (
  SELECT r.*, t.requested_at, t.requester, t.requested_from,
         row_number() OVER (PARTITION BY r.cluster, r.actor, r.source_ip ORDER BY r.received_at, r.audit_id, t.requested_at DESC) AS nth
  FROM final_requests r
  JOIN tokens t ON t.cluster = r.cluster AND t.account = r.user_name
   AND r.received_at > t.requested_at AND r.received_at <= t.requested_at + $within
   AND r.source_ip IS DISTINCT FROM t.requested_from
  WHERE in_history(r.received_at, r.date, $since, $until, $baseline)
    AND starts_with(r.user_name, 'system:serviceaccount:')
    AND NOT coalesce(json_exists(r.user_extra, '$."authentication.kubernetes.io/pod-name"'), false)
    AND ($cluster IS NULL OR r.cluster = $cluster)
)
SELECT *, actor || ' used from ' || coalesce(source_ip, '?') || ' (' || verb || ' ' || object || outcome_suffix(code) || '), its token requested '
          || elapsed_text(requested_at, received_at) || ' before by ' || coalesce(requester, '(no user)') || ' from ' || coalesce(requested_from, '?') AS summary
FROM uses
WHERE nth = 1 AND received_at >= $since
