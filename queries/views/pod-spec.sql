/*
title: pod_spec(resource, body) — the Pod spec inside a Pod or a workload's template
kind: macro
description: >
  Where the pod spec lives in a request body: `spec` of a Pod, `spec.template.spec` of Deployments,
  DaemonSets, StatefulSets, ReplicaSets, Jobs and ReplicationControllers, `template.spec` of a PodTemplate,
  and `spec.jobTemplate.spec.template.spec` of a CronJob. NULL for anything else.
*/
CREATE OR REPLACE MACRO pod_spec(resource, body) AS CASE
  WHEN resource = 'pods' THEN json_extract(body, '$.spec')
  WHEN resource IN ('deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'replicationcontrollers')
    THEN json_extract(body, '$.spec.template.spec')
  WHEN resource = 'podtemplates' THEN json_extract(body, '$.template.spec')
  WHEN resource = 'cronjobs' THEN json_extract(body, '$.spec.jobTemplate.spec.template.spec')
END
