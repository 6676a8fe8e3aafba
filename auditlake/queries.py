"""The saved-query library: find `.sql` files, validate their headers, bind parameters, run them.

Owns: the file format (a YAML header in a leading `/* … */` comment, then one SQL statement with
DuckDB `$name` parameters), strict loading (unknown keys, undeclared or unused parameters,
duplicate names and SQL that does not parse are one-line errors naming the file), parsing user
times (`7d`, `2026-11-01`, `now`), and turning a query into a DuckDB table macro so the plain
DuckDB shell can call it too. Renders nothing; never writes files.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from auditlake import config
from auditlake.errors import QueryError

HEADER_KEYS = frozenset({"title", "description", "severity", "controls", "mitre", "params", "topic", "kind", "columns", "needs",
                         "reproduces"})
DETECTIONS_TOPIC = "detections"  # queries/detections/: the Falco, Sigma and Panther rules (auditlake detect)
ENGINES = ("falco", "sigma", "panther")  # the public rule sets a detection can say it reproduces
NEED_KEYS = frozenset({"level", "group", "resources", "verbs"})
NEED_LEVELS = ("Metadata", "Request", "RequestResponse")
PARAM_KEYS = frozenset({"type", "default", "help", "required"})
SEVERITIES = ("info", "low", "medium", "high", "critical")
KINDS = ("query", "view", "macro")
PARAM_TYPES = {
    "timestamptz": "TIMESTAMPTZ", "date": "DATE", "varchar": "VARCHAR", "integer": "INTEGER", "double": "DOUBLE",
    "boolean": "BOOLEAN", "interval": "INTERVAL", "varchar[]": "VARCHAR[]",
}
WINDOW_PARAMS = ("since", "until")
DEFAULT_SINCE = "7d"
CONTROL = re.compile(r"^(pci-dss-4\.0|hipaa|soc2|iso27001|cis-k8s|nist-800-53):[A-Za-z0-9().-]+$")
MITRE = re.compile(r"^T\d{4}(\.\d{3})?$")
_HEADER = re.compile(r"\A\s*/\*(.*?)\*/", re.DOTALL)
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_STRINGS_AND_COMMENTS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)
_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Parameter:
    """A declared `$name`: its type, default (as written in the header), help, and whether a run must give it."""

    name: str
    type: str
    default: Any = None
    help: str = ""
    required: bool = False  # `required: true`: without a value the answer would be empty, so binding refuses
    setting: str = ""  # `default: {setting: NAME}`: the AUDITLAKE_* setting that gives the default (see `current_default`)

    def __post_init__(self) -> None:
        if isinstance(self.default, dict) and "setting" in self.default:
            object.__setattr__(self, "setting", str(self.default["setting"]))
        if self.setting:
            object.__setattr__(self, "default", self.current_default())

    def current_default(self) -> Any:
        """The default now: for `default: {setting: NAME}`, that setting's value in this environment (a list for
        `varchar[]`), read afresh because query headers are loaded once per process; else the header's default."""
        if not self.setting:
            return self.default
        if self.setting not in config.SETTINGS:
            raise QueryError(f"parameter {self.name!r}: no setting named {self.setting!r}"
                             f"{_did_you_mean(self.setting, frozenset(config.SETTINGS))}")
        value = config.setting(self.setting)
        return [item.strip() for item in value.split(",") if item.strip()] if self.type == "varchar[]" else value


@dataclass(frozen=True)
class Need:
    """What a question reads: requests (resources of a group, verbs; empty means any) logged at least at `level`."""

    level: str
    group: str = ""
    resources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SavedQuery:
    """One `.sql` file of the library (a question, a shared view, or a macro)."""

    name: str
    path: Path
    kind: str
    topic: str
    title: str
    description: str
    severity: str
    controls: tuple[str, ...]
    mitre: tuple[str, ...]
    params: tuple[Parameter, ...]
    sql: str  # the statement, header removed
    columns: dict[str, str] = field(default_factory=dict)  # documented output columns
    needs: tuple[Need, ...] = ()  # the audit level and requests it reads (policy simulate / recommend)
    reproduces: dict[str, tuple[str, ...]] = field(default_factory=dict)  # engine → upstream rule names/ids (detections)

    @property
    def macro_name(self) -> str:
        """The identifier the query has in the catalog (`secret-reads` → `secret_reads`)."""
        return self.name.replace("-", "_")

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.params if p.name == name), None)


def normalise_name(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def query_roots() -> list[Path]:
    """Where saved queries live: the project's `queries/`, then AUDITLAKE_QUERY_PATH (`:`-separated)."""
    package = Path(__file__).resolve().parent
    roots = [path for path in (package.parent / "queries", package / "queries") if path.is_dir()][:1]
    extra = os.environ.get("AUDITLAKE_QUERY_PATH", "")
    roots += [Path(item) for item in extra.split(os.pathsep) if item]
    return roots


_LIBRARY_CACHE: dict[tuple[tuple[str, float, int], ...], dict[str, SavedQuery]] = {}


def load_library(roots: list[Path] | None = None) -> dict[str, SavedQuery]:
    """Every `.sql` file under the roots, by name; strict (see the module docstring).

    Cached per process while no file is added, removed or modified (loading parses every header).
    """
    roots = roots if roots is not None else query_roots()
    files = sorted(path for root in roots if root.is_dir() for path in root.rglob("*.sql"))
    key = tuple((str(path), stat.st_mtime, stat.st_size) for path in files if (stat := path.stat())) + tuple((str(r), 0, 0) for r in roots)
    if key not in _LIBRARY_CACHE:
        _LIBRARY_CACHE.clear()
        _LIBRARY_CACHE[key] = _load_library(roots)
    return dict(_LIBRARY_CACHE[key])


def _load_library(roots: list[Path]) -> dict[str, SavedQuery]:
    library: dict[str, SavedQuery] = {}
    for root in roots:
        if not root.is_dir():
            raise QueryError(f"{root}: no such query directory", hint="check AUDITLAKE_QUERY_PATH")
        for path in sorted(root.rglob("*.sql")):
            query = load_file(path, root)
            if query.name in library:
                raise QueryError(f"duplicate saved-query name {query.name!r} (also {library[query.name].path})", path=path,
                                 hint="names are file stems and must be unique across queries/")
            library[query.name] = query
    return library


def saved_queries(library: dict[str, SavedQuery]) -> list[SavedQuery]:
    return sorted((q for q in library.values() if q.kind == "query"), key=lambda q: (q.topic, q.name))


def load_file(path: Path, root: Path) -> SavedQuery:
    """Parse and check one file."""
    text = path.read_text()
    match = _HEADER.match(text)
    if not match:
        raise QueryError("no metadata header: start the file with a /* … */ comment holding YAML", path=path)
    try:
        header = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise QueryError(f"header is not valid YAML ({getattr(error, 'problem', error)})", path=path,
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(header, dict):
        raise QueryError("header must be a YAML mapping", path=path)
    for key in header:
        if not isinstance(key, str) or key not in HEADER_KEYS:
            raise QueryError(f"unknown header key {key!r}{_did_you_mean(key, HEADER_KEYS)}", path=path)
    name = normalise_name(path.stem)
    kind = header.get("kind", "view" if path.parent.name == "views" else "query")
    if kind not in KINDS:
        raise QueryError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", path=path)
    if not header.get("title"):
        raise QueryError("header needs a title", path=path)
    severity = header.get("severity", "info")
    if severity not in SEVERITIES:
        raise QueryError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}", path=path)
    controls = tuple(_strings(header.get("controls", []), "controls", path))
    for control in controls:
        if not CONTROL.match(control):
            raise QueryError(f"control {control!r} is not framework:id (e.g. pci-dss-4.0:10.2.1.2, hipaa:164.312(b))", path=path)
    mitre = tuple(_strings(header.get("mitre", []), "mitre", path))
    for technique in mitre:
        if not MITRE.match(technique):
            raise QueryError(f"MITRE ATT&CK id {technique!r} is not T#### or T####.###", path=path)
    params = _parameters(header.get("params") or {}, path)
    sql = text[match.end():].strip().rstrip(";").strip()
    used = sorted(set(_PARAMETER.findall(_STRINGS_AND_COMMENTS.sub(" ", sql))))
    declared = [p.name for p in params]
    for name_used in used:
        if name_used not in declared:
            raise QueryError(f"${name_used} is used but not declared under params", path=path)
    for name_declared in declared:
        if name_declared not in used:
            raise QueryError(f"parameter {name_declared!r} is declared but the SQL never uses ${name_declared}", path=path)
    if kind == "query" and not all(window in declared for window in WINDOW_PARAMS):
        raise QueryError("a saved query must declare and use $since and $until, so that it reads a bounded window", path=path)
    if kind != "query" and params:
        raise QueryError(f"a {kind} cannot take parameters", path=path)
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(f"SQL does not parse: {str(error).splitlines()[0]}", path=path) from None
    if len(statements) != 1:
        raise QueryError(f"one statement per file, found {len(statements)}", path=path)
    columns = header.get("columns") or {}
    if not isinstance(columns, dict):
        raise QueryError("columns must map column names to descriptions", path=path)
    needs = _needs(header.get("needs"), path)
    if kind == "query" and not needs:
        raise QueryError("a saved query must say what it needs (needs: [{level: Metadata, resources: [...], verbs: [...]}])", path=path)
    reproduces = _reproduces(header.get("reproduces"), path)
    relative = path.relative_to(root)
    topic = str(header.get("topic") or (relative.parts[0] if len(relative.parts) > 1 else "general"))
    return SavedQuery(name, path, kind, topic, str(header["title"]), str(header.get("description", "")).strip(), severity,
                      controls, mitre, params, sql, {str(k): str(v) for k, v in columns.items()}, needs, reproduces)


def _reproduces(raw: Any, path: Path) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise QueryError(f"reproduces must map an engine ({', '.join(ENGINES)}) to a list of rule names", path=path)
    for engine in raw:
        if engine not in ENGINES:
            raise QueryError(f"reproduces: unknown engine {engine!r} (one of {', '.join(ENGINES)})", path=path)
    return {engine: tuple(_strings(rules, f"reproduces.{engine}", path)) for engine, rules in raw.items()}


def _needs(raw: Any, path: Path) -> tuple[Need, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise QueryError("needs must be a list of {level, group, resources, verbs}", path=path)
    needs = []
    for item in raw:
        if not isinstance(item, dict):
            raise QueryError("each need must be a mapping {level, group, resources, verbs}", path=path)
        for key in item:
            if key not in NEED_KEYS:
                raise QueryError(f"need: unknown key {key!r}{_did_you_mean(key, NEED_KEYS)}", path=path)
        if item.get("level") not in NEED_LEVELS:
            raise QueryError(f"need: level must be one of {', '.join(NEED_LEVELS)}", path=path)
        needs.append(Need(item["level"], str(item.get("group") or ""), tuple(_strings(item.get("resources", []), "need resources", path)),
                          tuple(_strings(item.get("verbs", []), "need verbs", path))))
    return tuple(needs)


def _strings(value: Any, key: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise QueryError(f"{key} must be a list of strings", path=path)
    return value


def _parameters(raw: Any, path: Path) -> tuple[Parameter, ...]:
    if not isinstance(raw, dict):
        raise QueryError("params must be a mapping of name to {type, default, help}", path=path)
    params = []
    for name, spec in raw.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise QueryError(f"parameter {name!r} must be a mapping with type, default, help", path=path)
        for key in spec:
            if not isinstance(key, str) or key not in PARAM_KEYS:
                raise QueryError(f"parameter {name!r}: unknown key {key!r}{_did_you_mean(key, PARAM_KEYS)}", path=path)
        kind = str(spec.get("type", "varchar")).lower()
        if kind not in PARAM_TYPES:
            raise QueryError(f"parameter {name!r}: type {kind!r} is not one of {', '.join(PARAM_TYPES)}", path=path)
        default = spec.get("default")
        if isinstance(default, dict) and (set(default) != {"setting"} or default["setting"] not in config.SETTINGS):
            raise QueryError(f"parameter {name!r}: a default mapping is {{setting: NAME}}, NAME one of {', '.join(config.SETTINGS)}",
                             path=path)
        if name == "since" and default is None:
            default = DEFAULT_SINCE
        if name == "until" and default is None:
            default = "now"
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise QueryError(f"parameter {name!r}: required must be true or false", path=path)
        if required and default is not None:
            raise QueryError(f"parameter {name!r}: a required parameter has no default", path=path)
        params.append(Parameter(str(name), kind, default, str(spec.get("help", "")), required))
    return tuple(params)


def _did_you_mean(word: object, choices: frozenset[str]) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def markdown_table(library: dict[str, SavedQuery]) -> str:
    """The README's list of saved queries, generated so it never drifts from the files."""
    lines = ["| topic | query | question | severity | controls |", "|---|---|---|---|---|"]
    for query in (q for q in saved_queries(library) if q.topic != DETECTIONS_TOPIC):  # detections have their own table
        controls = ", ".join(query.controls + tuple(f"ATT&CK {t}" for t in query.mitre))
        lines.append(f"| {query.topic} | `{query.name}` | {query.title} | {query.severity} | {controls} |")
    return "\n".join(lines)


# ---- times and binding --------------------------------------------------------------------------
def parse_time(text: str | datetime | date, now: datetime | None = None) -> datetime:
    """`7d`/`24h`/`30m`/`2w` ago, `now`, `today`, `yesterday`, or an ISO date or time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day, tzinfo=UTC)
    value = str(text).strip().lower()
    if value == "now":
        return now
    if value in ("today", "yesterday"):
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=1 if value == "yesterday" else 0)
    relative = _RELATIVE.match(value)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"not a time: {text!r}", hint="use 7d, 24h, 30m, 2w, now, today, 2026-11-01 or 2026-11-01T10:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


def tuning(available: list[SavedQuery], given: dict[str, Any], *, what: str = "detection") -> dict[str, dict[str, Any]]:
    """`RULE.PARAM` values (e.g. `disallowed-user.allowed_users`) per saved query; an unknown query or parameter is refused."""
    names = {query.name: query for query in available}
    tuned: dict[str, dict[str, Any]] = {}
    for key, value in given.items():
        rule, dot, parameter = key.partition(".")
        rule = normalise_name(rule)
        if not dot or not parameter:
            raise QueryError(f"{what} parameter {key!r} must be RULE.PARAM=VALUE", hint="e.g. -p disallowed-user.allowed_users=admin,alice")
        if rule not in names:
            close = difflib.get_close_matches(rule, sorted(names), n=3)
            raise QueryError(f"no {what} named {rule!r} runs here", hint=f"did you mean {', '.join(close)}?" if close
                             else f"they are: {', '.join(sorted(names))}")
        if parameter in ("since", "until", "cluster"):
            raise QueryError(f"{key}: the window and cluster are --since, --until and --cluster, for every {what} at once")
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
    if values.get("since") and values.get("until") and values["since"] >= values["until"]:
        raise QueryError(f"--since ({values['since']:%Y-%m-%d %H:%M}) must be before --until ({values['until']:%Y-%m-%d %H:%M})")
    return values


def _typed(parameter: Parameter, raw: Any, now: datetime | None) -> Any:
    kind = parameter.type
    try:
        if kind == "timestamptz":
            return parse_time(raw, now)
        if kind == "date":
            return parse_time(raw, now).date()
        if kind == "integer":
            return int(raw)
        if kind == "double":
            return float(raw)
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}[str(raw).lower()]
        if kind == "interval":
            return _interval(raw)
        if kind == "varchar[]":
            return list(raw) if isinstance(raw, list) else [item.strip() for item in str(raw).split(",") if item.strip()]
        return str(raw)
    except (ValueError, KeyError):
        raise QueryError(f"parameter {parameter.name!r}: {raw!r} is not a {kind}") from None


def _interval(raw: Any) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    match = _RELATIVE.match(str(raw).strip().lower())
    if not match:
        raise ValueError(raw)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def run(connection: duckdb.DuckDBPyConnection, query: SavedQuery, values: dict[str, Any]) -> Any:
    """Execute a saved query with bound values; the result as an Arrow table."""
    try:
        return connection.sql(query.sql, params=values).to_arrow_table()
    except duckdb.Error as error:
        raise QueryError(f"{query.name} failed: {str(error).strip().splitlines()[0]}", path=query.path) from None


# ---- the catalog's view of the library ----------------------------------------------------------
def macro_sql(query: SavedQuery) -> str:
    """`CREATE MACRO name(p_since := …, …) AS TABLE …`: the query, callable from the DuckDB shell.

    Inside a macro a parameter shadows a column of the same name, so `$namespace` becomes
    `p_namespace`: `FROM secret_reads_by_humans(p_since := '2026-11-01', p_namespace := 'payments')`.
    """
    signature = ", ".join(f"p_{parameter.name} := {_default_sql(parameter)}" for parameter in query.params)
    types = {parameter.name: PARAM_TYPES[parameter.type] for parameter in query.params}
    return f"CREATE OR REPLACE MACRO {query.macro_name}({signature}) AS TABLE {_rename_parameters(query.sql, types)}"


def _default_sql(parameter: Parameter) -> str:
    default = parameter.current_default()  # a setting as the catalog is built: the shell passes p_NAME to differ
    sql_type = PARAM_TYPES[parameter.type]
    if default is None:
        return f"CAST(NULL AS {sql_type})"
    if parameter.type == "timestamptz":
        text = str(default).strip().lower()
        relative = _RELATIVE.match(text)
        if text == "now":
            return "now()"
        if relative:
            return f"now() - INTERVAL {int(relative.group(1))} {_UNITS[relative.group(2)].upper()}"
        if text == "today":
            return "date_trunc('day', now())"
    if parameter.type == "interval":
        relative = _RELATIVE.match(str(default).strip().lower())
        if relative:
            return f"INTERVAL {int(relative.group(1))} {_UNITS[relative.group(2)].upper()}"
    if parameter.type == "varchar[]":
        items = default if isinstance(default, list) else [default]
        return "CAST([" + ", ".join("'" + str(item).replace("'", "''") + "'" for item in items) + "] AS VARCHAR[])"
    return f"CAST('{str(default).replace(chr(39), chr(39) * 2)}' AS {sql_type})"


def _rename_parameters(sql: str, types: dict[str, str]) -> str:
    """`$since` → `CAST(p_since AS TIMESTAMPTZ)` outside strings and comments (shell users pass '2026-11-01')."""

    def typed(match: re.Match[str]) -> str:
        return f"CAST(p_{match.group(1)} AS {types[match.group(1)]})"

    pieces, last = [], 0
    for match in _STRINGS_AND_COMMENTS.finditer(sql):
        pieces.append(_PARAMETER.sub(typed, sql[last:match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_PARAMETER.sub(typed, sql[last:]))
    return "".join(pieces)
