/*
title: object_text(resource, subresource, namespace, name) — `pods/exec payments/api-7d9f` for findings
kind: macro
description: The object a request touched, in one short string (cluster-scoped objects have no namespace part).
*/
CREATE OR REPLACE MACRO object_text(resource, subresource, namespace, name) AS
  trim(coalesce(resource, '') || coalesce('/' || subresource, '') || ' ' || coalesce(namespace || '/', '') || coalesce(name, ''))
