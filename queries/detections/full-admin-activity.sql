/*
title: Activity of a full-admin kubeconfig user
engines: [duckdb, spark]
description: >
  Every request by one of the administrator identities named in `admin_users` (the AUDITLAKE_ADMIN_USERS
  setting: by default the default ones of common installers, Falco's full_admin_k8s_users), whatever its
  name looks like (`system:admin` counts once named). Members of system:masters who are not named are in
  the admin-actions question. Upstream ships this rule switched off (allowed_full_admin_users is always
  true), and so does this: it runs when named (--rule) or switched on (full-admin-activity.enabled=true).
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1078]
reproduces:
  falco: [Full K8s Administrative Access]
params:
  admin_users: {type: "varchar[]", default: {setting: admin_users}, help: "Users who are people with administrative access (by default Falco's full_admin_k8s_users)"}
enabled: false  # upstream ships it disabled: runs when named (--rule) or switched on (RULE.enabled=true)
audit:
  Full K8s Administrative Access:
    upstream: 'Shipped switched off (allowed_full_admin_users is always true). Switched on: any request by a user not starting with system: who is in full_admin_k8s_users (admin, kubernetes-admin, kubernetes-admin@kubernetes,
      kubernetes-admin@cluster.local, minikube-user).'
    ours: 'Off by default (`enabled: false`); named with --rule or switched on with full-admin-activity.enabled=true, every request by a user in `admin_users` (the AUDITLAKE_ADMIN_USERS setting: by default
      Falco''s five).'
    difference: None by default; switched on, `admin_users` may name a `system:` user, which Falco's non_system_user would leave out.
needs:
  - {level: Metadata}
*/
SELECT *, user_name || ' ' || verb || ' ' || object || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND list_contains($admin_users, user_name)
  AND ($cluster IS NULL OR cluster = $cluster)
