"""Report packs: compliance frameworks declared as data (`queries/packs/*.yaml`), checked strictly.

Owns: reading a pack file into `Pack` → `Section` → `Check`, and refusing anything it does not
understand (unknown keys, saved queries that do not exist, parameters a query does not declare,
attention rules it cannot evaluate) with the file and the line. A pack holds no SQL of its own
beyond the optional `attention: {where: …}` predicate over a check's result.

A check runs a saved query (`query: name`), the change history (`changes: {resource: …}`) or the least-privilege
comparison (`rbac: {status: [unused], sensitive: true}`: grants against use, see auditlake.rbac); a section with
`each: subject` becomes one section per subject its rbac checks name.
Pack-wide `params` (e.g. the namespaces that hold cardholder data) reach every check whose query
declares a parameter of that name; a check's own `params` are fixed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from auditlake.errors import QueryError
from auditlake.library import Library
from auditlake.library.savedquery import PARAM_TYPES, Parameter, SavedQuery, normalise_name

PACK_KEYS = frozenset({"title", "framework", "description", "params", "sections"})
SECTION_KEYS = frozenset({"control", "title", "requirement", "checked", "checks", "each"})
CHECK_KEYS = frozenset({"query", "changes", "rbac", "title", "params", "attention", "chart", "columns", "limit", "top"})
CHANGES_KEYS = frozenset({"resource", "namespace"})
RBAC_KEYS = frozenset({"status", "sensitive"})
RBAC_STATUSES = ("unused", "unknown", "used")
EACH = ("subject",)  # what a section can be repeated for
CHART_KEYS = frozenset({"x", "y", "series", "horizontal", "title"})
TOP_KEYS = frozenset({"by", "rows"})
ATTENTION_WORDS = ("rows", "no rows", "never")
DEFAULT_LIMIT = 200  # rows shown in HTML/Markdown per check; CSV/JSON always hold every row


@dataclass(frozen=True)
class Chart:
    """A bar chart of a check's result: `y` columns (or one `y` split by `series`) over `x`."""

    x: str
    y: tuple[str, ...]
    series: str | None = None
    horizontal: bool = False
    title: str = ""


@dataclass(frozen=True)
class Check:
    """One piece of evidence: a saved query (or the change history) and when its result needs attention."""

    title: str
    query: str | None  # saved-query name
    changes: dict[str, str] | None  # change-history filter (resource, namespace)
    params: dict[str, Any]
    attention: str  # rows | no rows | never | where
    attention_where: str | None
    chart: Chart | None
    columns: tuple[str, ...]  # the columns shown in HTML/Markdown (all when empty)
    limit: int
    top: tuple[str, int] | None = None  # HTML/Markdown show only the rows with the largest value of this column (and sum it)
    rbac: RbacCheck | None = None  # grants against use (auditlake.rbac), instead of a query or the change history


@dataclass(frozen=True)
class RbacCheck:
    """Which grants a least-privilege check shows: of these statuses (unused, unknown, used), only sensitive ones if asked."""

    status: tuple[str, ...] = ("unused",)
    sensitive: bool = False

    @property
    def name(self) -> str:
        """`rbac-unused-sensitive`: the check's name in file names and JSON."""
        return "rbac-" + "-".join(self.status) + ("-sensitive" if self.sensitive else "")


@dataclass(frozen=True)
class Section:
    control: str
    title: str
    requirement: str
    checked: str
    checks: tuple[Check, ...]
    each: str = ""  # "subject": one section per subject the section's rbac checks name (control CONTROL/SUBJECT)


@dataclass(frozen=True)
class Pack:
    name: str
    path: Path
    title: str
    framework: str
    description: str
    params: tuple[Parameter, ...]
    sections: tuple[Section, ...]


def available(library: Library | None = None) -> list[str]:
    """The names of the library's packs."""
    root = (library or Library()).pack_root
    return sorted(path.stem for path in root.glob("*.yaml")) if root.is_dir() else []


def load(name_or_path: str | Path, library: Library | None = None) -> Pack:
    """A pack by name (`pci-dss`) or by the path of a YAML file, checked against `library` (default: `Library()`)."""
    library = library or Library()
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = library.pack_root / f"{name_or_path}.yaml"
        if not path.is_file():
            raise QueryError(f"no report pack named {str(name_or_path)!r}", hint=f"the packs: {', '.join(available(library))}")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except (OSError, yaml.YAMLError) as error:
        raise QueryError(f"cannot read the pack: {str(error).splitlines()[0]}", path=path) from None
    return _pack(raw, path, library.queries)


# ---- validation ---------------------------------------------------------------------------------
class _LineLoader(yaml.SafeLoader):
    """Safe YAML that remembers the line of every mapping (as `__line__`) so errors can point at it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _fail(message: str, path: Path, raw: Any) -> QueryError:
    line = raw.get("__line__") if isinstance(raw, dict) else None
    return QueryError(message, path=path, line=line)


def _keys(raw: Any, allowed: frozenset[str], what: str, path: Path) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise QueryError(f"{what} must be a mapping", path=path)
    for key in raw:
        if key != "__line__" and key not in allowed:
            raise _fail(f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})", path, raw)
    return {key: value for key, value in raw.items() if key != "__line__"}


def _pack(raw: Any, path: Path, library: dict[str, SavedQuery]) -> Pack:
    spec = _keys(raw, PACK_KEYS, "pack", path)
    for required in ("title", "sections"):
        if not spec.get(required):
            raise _fail(f"pack: {required!r} is required", path, raw)
    params = _pack_params(spec.get("params") or {}, path)
    sections = tuple(_section(item, path, library) for item in spec["sections"])
    used = {name for section in sections for check in section.checks if check.query for name in
            (p.name for p in library[check.query].params)}
    for parameter in params:
        if parameter.name not in used:
            raise _fail(f"pack parameter {parameter.name!r} is declared by none of its queries", path, raw)
    return Pack(path.stem, path, str(spec["title"]), str(spec.get("framework", "")), str(spec.get("description", "")).strip(),
                params, sections)


def _pack_params(raw: Any, path: Path) -> tuple[Parameter, ...]:
    if not isinstance(raw, dict):
        raise QueryError("pack: params must be a mapping of name: {type, default, help}", path=path)
    result = []
    for name, spec in raw.items():
        if name == "__line__":
            continue
        spec = _keys(spec, frozenset({"type", "default", "help"}), f"pack parameter {name!r}", path)
        kind = str(spec.get("type", "varchar"))
        if kind not in PARAM_TYPES:
            raise QueryError(f"pack parameter {name!r}: type {kind!r} is not one of {', '.join(PARAM_TYPES)}", path=path)
        result.append(Parameter(str(name), kind, spec.get("default"), str(spec.get("help", ""))))
    return tuple(result)


def _section(raw: Any, path: Path, library: dict[str, SavedQuery]) -> Section:
    spec = _keys(raw, SECTION_KEYS, "section", path)
    for required in ("control", "title", "requirement", "checked", "checks"):
        if not spec.get(required):
            raise _fail(f"section {spec.get('control', '?')}: {required!r} is required", path, raw)
    checks = tuple(_check(item, path, library) for item in spec["checks"])
    each = str(spec.get("each") or "")
    if each and (each not in EACH or not all(check.rbac for check in checks)):
        raise _fail(f"section {spec['control']}: each: {each!r} repeats a section per {', '.join(EACH)}, and only for rbac checks", path, raw)
    return Section(str(spec["control"]), str(spec["title"]), " ".join(str(spec["requirement"]).split()),
                   " ".join(str(spec["checked"]).split()), checks, each)


def _check(raw: Any, path: Path, library: dict[str, SavedQuery]) -> Check:
    spec = _keys(raw, CHECK_KEYS, "check", path)
    if sum(1 for key in ("query", "changes", "rbac") if spec.get(key)) != 1:
        raise _fail("check: give exactly one of 'query', 'changes' or 'rbac'", path, raw)
    params = {key: value for key, value in (spec.get("params") or {}).items() if key != "__line__"}
    name = None
    changes = None
    rbac = None
    if spec.get("rbac"):
        rbac = _rbac(spec["rbac"], path)
        title = str(spec.get("title") or f"Grants {', '.join(rbac.status)}" + (" (sensitive)" if rbac.sensitive else ""))
    elif spec.get("query"):
        name = normalise_name(str(spec["query"]))
        if name not in library or library[name].kind != "query":
            raise _fail(f"check: no saved query named {spec['query']!r}", path, raw)
        saved = library[name]
        for key in params:
            if saved.parameter(key) is None:
                raise _fail(f"check {name}: the query has no parameter {key!r}", path, raw)
        title = str(spec.get("title") or saved.title)
    else:
        changes = {key: str(value) for key, value in _keys(spec["changes"], CHANGES_KEYS, "changes", path).items()}
        title = str(spec.get("title") or "Changes, each with its diff")
    attention, where = _attention(spec.get("attention", "rows"), path, raw)
    chart = _chart(spec["chart"], path) if spec.get("chart") else None
    limit = int(spec.get("limit", DEFAULT_LIMIT))
    top = _top(spec["top"], path) if spec.get("top") else None
    return Check(title, name, changes, params, attention, where, chart, tuple(spec.get("columns") or ()), limit, top, rbac)


def _rbac(raw: Any, path: Path) -> RbacCheck:
    """`rbac: {status: [unused, unknown], sensitive: true}`."""
    spec = _keys(raw, RBAC_KEYS, "rbac", path)
    status = spec.get("status", ["unused"])
    status = [status] if isinstance(status, str) else status
    if not isinstance(status, list) or not status or any(item not in RBAC_STATUSES for item in status):
        raise _fail(f"rbac: status must be a list of {', '.join(RBAC_STATUSES)}", path, raw)
    if not isinstance(spec.get("sensitive", False), bool):
        raise _fail("rbac: sensitive must be true or false", path, raw)
    return RbacCheck(tuple(status), bool(spec.get("sensitive", False)))


def _top(raw: Any, path: Path) -> tuple[str, int]:
    """`top: {by: silence_minutes, rows: 10}`: many rows summarised by the largest ones (every row stays in CSV/JSON)."""
    spec = _keys(raw, TOP_KEYS, "top", path)
    rows = spec.get("rows", 10)
    if not spec.get("by") or not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise _fail("top: {by: <a numeric column>, rows: <how many to show, at least 1>}", path, raw)
    return str(spec["by"]), rows


def _attention(raw: Any, path: Path, owner: Any) -> tuple[str, str | None]:
    if isinstance(raw, dict):
        spec = _keys(raw, frozenset({"where"}), "attention", path)
        if not isinstance(spec.get("where"), str):
            raise _fail("attention: {where: <SQL predicate over the check's columns>}", path, owner)
        return "where", spec["where"]
    if raw not in ATTENTION_WORDS:
        raise _fail(f"attention must be one of {', '.join(ATTENTION_WORDS)} or {{where: …}}, not {raw!r}", path, owner)
    return str(raw), None


def _chart(raw: Any, path: Path) -> Chart:
    spec = _keys(raw, CHART_KEYS, "chart", path)
    if not spec.get("x") or not spec.get("y"):
        raise _fail("chart: 'x' and 'y' are required", path, raw)
    y = spec["y"] if isinstance(spec["y"], list) else [spec["y"]]
    return Chart(str(spec["x"]), tuple(str(item) for item in y), spec.get("series"), bool(spec.get("horizontal", False)),
                 str(spec.get("title", "")))


def bind_pack_params(pack: Pack, given: dict[str, Any]) -> dict[str, Any]:
    """The pack-wide values: header defaults overridden by `--param name=value`; unknown names refused."""
    declared = {parameter.name: parameter for parameter in pack.params}
    for key in given:
        if key not in declared:
            raise QueryError(f"pack {pack.name} has no parameter {key!r}",
                             hint=f"its parameters: {', '.join(declared) or 'none'}")
    return {name: given.get(name, parameter.default) for name, parameter in declared.items()
            if given.get(name, parameter.default) is not None}


@dataclass
class PackSummary:
    name: str
    title: str
    sections: int
    checks: int
    controls: list[str] = field(default_factory=list)


def summaries(library: Library | None = None) -> list[PackSummary]:
    result = []
    for name in available(library):
        pack = load(name, library)
        result.append(PackSummary(name, pack.title, len(pack.sections), sum(len(s.checks) for s in pack.sections),
                                  [section.control for section in pack.sections]))
    return result
