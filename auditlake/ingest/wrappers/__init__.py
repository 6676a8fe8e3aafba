"""Managed-cluster wrappers: EKS, AKS and GKE exports turned back into plain audit Events, behind one registry.

Owns: `REGISTRY`, every wrapper by its `--input-format` name (each provider module declares its
`WRAPPER`: the name, how its shapes are recognised, how they unwrap), and `unwrap`, which tries
them in that order, so that every source lands in the same `events` columns and one query works for
every cluster. A new provider is one module here and one line in `REGISTRY`; the CLI's list of
input formats follows (`ingest.FORMATS`).

Anything that is recognisably a wrapper but holds no usable Event is reported as a problem with a
reason. Pure: dicts in, dicts out; never decodes with DuckDB, never writes.
"""

from __future__ import annotations

from typing import Any

from auditlake.ingest.wrappers import aks, eks, gke
from auditlake.ingest.wrappers.common import Unwrapped, Wrapper, normalise_keys

REGISTRY: dict[str, Wrapper] = {wrapper.name: wrapper for wrapper in (eks.WRAPPER, aks.WRAPPER, gke.WRAPPER)}

__all__ = ["REGISTRY", "Unwrapped", "Wrapper", "unwrap"]


def unwrap(value: Any, only: str | None = None) -> Unwrapped | None:
    """The Events inside a recognised wrapper (of format `only`, when given), or None when `value` is not one."""
    if not isinstance(value, dict):
        return None
    value = normalise_keys(value)  # exporters rename `@type` (Panther writes `at_sign_type`)
    for wrapper in REGISTRY.values():
        if wrapper.recognises(value):
            result = wrapper.unwrap(value)
            return result if only is None or result.format == only else None
    return None
