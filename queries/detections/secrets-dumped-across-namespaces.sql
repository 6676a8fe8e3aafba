/*
title: All secrets listed across namespaces
engines: [duckdb, spark]
description: >
  A successful list of Secrets in all namespaces at once by a person or a workload (the control plane and
  `allowed_listers` left out): every credential of the cluster in one response.
severity: critical
controls: [pci-dss-4.0:10.2.1.1, hipaa:164.312(a)(1)]
mitre: [T1552.007]
reproduces:
  panther: [Kubernetes.Secrets.DumpAllNamespaces]
params:
  allowed_listers: {type: "varchar[]", default: ["system:serviceaccount:kube-system:namespace-controller", "system:serviceaccount:kube-system:kube-state-metrics", "system:apiserver"], help: Identities that list all secrets by design}
audit:
  Kubernetes.Secrets.DumpAllNamespaces:
    upstream: List of secrets, not failed, with no namespace and no /namespaces/ in the URI, not by a system principal or one of three allowed listers.
    ours: The same (`allowed_listers` holds the three).
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Metadata, resources: [secrets], verbs: [list]}
*/
SELECT *, coalesce(actor, '(no user)') || ' listed every secret of the cluster from ' || coalesce(source_ip, '?') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets'
  AND verb = 'list'
  AND coalesce(code, 200) < 400
  AND namespace IS NULL
  AND NOT contains(coalesce(request_uri, ''), '/namespaces/')
  AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people)
  AND NOT list_contains($allowed_listers, coalesce(user_name, ''))
  AND ($cluster IS NULL OR cluster = $cluster)
