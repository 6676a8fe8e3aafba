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
  AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users)
  AND NOT list_contains($allowed_listers, coalesce(user_name, ''))
  AND ($cluster IS NULL OR cluster = $cluster)
