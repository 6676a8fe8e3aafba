"""The kube-apiserver's audit flags and mounts, checked against the CIS Kubernetes Benchmark (1.2.16–1.2.19).

Owns: reading the static pod manifest (/etc/kubernetes/manifests/kube-apiserver.yaml) and the findings on
its --audit-* flags, the policy file's mount and the audit log's mount. Reads the one file it is given;
never evaluates a policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from auditlake.policy.model import Finding, PolicyError

CIS_MINIMUMS = {"--audit-log-maxage": 30, "--audit-log-maxbackup": 10, "--audit-log-maxsize": 100}


def check_apiserver(path: Path) -> list[Finding]:
    """The static pod manifest's audit flags and mounts against the CIS Kubernetes Benchmark (1.2.16–1.2.19)."""
    try:
        manifest = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"cannot read the manifest ({error})", path=path) from None
    containers = ((manifest or {}).get("spec") or {}).get("containers") or []
    apiserver = next((c for c in containers if "kube-apiserver" in " ".join(map(str, (c.get("command") or []) + [c.get("name", "")]))), None)
    if apiserver is None:
        raise PolicyError("no kube-apiserver container in this manifest", path=path, hint="point at /etc/kubernetes/manifests/kube-apiserver.yaml")
    flags: dict[str, str] = {}
    for argument in (apiserver.get("command") or []) + (apiserver.get("args") or []):
        key, _, value = str(argument).partition("=")
        if key.startswith("--"):
            flags[key] = value
    findings: list[Finding] = []
    log_path = flags.get("--audit-log-path")
    webhook = flags.get("--audit-webhook-config-file")
    if not log_path and not webhook:
        findings.append(Finding("error", "cis-1.2.16", None, "--audit-log-path is not set: the apiserver writes no audit log (CIS 1.2.16)"))
    for flag, minimum in CIS_MINIMUMS.items():
        setting = flags.get(flag)
        if log_path and log_path != "-" and (setting is None or not setting.isdigit() or int(setting) < minimum):
            control = {"--audit-log-maxage": "1.2.17", "--audit-log-maxbackup": "1.2.18", "--audit-log-maxsize": "1.2.19"}[flag]
            findings.append(Finding("error", f"cis-{control}", None, f"{flag} is {setting or 'not set'}: set it to {minimum} or more (CIS {control})"))
    policy_file = flags.get("--audit-policy-file")
    if not policy_file:
        findings.append(Finding("error", "policy-file", None, "--audit-policy-file is not set: without a policy nothing is audited"))
    mounts = {m.get("mountPath"): m for m in apiserver.get("volumeMounts") or []}
    volumes = {v.get("name"): v for v in ((manifest.get("spec") or {}).get("volumes") or [])}

    def mount_for(file_path: str) -> dict[str, Any] | None:
        candidates = [m for p, m in mounts.items() if p and (file_path == p or file_path.startswith(p.rstrip("/") + "/"))]
        return max(candidates, key=lambda m: len(m.get("mountPath", "")), default=None)

    if policy_file:
        mount = mount_for(policy_file)
        if mount is None:
            findings.append(Finding("error", "policy-not-mounted", None, f"the policy file {policy_file} is not on any volume mount"))
        else:
            if not mount.get("readOnly"):
                findings.append(Finding("warning", "policy-mount-writable", None,
                                        f"the policy is mounted read-write at {mount['mountPath']}: mount it readOnly: true"))
            if "hostPath" not in volumes.get(mount.get("name"), {}):
                findings.append(Finding("warning", "policy-not-hostpath", None, f"volume {mount.get('name')} is not a hostPath"))
    if log_path and log_path != "-":
        mount = mount_for(log_path)
        if mount is None:
            findings.append(Finding("error", "log-not-mounted", None,
                                    f"the audit log {log_path} is not on a volume mount: it is lost with the container"))
        elif mount.get("readOnly"):
            findings.append(Finding("error", "log-mount-read-only", None, f"the audit log directory {mount['mountPath']} is mounted read-only"))
    return findings
