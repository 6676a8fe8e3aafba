/*
title: Image provenance — every image each workload ran, and who introduced it
engines: [duckdb, spark]
description: >
  Per Deployment, StatefulSet, DaemonSet, Job and CronJob: each container image its pod template
  carried, when it first appeared, who wrote it (actor and client), when it was last written, and how
  many writes carried it. From the bodies the audit level recorded (response, else request).
severity: info
controls: [pci-dss-4.0:10.2.1.2, pci-dss-4.0:10.2.2, hipaa:164.312(c)(1)]
mitre: [T1525]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: RequestResponse, group: apps, resources: [deployments, statefulsets, daemonsets], verbs: [create, update, patch]}
  - {level: RequestResponse, group: batch, resources: [jobs, cronjobs], verbs: [create, update, patch]}
*/
WITH writes AS (
  SELECT received_at, cluster, resource, namespace, name, actor, user_agent, audit_id,
         coalesce(json_extract_string(response_object, '$.spec.template.spec.containers[*].image'),
                  json_extract_string(response_object, '$.spec.jobTemplate.spec.template.spec.containers[*].image'),
                  json_extract_string(request_object, '$.spec.template.spec.containers[*].image'),
                  json_extract_string(request_object, '$.spec.jobTemplate.spec.template.spec.containers[*].image')) AS images
  FROM changes
  WHERE in_window(received_at, date, $since, $until)
    AND resource IN ('deployments', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs') AND subresource IS NULL
    AND ($cluster IS NULL OR cluster = $cluster)
    AND ($namespace IS NULL OR namespace = $namespace)
),
images AS (
  SELECT received_at, cluster, resource, namespace, name, actor, user_agent, audit_id, unnest(images) AS image FROM writes
)
SELECT cluster, resource, namespace, name, image,
       min(received_at) AS first_seen, arg_min(actor, received_at) AS introduced_by,
       split_part(arg_min(user_agent, received_at), '/', 1) AS introduced_with, arg_min(audit_id, received_at) AS introduced_in,
       max(received_at) AS last_written, count(*) AS writes
FROM images
GROUP BY ALL
ORDER BY cluster, resource, namespace, name, first_seen
