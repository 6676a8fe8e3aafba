"""The options many commands share, declared once as `Annotated` aliases, and the `--format` choices.

Owns: `LakeOption`, the window (`SinceOption`, `UntilOption`), `ClusterOption`, `OutputOption` (a file),
`OutDirOption` (a directory: `report` writes several files), `MaxRowsOption`, `format_option` (each
command's `--format`, its choices taken from `render.formats.ACCEPTS`, so typer lists them and exits 2
on a bad one) and `name_values` (`--param name=value`). Imports nothing heavy: every command module
reads these at start-up, `auditlake --version` included. Never runs a command.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import typer

from auditlake import config
from auditlake.render.formats import ACCEPTS, ALIASES, Format, choose

DEFAULT_LAKE = config.SETTINGS["lake"].default  # typer reads AUDITLAKE_LAKE itself (envvar=)

LakeOption = Annotated[str, typer.Option("--lake", "-l", envvar="AUDITLAKE_LAKE", help="Lake: a directory, or s3://BUCKET/PREFIX.",
                                         show_default=True)]
SinceOption = Annotated[str, typer.Option("--since", help="Start of the window: 24h, 7d, yesterday, 2026-11-01, …")]
UntilOption = Annotated[str | None, typer.Option("--until", help="End of the window, exclusive (default now; `today` for whole days).")]
ClusterOption = Annotated[str | None, typer.Option("--cluster", "-c", help="Only this cluster (default: every cluster in the lake).")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")]
# `report` writes a page, a Markdown file and per-section CSV/JSON: its -o is a directory, named --out so the help says so.
OutDirOption = Annotated[Path, typer.Option("--out", "-o", help="Directory for the report files (named PACK-CLUSTER-DATE); "
                                                                "a report is several files, so unlike other commands' -o this is a directory.")]
SigningKeyOption = Annotated[Path | None, typer.Option(
    "--signing-key", envvar="AUDITLAKE_SIGNING_KEY", show_envvar=True,
    help="Ed25519 private key (`auditlake keys init`) that signs this commit's digest; keep it outside the lake. "
         "Without one the digest chain is kept, unsigned.")]
MaxRowsOption = Annotated[int, typer.Option("--max-rows", min=1, help="Rows shown by --format table.")]


def format_choices(command: str, formats: tuple[Format, ...] | None = None) -> type[StrEnum]:
    """The `--format` choices of `command` as an Enum typer can list: `ACCEPTS[command]` (or `formats`), plus
    each alias of one of them (`md`). Its values are `Format` names: `Format(value)` is the canonical format."""
    accepted = formats or ACCEPTS[command]
    members = [(item.name, item.value) for item in accepted]
    members += [(alias.upper(), alias) for alias, canonical in ALIASES.items() if Format(canonical) in accepted]
    return StrEnum("".join(word.title() for word in command.split()) + "Format", members)  # type: ignore[return-value]


def format_option(command: str, help: str = "Output format.", *, flag: str = "--format", formats: tuple[Format, ...] | None = None) -> Any:
    """`Annotated[<command's choices>, typer.Option(flag)]`: a bad value exits 2 and typer lists the choices."""
    return Annotated[format_choices(command, formats), typer.Option(flag, help=help, case_sensitive=False)]


def chosen(value: str) -> Format:
    """A `--format` value (an option's Enum member, or a name) as the one canonical `Format` (`md` → markdown)."""
    return Format(str(value))


def name_values(items: list[str] | None) -> dict[str, str]:
    """`--param name=value` options as a dict."""
    params: dict[str, str] = {}
    for item in items or []:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise typer.BadParameter(f"{item!r} is not name=value", param_hint="--param")
        params[key.strip()] = value
    return params


# Each command's --format. To mypy each is a `Format`; to typer an Enum of that command's choices.
if TYPE_CHECKING:
    DataFormat: TypeAlias = Format
    EventFormat: TypeAlias = Format
    ExplainFormat: TypeAlias = Format
    StatusFormat: TypeAlias = Format
    QueryListFormat: TypeAlias = Format
    QueryShowFormat: TypeAlias = Format
    PolicyFormat: TypeAlias = Format
    HistoryFormat: TypeAlias = Format
    ChangesFormat: TypeAlias = Format
    ReviewFormat: TypeAlias = Format
    PrintFormat: TypeAlias = Format
    VerifyFormat: TypeAlias = Format
    RbacFormat: TypeAlias = Format
else:
    DataFormat = format_option("sql")  # sql, query run, detect: any Arrow result
    EventFormat = format_option("events")
    ExplainFormat = format_option("policy explain", "With --lake: the output format.")
    StatusFormat = format_option("status")
    QueryListFormat = format_option("query list")
    QueryShowFormat = format_option("query show")
    PolicyFormat = format_option("policy check")  # and policy simulate
    HistoryFormat = format_option("history")
    ChangesFormat = format_option("changes")
    ReviewFormat = format_option("review", "table (a summary on stderr) or json (the review on stdout).")
    VerifyFormat = format_option("verify", "text (a line per problem, then the result) or json.")
    RbacFormat = format_option("rbac unused", "text (per subject, a line per grant), json or csv (every field).")
    PrintFormat = format_option("report --print", "What to print: table (sections and their result) or json (the summary).",
                                flag="--print", formats=(Format.TABLE, Format.JSON))


def chosen_list(command: str, value: str, flag: str = "--format") -> tuple[Format, ...]:
    """A comma-separated `--format html,md` as formats `command` accepts; exit 2 listing the choices when one is not."""
    formats = []
    for item in (item for item in value.split(",") if item.strip()):
        try:
            formats.append(choose(command, item))
        except ValueError as error:
            raise typer.BadParameter(f"{item.strip()!r}: {error}", param_hint=flag) from None
    if not formats:
        raise typer.BadParameter(f"choose from {', '.join(ACCEPTS[command])}", param_hint=flag)
    return tuple(formats)
