/*
title: Shells, downloaders or scanning tools run through the API
engines: [duckdb, spark]
description: >
  Requests whose URI names a shell or a download/scripting tool (an exec command, plain or URL-encoded) or
  whose user agent is a known enumeration tool (Rakkess access_matrix, TruffleHog, AzureHound, micro-
  scanner), that the authorizer allowed. Sigma tests `responseStatus.code: 'ALLOW'`, which never matches
  (the code is an HTTP status); what it means is the authorization decision `allow`, read here (or a
  1xx–3xx code when the event carries no decision).
severity: medium
controls: [pci-dss-4.0:10.2.1.2, hipaa:164.312(b)]
mitre: [T1609, T1613]
reproduces:
  sigma: [Kubernetes Potential Enumeration Activity]
params:
  uri_markers: {type: "varchar[]", default: ["%2fbin%2fash", "%2fbin%2fbash", "%2fbin%2fbusybox", "%2fbin%2fdash", "%2fbin%2fsh", "%2fbin%2fzsh", /bin/ash, /bin/bash, /bin/busybox, /bin/dash, /bin/sh, /bin/zsh, "%2fusr%2fbin%2fcurl", "%2fusr%2fbin%2fkubectl", "%2fusr%2fbin%2fperl", "%2fusr%2fbin%2fpython", "%2fusr%2fbin%2fwget", /usr/bin/curl, /usr/bin/kubectl, /usr/bin/perl, /usr/bin/python, /usr/bin/wget], help: "Substrings of the request URI (case ignored)"}
  user_agents: {type: "varchar[]", default: [access_matrix, trufflehog, azurehound, micro-scanner], help: Substrings of the user agent (case ignored)}
audit:
  Kubernetes Potential Enumeration Activity:
    upstream: 'Request URI naming a shell or tool (plain or URL-encoded) or user agent naming access_matrix, trufflehog, azurehound or micro-scanner, and responseStatus.code ''ALLOW'': the code is a number,
      so the rule as written never fires.'
    ours: The same URIs and user agents (case ignored), whose authorization decision is allow (or a 1xx–3xx code when the event has none).
    difference: Upstream's condition never matches; this reads what it means.
needs:
  - {level: Metadata}
*/
SELECT *, coalesce(actor, '(no user)') || ' ' || verb || ' ' || coalesce(exec_command(request_uri), request_uri) || ' (' || coalesce(user_agent, '') || ')' AS summary
FROM final_requests
WHERE in_window(received_at, date, $since, $until)
  AND (contains_any_of(request_uri, $uri_markers) OR contains_any_of(user_agent, $user_agents))
  AND (decision = 'allow' OR (decision IS NULL AND code BETWEEN 100 AND 399))
  AND ($cluster IS NULL OR cluster = $cluster)
