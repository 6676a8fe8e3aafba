/*
title: Secret reads by humans — people reading credentials
engines: [duckdb, spark]
description: >
  Every get, list or watch of Secrets by a person (not a service account, node or control-plane
  component), allowed or denied, with where it came from. Service accounts reading their own
  secrets are normal; people doing it is what auditors ask about.
severity: high
controls: [pci-dss-4.0:10.2.1.1, pci-dss-4.0:10.2.1.2, hipaa:164.312(b), hipaa:164.308(a)(1)(ii)(D)]
mitre: [T1552.007]
params:
  namespace: {type: varchar, help: Only this namespace}
needs:  # the audit level and requests this question reads (auditlake policy simulate/recommend)
  - {level: Metadata, resources: [secrets], verbs: [get, list, watch]}
*/
SELECT received_at, cluster, namespace, name AS secret, verb, actor, authenticated_user, impersonated_user,
       source_ip, user_agent, allowed, code, audit_id
FROM reads
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'secrets' AND actor_kind(actor, actor_groups, $admin_groups, $admin_users) = 'human'
  AND ($cluster IS NULL OR cluster = $cluster)
  AND ($namespace IS NULL OR namespace = $namespace)
ORDER BY received_at, audit_id
