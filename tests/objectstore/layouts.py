"""Real audit events laid out as the managed providers write them to a bucket, on local disk (then uploaded as is).

No public repository holds a real EKS Firehose object, an AKS storage-account blob or a GKE sink file, so
these are built around real events (tests/data, see PROVENANCE.md) exactly in the providers' shapes:

- EKS: CloudWatch Logs subscription → Firehose → S3: gzip objects under `<prefix>/YYYY/MM/DD/HH/`, named
  `<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, one subscription record per line (Firehose's newline
  delimiter), written as several gzip members one after another (as Firehose appends compressed records),
  the first object opening with CloudWatch's CONTROL_MESSAGE.
- AKS: diagnostic settings → storage account: `insights-logs-kube-audit/resourceId=/SUBSCRIPTIONS/…/
  MANAGEDCLUSTERS/<name>/y=…/m=…/d=…/h=…/m=00/PT1H.json`, one record per line, appended during the hour.
- GKE: log sink → bucket: `cloudaudit.googleapis.com/activity/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json`, one
  LogEntry per line (KHI's real GKE entry, and KHI's Pod sequence, vendored in tests/data).
- a plain kube-apiserver log with a lumberjack rotation, a README and a hidden folder, as a directory holds them.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import yaml

from tests.conftest import DATA

AKS_RESOURCE = ("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG-PROD/PROVIDERS/"
                "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD-EU")
AKS_PREFIX = f"insights-logs-kube-audit/resourceId={AKS_RESOURCE}/y=2026/m=11/d=03"
EKS_PREFIX = "eks/prod-eu/2026/11/03/10"
GKE_PREFIX = "cloudaudit.googleapis.com/activity/2026/11/03"
AKS_GROWN_KEY = f"{AKS_PREFIX}/h=11/m=00/PT1H.json"  # the blob the append test grows
AKS_APPENDED = 4  # events the append test adds to it


def events(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def stage_time(event: dict) -> str:
    return event.get("stageTimestamp") or event["timestamp"]  # v1, or v1beta1 (audit2rbac)


def epoch_millis(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def subscription_record(chunk: list[dict], stream: str = "kube-apiserver-audit-0a1b2c") -> dict:
    return {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/eks/prod-eu/cluster", "logStream": stream,
            "subscriptionFilters": ["audit-to-firehose"],
            "logEvents": [{"id": f"{epoch_millis(stage_time(event))}{index:06d}", "timestamp": epoch_millis(stage_time(event)),
                           "message": json.dumps(event, separators=(",", ":"))} for index, event in enumerate(chunk)]}


def firehose_object(batch: list[dict], *, control: bool = False, members: int = 2, per_record: int = 10) -> bytes:
    """Subscription records of `per_record` log events, one per line, compressed as `members` gzip members back to back."""
    lines = [json.dumps({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
                         "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1762164000000,
                                                                   "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]})
             ] if control else []
    lines += [json.dumps(subscription_record(batch[start:start + per_record])) for start in range(0, len(batch), per_record)]
    size = -(-len(lines) // members)
    return b"".join(gzip.compress("".join(line + "\n" for line in lines[start:start + size]).encode(), mtime=0)
                    for start in range(0, len(lines), size))


def firehose_key(minute: int, prefix: str = EKS_PREFIX) -> str:
    return f"{prefix}/org-audit-eks-1-2026-11-03-10-{minute:02d}-00-5f0c{minute:04d}-8a3e-4b1d-9c2f-0e6d7a8b9c0d.gz"


def aks_lines(chunk: list[dict]) -> bytes:
    records = [{"time": stage_time(event), "resourceId": AKS_RESOURCE, "category": "kube-audit",
                "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
                "properties": {"log": json.dumps(event, separators=(",", ":")), "stream": "stdout", "pod": "kube-apiserver-7d9f8c6b5-x2x4q"}}
               for event in chunk]
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def gke_lines(entries: list[dict]) -> bytes:
    return "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries).encode()


def write_provider_tree(root: Path) -> dict[str, int]:
    """Write the layout under `root`; return the audit events written per provider (what the lake must hold, before dedupe)."""
    files: dict[str, bytes] = {}
    immudb = events("immudb_first_300_lines.log")
    for number, start in enumerate(range(0, len(immudb), 100)):
        files[firehose_key(number * 5)] = firehose_object(immudb[start:start + 100], control=number == 0)
    rbac = events("audit2rbac_cluster_rbac_create_delete.log")
    files[f"{AKS_PREFIX}/h=10/m=00/PT1H.json"] = aks_lines(rbac[:24])
    files[AKS_GROWN_KEY] = aks_lines(rbac[24:-AKS_APPENDED])
    gke = [yaml.safe_load((DATA / "khi_gke_pod_create.yaml").read_text())]
    files[f"{GKE_PREFIX}/10:00:00_10:59:59_S0.json"] = gke_lines(gke)
    sequence = DATA / "khi_gke_pod_sequence.jsonl"
    files[f"{GKE_PREFIX}/11:00:00_11:59:59_S0.json"] = sequence.read_bytes()
    gke += [json.loads(line) for line in sequence.read_text().splitlines() if line.strip()]
    lease = (DATA / "immudb_kube_scheduler_lease_updates.log").read_bytes().splitlines(keepends=True)
    files["kube-apiserver/audit-2026-11-03T10-00-00.000.log.gz"] = gzip.compress(b"".join(lease[:40]), mtime=0)
    files["kube-apiserver/audit.log"] = b"".join(lease[40:])
    files["kube-apiserver/README.md"] = b"# the audit logs of the control plane\n"
    files["kube-apiserver/.staging/audit.log.tmp"] = b"{\n"
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # The KHI sequence opens with the very entry of the YAML file: its first line continues that source (as a rotated log would).
    return {"eks": len(immudb), "aks": len(rbac) - AKS_APPENDED, "gke": len({entry["insertId"] for entry in gke}), "plain": len(lease)}


def aks_grown_blob() -> bytes:
    """The h=11 PT1H.json after Azure appended the hour's last records to it."""
    rbac = events("audit2rbac_cluster_rbac_create_delete.log")
    return aks_lines(rbac[24:])


def upload_tree(client, bucket: str, root: Path, prefix: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """Put every file under `root` into `bucket` under `prefix`, its key its path; the keys, sorted."""
    keys = []
    for path in sorted(path for path in root.rglob("*") if path.is_file()):
        key = prefix + path.relative_to(root).as_posix()
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys
