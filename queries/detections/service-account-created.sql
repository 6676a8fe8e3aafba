/*
title: Service account created
engines: [duckdb, spark]
description: >
  A new ServiceAccount: a new identity that can be given roles and tokens. As Sigma's selection (which
  does not look at the subresource), token requests count too; `ignore_subresources` leaves them out.
severity: low
controls: [pci-dss-4.0:10.2.1.5, hipaa:164.312(d)]
mitre: [T1136]
reproduces:
  sigma: [New Kubernetes Service Account Created]
params:
  ignore_subresources: {type: boolean, default: false, help: "Leave out token requests (serviceaccounts/token), which Sigma's selection counts: every kubelet mints them"}
audit:
  New Kubernetes Service Account Created:
    upstream: Verb create of serviceaccounts, whatever the subresource (a token request, serviceaccounts/token, included); any outcome, any user.
    ours: The same, token requests included (`ignore_subresources` off).
    difference: none
needs:
  - {level: Metadata, resources: [serviceaccounts, serviceaccounts/token], verbs: [create]}
*/
SELECT *, 'service account ' || coalesce(namespace || '/', '') || coalesce(name, json_extract_string(request_object, '$.metadata.name'), '') || ' created by ' || coalesce(actor, '(no user)') || outcome_suffix(code) AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND resource = 'serviceaccounts'
  AND NOT ($ignore_subresources AND subresource IS NOT NULL)
  AND verb = 'create'
  AND ($cluster IS NULL OR cluster = $cluster)
