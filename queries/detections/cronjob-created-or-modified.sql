/*
title: CronJob created or changed
engines: [duckdb, spark]
description: >
  A CronJob created, updated or patched (status writes left out), and not refused; the control plane in
  system namespaces is left out. Panther's GKE variant reads the authorization of Deployment Manager
  entries: see the test's agreed exceptions.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1053.007]
reproduces:
  panther: [Kubernetes.CronJob.CreatedOrModified, GCP.GKE.Kubernetes.Cron.Job.Created.Or.Modified]
params:
  ignore_system: {type: boolean, default: true, help: Leave out control-plane identities (in system namespaces)}
needs:
  - {level: Metadata, group: batch, resources: [cronjobs], verbs: [create, update, patch]}
*/
SELECT *, 'cronjob ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END || ' by ' || coalesce(actor, '(no user)') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'cronjobs'
  AND verb IN ('create', 'update', 'patch')
  AND coalesce(subresource, '') <> 'status'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users) AND is_system_namespace(namespace))
  AND ($cluster IS NULL OR cluster = $cluster)
