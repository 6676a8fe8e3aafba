/*
title: image_repository(image) — an image reference without its tag and digest
kind: macro
description: >
  `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`: the digest goes, then a tag only when
  it follows the last slash (a registry port is kept, unlike Falco's split at the first colon).
*/
CREATE OR REPLACE MACRO image_repository(image) AS regexp_replace(split_part(image, '@', 1), ':[^/:]*$', '')
