/*
title: CRD and admission-control changes — new APIs and who can rewrite or veto requests
engines: [duckdb, spark]
description: >
  Writes to CustomResourceDefinitions, mutating and validating webhook configurations and
  ValidatingAdmissionPolicies (and their bindings): changes that alter what the API accepts.
severity: high
controls: [pci-dss-4.0:10.2.1.7, pci-dss-4.0:10.2.1.2, hipaa:164.312(c)(1)]
mitre: [T1546]
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, group: apiextensions.k8s.io, resources: [customresourcedefinitions], verbs: [create, update, patch, delete]}
  - {level: Metadata, group: admissionregistration.k8s.io, resources: [mutatingwebhookconfigurations, validatingwebhookconfigurations, validatingadmissionpolicies, validatingadmissionpolicybindings], verbs: [create, update, patch, delete]}
*/
SELECT received_at, cluster, api_group, resource, name, verb, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id
FROM changes
WHERE in_window(received_at, date, $since, $until)
  AND resource IN ('customresourcedefinitions', 'mutatingwebhookconfigurations', 'validatingwebhookconfigurations',
                   'validatingadmissionpolicies', 'validatingadmissionpolicybindings',
                   'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings')
  AND NOT is_status_only
  AND ($cluster IS NULL OR cluster = $cluster)
ORDER BY received_at, audit_id
