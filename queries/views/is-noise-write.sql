/*
title: is_noise_write(resource, subresource) — writes `auditlake changes` leaves out unless asked (leases, events, reviews, tokens)
kind: macro
description: >
  Controller heartbeats (leases), Event objects, access and token reviews, and the token, eviction,
  binding and approval subresources: written constantly, never a change anyone made to the cluster.
  `auditlake changes` counts them (`noise-writes`) and shows them with --include-noise.
*/
CREATE OR REPLACE MACRO is_noise_write(resource, subresource) AS
  resource IN ('events', 'leases', 'tokenreviews', 'subjectaccessreviews', 'selfsubjectaccessreviews', 'localsubjectaccessreviews',
               'selfsubjectrulesreviews')
  OR coalesce(subresource, '') IN ('token', 'eviction', 'binding', 'approval')
