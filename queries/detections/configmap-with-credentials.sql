/*
title: ConfigMap holding what looks like a credential
engines: [duckdb, spark]
description: >
  A ConfigMap created or changed whose data mentions an AWS access key id, a password or a passphrase
  (Falco's case-sensitive substrings of the data): credentials belong in Secrets.
severity: medium
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1552.007]
reproduces:
  falco: [Create/Modify Configmap With Private Credentials]
params:
  markers: {type: "varchar[]", default: [aws_access_key_id, aws-access-key-id, aws_s3_access_key_id, aws-s3-access-key-id, password, passphrase], help: Substrings of the data that suggest a credential}
audit:
  Create/Modify Configmap With Private Credentials:
    upstream: Create, update or patch of a ConfigMap whose request object contains aws_access_key_id, aws-access-key-id, aws_s3_access_key_id, aws-s3-access-key-id, password or passphrase (case-sensitive);
      any outcome.
    ours: The same substrings (`markers`) in the request's data.
    difference: none
needs:
  - {level: Request, resources: [configmaps], verbs: [create, update, patch]}
*/
SELECT *, 'configmap ' || coalesce(namespace || '/', '') || coalesce(name, '') || ' data mentions ' || array_to_string(list_filter($markers, lambda m: contains(CAST(json_extract(request_object, '$.data') AS VARCHAR), m)), ', ') AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'configmaps'
  AND coalesce(verb IN ('create', 'update', 'patch'), false)
  AND list_bool_or(list_transform($markers, lambda m: contains(CAST(json_extract(request_object, '$.data') AS VARCHAR), m)))
  AND ($cluster IS NULL OR cluster = $cluster)
