"""Binding: the values a saved query runs with, and running it.

Owns: typed values for every declared parameter (built-in default < header default < given, never
pasted into SQL), tuning (`RULE.PARAM` values from `-p` or a tuning file, each checked against the
query it tunes), and `run`, the one place a saved query executes on a DuckDB connection.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from auditlake import window
from auditlake.errors import QueryError
from auditlake.library.savedquery import Parameter, SavedQuery, normalise_name
from auditlake.library.suggest import hint

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def load_tuning(path: Path) -> dict[str, Any]:
    """A tuning file (`RULE: {PARAM: VALUE}` in YAML) as `RULE.PARAM` values, so a cron line stays one line."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise QueryError(f"cannot read the tuning file: {str(error).splitlines()[0]}", path=path) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(values, dict) for values in raw.values()):
        raise QueryError("a tuning file maps each detection to its parameters, e.g. `disallowed-user: {allowed_users: [admin]}`", path=path)
    return {f"{rule}.{parameter}": value for rule, values in raw.items() for parameter, value in values.items()}


ENABLED = "enabled"  # `RULE.enabled=true|false`: tuning that switches a detection on or off (see `switches`), not a parameter


def switches(available: list[SavedQuery], given: dict[str, Any]) -> dict[str, bool]:
    """The detections `RULE.enabled=true|false` switches on or off (checked by `tuning`, which leaves them out)."""
    names = {query.name: query for query in available}
    found: dict[str, bool] = {}
    for key, value in given.items():
        rule, _, parameter = key.partition(".")
        if parameter == ENABLED and normalise_name(rule) in names and names[normalise_name(rule)].is_detection:
            found[normalise_name(rule)] = _typed(Parameter(ENABLED, "boolean"), value, None)
    return found


def tuning(available: list[SavedQuery], given: dict[str, Any], *, what: str = "detection") -> dict[str, dict[str, Any]]:
    """`RULE.PARAM` values (e.g. `disallowed-user.allowed_users`) per saved query; an unknown query or parameter is refused.
    A detection's `RULE.enabled` is a switch, not a parameter: checked to be a boolean and left to `switches`."""
    names = {query.name: query for query in available}
    tuned: dict[str, dict[str, Any]] = {}
    for key, value in given.items():
        rule, dot, parameter = key.partition(".")
        rule = normalise_name(rule)
        if not dot or not parameter:
            raise QueryError(f"{what} parameter {key!r} must be RULE.PARAM=VALUE", hint="e.g. -p disallowed-user.allowed_users=admin,alice")
        if rule not in names:
            raise QueryError(f"no {what} named {rule!r} runs here", hint=hint(rule, names, f"they are: {', '.join(sorted(names))}"))
        if parameter in ("since", "until", "cluster"):
            raise QueryError(f"{key}: the window and cluster are --since, --until and --cluster, for every {what} at once")
        if parameter == ENABLED and names[rule].is_detection:
            _typed(Parameter(ENABLED, "boolean"), value, None)  # refuses `enabled=maybe`
            continue
        if names[rule].parameter(parameter) is None:
            raise QueryError(f"{rule} has no parameter {parameter!r}", hint=f"its parameters: {', '.join(p.name for p in names[rule].params)}")
        tuned.setdefault(rule, {})[parameter] = value
    return tuned


def bind(query: SavedQuery, given: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Values for every declared parameter: built-in default < header default < given; typed, never pasted into SQL."""
    for name in given:
        if query.parameter(name) is None:
            declared = ", ".join(p.name for p in query.params)
            raise QueryError(f"{query.name} has no parameter {name!r}", hint=f"its parameters: {declared}")
    values: dict[str, Any] = {}
    for parameter in query.params:
        raw = given.get(parameter.name, parameter.current_default())
        if parameter.required and (raw is None or str(raw).strip() == ""):  # it would match nothing: an empty, falsely clean answer
            raise QueryError(f"{query.name} needs the parameter {parameter.name!r}" + (f": {parameter.help}" if parameter.help else ""),
                             hint=f"give it: -p {parameter.name}=VALUE (`auditlake query show {query.name}` lists its parameters)")
        values[parameter.name] = None if raw is None else _typed(parameter, raw, now)
    if values.get("since") and values.get("until"):
        window.require_order(values["since"], values["until"])
    return values


def _typed(parameter: Parameter, raw: Any, now: datetime | None) -> Any:
    kind = parameter.type
    try:
        if kind == "timestamptz":
            return window.parse_time(raw, now)
        if kind == "date":
            return window.parse_time(raw, now).date()
        if kind == "integer":
            return int(raw)
        if kind == "double":
            return float(raw)
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}[str(raw).lower()]
        if kind == "interval":
            return window.parse_interval(raw)
        if kind == "varchar[]":
            return list(raw) if isinstance(raw, list) else [item.strip() for item in str(raw).split(",") if item.strip()]
        return str(raw)
    except (ValueError, KeyError):
        raise QueryError(f"parameter {parameter.name!r}: {raw!r} is not a {kind}") from None


def run(connection: duckdb.DuckDBPyConnection, query: SavedQuery, values: dict[str, Any]) -> pa.Table:
    """Execute a saved query (its `statement`) with bound values; the result as an Arrow table."""
    import duckdb

    try:
        return connection.sql(query.statement, params=values).to_arrow_table()
    except duckdb.Error as error:
        raise QueryError(f"{query.name} failed: {str(error).strip().splitlines()[0]}", path=query.path) from None
