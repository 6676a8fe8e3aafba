"""The commands that prove the lake: `verify`, `keys init` and `retention`.

Owns: those commands and how their results read (a line per problem or per partition moved, then one
line of result). The work is `Lake.verify`, `Lake.retention` and `lake.new_signing_key`, imported when a
command runs. Exit codes: 0 the lake verifies, 1 it does not (a problem line each), 2 usage.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditlake.cli.console import stderr, stdout
from auditlake.cli.options import DEFAULT_LAKE, LakeOption, SigningKeyOption, VerifyFormat, chosen, format_option
from auditlake.errors import ExitCode
from auditlake.render.escape import terminal_text
from auditlake.render.formats import Format

if TYPE_CHECKING:
    from auditlake.lake import RetentionResult, Verification

    RetentionFormat = Format
else:
    RetentionFormat = format_option("retention", "text (a line per partition moved) or json.")

keys_app = typer.Typer(help="Signing keys for the lake's digest chain.", no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def verify(
    lake: LakeOption = DEFAULT_LAKE,
    public_key: Annotated[Path | None, typer.Option("--public-key", help="The signer's public key (`.pub`), given out of band: every "
                                                                         "digest must be signed by it. Without it the lake is checked "
                                                                         "against the keys its digests carry.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Re-hash only files committed since then (90d, 2026-11-01); all files "
                                                              "are still checked for presence and size.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Compare sizes only, hash nothing.")] = False,
    adopt: Annotated[bool, typer.Option("--adopt", help="A lake from before digests: first start its chain with one digest of its "
                                                        "files as they are now (signed with --signing-key), then verify.")] = False,
    signing_key: SigningKeyOption = None,
    output: VerifyFormat = Format.TEXT,
) -> None:
    """Prove the lake is complete and unaltered: every file against the signed digest chain, the chain against itself.

    Prints one line per problem (modified, missing, unexpected file, broken chain link, bad or unknown signature, a
    manifest that disagrees with the chain), then the result. A lake with an archive (`retention --archive`) is
    checked with it. Exit 0: intact; 1: something is wrong.

    Example: auditlake verify --lake ./lake --public-key ~/.config/auditlake/signing.key.pub
    """
    from auditlake.lake import Lake

    the_lake = Lake(lake, signing_key=signing_key)
    if adopt and the_lake.adopt():
        stderr.print("started the digest chain: one `adopt` digest of the lake's files as they are now", markup=False)
    results = the_lake.verify(public_key=public_key, since=since, quick=quick)
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps([{**dataclasses.asdict(result), "ok": result.ok} for result in results], indent=1, default=str))
    else:
        for result in results:
            for problem in result.problems:
                stdout.print(f"✗ {terminal_text(problem)}", markup=False, soft_wrap=True)
            stdout.print(summary(result), markup=False, soft_wrap=True)
    if not all(result.ok for result in results):
        raise typer.Exit(int(ExitCode.FINDINGS))


def summary(result: Verification) -> str:
    """One line: what was checked and the verdict."""
    from auditlake.lake import short_fingerprint

    signers = ", ".join(short_fingerprint(signer) for signer in result.signers) or "no digests"
    signed = "unsigned" if result.signers == ["unsigned"] else f"signed by {signers}"
    if result.against_key:
        signed += f" (checked against the given key {short_fingerprint(result.against_key)})"
    how = "sizes only" if result.quick else (f"re-hashed {result.hashed:,} committed since {result.since:%Y-%m-%d %H:%M} UTC"
                                             if result.since else f"{result.hashed_bytes / 1e6:,.1f} MB re-hashed")
    head = f", head {result.head.name}" if result.head else ""
    what = f"{_count(result.files, 'file')}, {result.rows:,} rows, {_count(result.digests, 'digest')}{head}, {signed}; {how}"
    if result.ok:
        return f"✓ {terminal_text(result.lake)}: {what}; chain intact"
    return f"✗ {terminal_text(result.lake)}: {len(result.problems):,} problem(s); {what}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@keys_app.command("init")
def init_key(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the private key (mode 0600); the public key goes to OUT.pub.",
                                      show_default=False)],
) -> None:
    """Create an Ed25519 signing key for the digest chain; prints its fingerprint.

    Keep the private key outside the lake (better: on another machine, or in a KMS); give the `.pub` file to
    whoever verifies the lake.

    Example: auditlake keys init --out ~/.config/auditlake/signing.key
    """
    from auditlake.lake import new_signing_key

    private, public, fingerprint = new_signing_key(out)
    stderr.print(f"wrote {terminal_text(str(private))} (private, 0600) and {terminal_text(str(public))}; sign with "
                 f"--signing-key {terminal_text(str(private))} or AUDITLAKE_SIGNING_KEY", markup=False, soft_wrap=True)
    typer.echo(fingerprint)


def retention(
    lake: LakeOption = DEFAULT_LAKE,
    hot: Annotated[str | None, typer.Option("--hot", help="Move partitions older than this (90d) to --archive.")] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="Delete partitions older than this (400d), from the lake and its archive.")] = None,
    archive: Annotated[Path | None, typer.Option("--archive", help="The archive lake (a directory; created on first use). The catalog "
                                                                   "reads it with the lake.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would move or go, change nothing.")] = False,
    signing_key: SigningKeyOption = None,
    output: RetentionFormat = Format.TEXT,
) -> None:
    """Keep audit history as PCI-DSS 10.5.1 asks (12 months, 3 at hand): archive old partitions, delete expired ones, with proof.

    Each action is a signed digest listing what left (files, rows, sha256, time range); a file no digest covers, or
    one that was altered, is refused.

    Example: auditlake retention --lake ./lake --hot 90d --keep 400d --archive /mnt/archive/lake
    """
    from auditlake.lake import Lake

    if hot is None and keep is None:
        raise typer.BadParameter("give --hot (with --archive), --keep, or both", param_hint="--hot/--keep")
    result = Lake(lake, signing_key=signing_key).retention(hot=hot, keep=keep, archive=archive, dry_run=dry_run)
    if chosen(output) is Format.JSON:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=1))
        return
    print_retention(result)


def print_retention(result: RetentionResult) -> None:
    verb = {"archived": "would archive" if result.dry_run else "archived", "deleted": "would delete" if result.dry_run else "deleted"}
    for move in result.moves:
        stdout.print(f"{verb[move.action]:>14}  cluster={terminal_text(move.cluster)}/date={move.date}  {move.rows:>10,} rows  "
                     f"{move.files:>3} file(s)  {move.first_event_at} → {move.last_event_at}  from {terminal_text(move.lake)}",
                     markup=False, soft_wrap=True)
    archived = sum(1 for move in result.moves if move.action == "archived")
    deleted = len(result.moves) - archived
    stderr.print(f"{'dry run: ' if result.dry_run else ''}{archived} partition(s) archived, {deleted} deleted"
                 + (f"; hot from {result.hot_before}" if result.hot_before else "")
                 + (f"; kept from {result.keep_before}" if result.keep_before else ""), markup=False)
