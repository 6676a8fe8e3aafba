/*
title: object_text(resource, subresource, namespace, name, request_uri) — `pods/exec payments/api-7d9f` or `/healthz` for findings
kind: macro
description: >
  What a request touched, in one short string: the object (cluster-scoped objects have no namespace part),
  or, for a request to a non-resource URL (`/healthz`, `/logs/…`, `/version`), its path without the query.
  Every finding's `object` and the summaries that name a target are built with it.
*/
CREATE OR REPLACE MACRO object_text(resource, subresource, namespace, name, request_uri) AS CASE
  WHEN resource IS NULL AND nullif(request_uri, '') IS NOT NULL THEN split_part(request_uri, '?', 1)
  ELSE trim(coalesce(resource, '') || coalesce('/' || subresource, '') || ' ' || coalesce(namespace || '/', '') || coalesce(name, ''))
END
