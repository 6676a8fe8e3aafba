/*
title: CronJob created or changed
engines: [duckdb, spark]
description: >
  A CronJob created, updated or patched (status writes left out), and not refused, by anyone; the control
  plane in system namespaces is left out when `ignore_system` (Panther's Kubernetes rule, not its GKE variant). Panther's GKE variant reads the authorization of Deployment Manager
  entries: see the test's agreed exceptions.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1053.007]
reproduces:
  panther: [Kubernetes.CronJob.CreatedOrModified, GCP.GKE.Kubernetes.Cron.Job.Created.Or.Modified]
params:
  ignore_system: {type: boolean, default: false, help: "Leave out control-plane identities in system namespaces (Panther's Kubernetes rule; its GKE variant keeps them)"}
audit:
  Kubernetes.CronJob.CreatedOrModified:
    upstream: Create, update or patch of a CronJob, not its status subresource, not failed, except a system principal in a system namespace.
    ours: The same, and system principals in system namespaces too.
    difference: Also the control plane's writes in system namespaces (Panther's GKE variant keeps them).
    params:
      ignore_system: true
  GCP.GKE.Kubernetes.Cron.Job.Created.Or.Modified:
    upstream: A GKE audit entry granted io.k8s.batch.v1.cronjobs.create or .update; any user.
    ours: Create, update or patch of a CronJob that did not fail, not its status, any user.
    difference: A request that was authorized but then failed (409, 422) counts upstream, not here; the Deployment Manager entries the test reads are not Kubernetes audit events.
needs:
  - {level: Metadata, group: batch, resources: [cronjobs], verbs: [create, update, patch]}
*/
SELECT *, 'cronjob ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END || ' by ' || coalesce(actor, '(no user)') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'cronjobs'
  AND coalesce(verb IN ('create', 'update', 'patch'), false)
  AND coalesce(subresource, '') <> 'status'
  AND coalesce(code, 200) < 400
  AND NOT ($ignore_system AND is_system_principal(user_name, user_groups, $admin_groups, $admin_users, $admins_are_people) AND is_system_namespace(namespace))
  AND ($cluster IS NULL OR cluster = $cluster)
