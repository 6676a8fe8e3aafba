/*
title: CronJob or Job created, changed or deleted
engines: [duckdb, spark]
description: >
  Scheduled and one-off jobs are a classic way to run code in the cluster and to come back later. As
  Sigma's selection, status writes count too (`ignore_status` leaves them out); `count_deletecollection` also
  counts deletecollection, which Sigma's verbs leave out.
severity: medium
controls: [pci-dss-4.0:10.2.1.7, hipaa:164.312(c)(1)]
mitre: [T1053.007]
reproduces:
  sigma: [Kubernetes CronJob/Job Modification]
params:
  ignore_status: {type: boolean, default: false, help: "Leave out writes to a subresource (jobs/status, cronjobs/status: the controllers' own bookkeeping), which Sigma's selection counts"}
audit:
  Kubernetes CronJob/Job Modification:
    upstream: objectRef.apiGroup batch, cronjobs or jobs, verb create, delete, patch, replace or update, whatever the subresource (status writes included); any outcome, any user.
    ours: The same, status writes included.
    difference: None by default; `count_deletecollection` widens it to deletecollection. `ignore_status` leaves out the job and cronjob controllers' status writes, which Sigma's selection counts.
needs:
  - {level: Metadata, group: batch, resources: [cronjobs, jobs], verbs: [create, update, patch, delete]}
*/
SELECT *, rtrim(resource, 's') || ' ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' ' || verb || CASE WHEN verb LIKE '%e' THEN 'd' ELSE 'ed' END AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND api_group = 'batch'
  AND coalesce(resource IN ('cronjobs', 'jobs'), false)
  AND NOT ($ignore_status AND subresource IS NOT NULL)
  AND (verb IN ('create', 'update', 'patch', 'delete') OR ($count_deletecollection AND verb = 'deletecollection'))
  AND ($cluster IS NULL OR cluster = $cluster)
