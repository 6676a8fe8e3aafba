/*
title: exec_command(request_uri) — the command of an exec/attach request, decoded
kind: macro
description: >
  kubectl exec sends the command as repeated `command=` query parameters, URL-encoded
  (`command=sh&command=-c&command=cat+%2Fetc%2Fpasswd`); this joins and decodes them.
*/
CREATE OR REPLACE MACRO exec_command(uri) AS
  nullif(url_decode(replace(array_to_string(regexp_extract_all(uri, '[?&]command=([^&]*)', 1), ' '), '+', ' ')), '')
