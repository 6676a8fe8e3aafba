/*
title: RBAC requests — what each subject asked the apiserver for, by request shape
engines: {duckdb: true, spark: "not yet run by the Spark parity test: auditlake rbac reads it on DuckDB only"}
description: >
  The raw material of `auditlake rbac suggest` and `rbac unused`: one row per subject and request shape in the window.
  The subject is the identity the apiserver authorised (the impersonated user when there is one, as audit2rbac does),
  with the groups it acted in; the shape is what an RBAC rule matches (verb, API group, resource, subresource, namespace,
  object name, or the path of a non-resource request). Each row counts the requests, says whether they were denied (403),
  and gives the authorizer's reason (which binding allowed them), the first audit id and the first and last time.
  Unauthenticated (401) requests have no subject to grant anything to and are left out.
severity: info
controls: [pci-dss-4.0:7.2.1, pci-dss-4.0:7.2.2, pci-dss-4.0:7.2.4, hipaa:164.308(a)(4)]
params:
  subject: {type: varchar, help: "Only this user (system:serviceaccount:NS:NAME for a service account; GKE: the email)"}
  namespace: {type: varchar, help: Only requests in this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata}
*/
SELECT cluster,
       coalesce(impersonated_user, user_name) AS subject,
       list_sort(actor_groups(user_groups, impersonated_user, impersonated_groups)) AS groups,
       verb,
       coalesce(api_group, '') AS api_group,
       coalesce(resource, '') AS resource,
       coalesce(subresource, '') AS subresource,
       coalesce(namespace, '') AS namespace,
       coalesce(name, '') AS name,
       CASE WHEN resource IS NULL THEN split_part(coalesce(request_uri, ''), '?', 1) ELSE '' END AS path,
       coalesce(code = 403 OR decision = 'forbid', false) AS denied,
       coalesce(authz_reason, '') AS authz_reason,
       count(*) AS requests,
       min(received_at) AS first_at,
       max(received_at) AS last_at,
       arg_min(audit_id, received_at) AS first_audit_id
FROM events
WHERE is_final(stage)
  AND in_window(received_at, date, $since, $until)
  AND ($cluster IS NULL OR cluster = $cluster)
  AND coalesce(impersonated_user, user_name) IS NOT NULL
  AND ($subject IS NULL OR coalesce(impersonated_user, user_name) = $subject)
  AND ($namespace IS NULL OR namespace = $namespace)
  AND verb IS NOT NULL
  AND coalesce(code, 0) <> 401
GROUP BY ALL
ORDER BY cluster, subject, first_at, verb, api_group, resource, subresource, namespace, name, path
