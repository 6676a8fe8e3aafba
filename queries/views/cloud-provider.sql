/*
title: cloud_provider(user_name, user_extra, extra) — eks, gke or aks when the event itself shows it
kind: macro
description: >
  What an event alone says about the cluster that logged it. EKS: an `eks:` user (EKS's own control
  plane), the IAM extras aws-iam-authenticator adds to user.extra (`arn` of an IAM role or user,
  `canonicalArn`, `accessKeyId`, `sessionName`, `principalId`), or an export's `p_log_type:
  Amazon.EKS.Audit`. GKE: a `system:gke-` user, a GCP service account (`…iam.gserviceaccount.com`), GKE's
  user-assertion extras, or a `GCP.` log type. AKS: aksService, masterclient, an `aks:` user, or an
  `Azure.` log type. NULL when it says nothing (most requests: pods, anonymous probes). `cluster_providers`
  decides for those from the rest of their cluster. Each JSON lookup is guarded by `contains` on the key (or
  the value's prefix): the lake stores these columns as JSON text re-serialised at ingest, so a key is spelled
  plainly, and the guard skips parsing the JSON of the events that cannot match (most of them).
*/
CREATE OR REPLACE MACRO cloud_provider(user_name, user_extra, extra) AS CASE
  WHEN (contains(extra, 'p_log_type') AND starts_with(coalesce(json_extract_string(extra, '$.p_log_type'), ''), 'Amazon.EKS'))
    OR starts_with(coalesce(user_name, ''), 'eks:')
    OR (contains(user_extra, 'arn:aws') AND starts_with(coalesce(json_extract_string(user_extra, '$.arn[0]'), ''), 'arn:aws'))
    OR (contains(user_extra, 'canonicalArn') AND json_exists(user_extra, '$.canonicalArn'))
    OR (contains(user_extra, 'accessKeyId') AND json_exists(user_extra, '$.accessKeyId'))
    OR (contains(user_extra, 'sessionName') AND json_exists(user_extra, '$.sessionName'))
    OR (contains(user_extra, 'principalId') AND (json_exists(user_extra, '$.principalId')
                                                  OR json_exists(user_extra, '$."sigs.k8s.io/aws-iam-authenticator/principalId"'))) THEN 'eks'
  WHEN (contains(extra, 'p_log_type') AND starts_with(coalesce(json_extract_string(extra, '$.p_log_type'), ''), 'GCP.'))
    OR starts_with(coalesce(user_name, ''), 'system:gke-') OR ends_with(coalesce(user_name, ''), '.iam.gserviceaccount.com')
    OR (contains(user_extra, 'user-assertion') AND (json_exists(user_extra, '$."iam.gke.io/user-assertion"')
                                                    OR json_exists(user_extra, '$."user-assertion.cloud.google.com"'))) THEN 'gke'
  WHEN (contains(extra, 'p_log_type') AND starts_with(coalesce(json_extract_string(extra, '$.p_log_type'), ''), 'Azure.'))
    OR user_name IN ('aksService', 'masterclient') OR starts_with(coalesce(user_name, ''), 'aks:') THEN 'aks'
END
