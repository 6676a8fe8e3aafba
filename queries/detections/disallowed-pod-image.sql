/*
title: Pod running an image outside the allowed repositories
engines: [duckdb, spark]
description: >
  A Pod created with a container whose image repository is not in `allowed_repositories`
  (`all_pod_specs` also reads workload templates, updates and patches, and init and ephemeral containers).
  Inert until you give the list, as upstream (Falco's allowed_k8s_containers is always true).
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1610]
reproduces:
  falco: [Create Disallowed Pod]
params:
  allowed_repositories: {type: "varchar[]", help: "The only image repositories allowed (the rule is off when not given)"}
audit:
  Create Disallowed Pod:
    upstream: 'Inert: allowed_k8s_containers is always true until you override it with your images (then: Pod creates whose containers'' repositories are not all in it).'
    ours: 'Inert until `allowed_repositories` is given (then: Pod creates with a container whose repository is not in it).'
    difference: 'None by default (both fire nowhere); configured, `all_pod_specs` widens it to workload templates, updates and patches, and init and ephemeral containers (the same pod spec, made another way).'
needs: [pod_specs]
*/
SELECT *, 'image ' || array_to_string(list_filter(repositories, lambda r: NOT list_contains($allowed_repositories, r)), ', ') || ' in ' || resource || ' ' || coalesce(namespace || '/', '') || coalesce(name, '') AS summary
FROM reported_workload_specs(false, false, $admin_groups, $admin_users, all_pod_specs := $all_pod_specs)
WHERE in_window(received_at, date, $since, $until)
  AND $allowed_repositories IS NOT NULL
  AND NOT coalesce(list_has_all($allowed_repositories, repositories), false)
  AND ($cluster IS NULL OR cluster = $cluster)
