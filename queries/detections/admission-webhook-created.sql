/*
title: Admission webhook created
engines: [duckdb, spark]
description: >
  A MutatingWebhookConfiguration or ValidatingWebhookConfiguration created by someone other than the
  control plane, and not refused.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1546, T1552]
reproduces:
  panther: [Kubernetes.AdmissionController.Created]
audit:
  Kubernetes.AdmissionController.Created:
    upstream: Create of a mutating or validating webhook configuration, not failed, by someone who is not a system principal (is_system_principal).
    ours: The same.
    difference: None by default; `admins_are_people` widens it to a `system:` user in system:masters (audit2rbac's system:admin), counted as a person (`actor_kind`), not as a system principal, so not left out.
needs:
  - {level: Metadata, group: admissionregistration.k8s.io, resources: [mutatingwebhookconfigurations, validatingwebhookconfigurations], verbs: [create]}
*/
SELECT *, coalesce(actor, '(no user)') || ' created ' || rtrim(resource, 's') || ' ' || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND coalesce(resource IN ('mutatingwebhookconfigurations', 'validatingwebhookconfigurations'), false)
  AND verb = 'create'
  AND coalesce(code, 200) < 400
  AND NOT is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people)
  AND ($cluster IS NULL OR cluster = $cluster)
