/*
title: Container image changes — old → new image per Deployment, StatefulSet and DaemonSet
engines: [duckdb, spark]
description: >
  From the bodies the audit level recorded: the images of the pod template after each write
  (responseObject, else the request body or patch), compared with the images after the previous
  write to the same workload, looking back before the window when needed. Writes recorded at
  Metadata level carry no body and cannot show an image.
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(c)(1)]
mitre: [T1525]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: RequestResponse, group: apps, resources: [deployments, statefulsets, daemonsets], verbs: [create, update, patch]}
*/
WITH writes AS (
  SELECT received_at, cluster, resource, namespace, name, verb, actor, actor_kind(actor, actor_groups, $admin_groups, $admin_users) AS actor_kind, source_ip, user_agent, audit_id,
         list_sort(coalesce(
           json_extract_string(response_object, '$.spec.template.spec.containers[*].image'),
           json_extract_string(request_object, '$.spec.template.spec.containers[*].image'))) AS images
  FROM changes
  WHERE resource IN ('deployments', 'statefulsets', 'daemonsets') AND NOT is_status_only AND subresource IS NULL
    AND received_at < $until AND date <= CAST(timezone('UTC', $until) AS DATE)
    AND ($cluster IS NULL OR cluster = $cluster)
    AND ($namespace IS NULL OR namespace = $namespace)
),
known AS (
  SELECT *, lag(images) OVER (PARTITION BY cluster, resource, namespace, name ORDER BY received_at, audit_id) AS previous
  FROM writes WHERE array_length(images) > 0
)
SELECT received_at, cluster, resource, namespace, name,
       array_to_string(previous, ', ') AS old_image, array_to_string(images, ', ') AS new_image,
       verb, actor, actor_kind, source_ip, user_agent, audit_id
FROM known
WHERE received_at >= $since AND previous IS DISTINCT FROM images
ORDER BY received_at, audit_id
