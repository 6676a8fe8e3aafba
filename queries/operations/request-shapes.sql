/*
title: Request shapes — what the audit policy decides on, with how many events and bytes each
engines: [duckdb, spark]
description: >
  Events grouped by everything an audit Policy rule can match (user, groups, verb, API group,
  resource, subresource, namespace, name, non-resource path) and by stage and level, with counts and
  the bytes of their bodies. The input of `auditlake policy simulate` and `policy explain --lake`.
severity: info
controls: [pci-dss-4.0:10.2.1]
params:
  with_names: {type: boolean, default: false, help: "Keep object names (needed when the policy uses resourceNames)"}
needs:
  - {level: Metadata}
*/
SELECT user_name, list_sort(coalesce(user_groups, [])) AS user_groups, verb, coalesce(api_group, '') AS api_group, resource,
       subresource, namespace, CASE WHEN $with_names THEN name END AS name,
       CASE WHEN resource IS NULL THEN split_part(request_uri, '?', 1) END AS path,
       stage, level, count(*) AS events,
       CAST(sum(coalesce(strlen(CAST(request_object AS VARCHAR)), 0)) AS BIGINT) AS request_bytes,
       CAST(sum(coalesce(strlen(CAST(response_object AS VARCHAR)), 0)) AS BIGINT) AS response_bytes
FROM events
WHERE in_window(received_at, date, $since, $until)
  AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY ALL
