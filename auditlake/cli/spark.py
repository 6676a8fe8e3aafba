"""`auditlake spark run`: a saved query on a local Spark session, printed like `auditlake query run`.

Owns: the `spark` group. The lake binds the values, translates and runs (`Lake.spark_query_arrow`); this module
reads the options and prints. Spark starts only when the query can run there (its header lists spark).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from auditlake.cli.console import state_window
from auditlake.cli.options import (
    DEFAULT_LAKE,
    ClusterOption,
    DataFormat,
    LakeOption,
    MaxRowsOption,
    OutputOption,
    UntilOption,
    chosen,
    name_values,
)
from auditlake.cli.output import emit
from auditlake.render.formats import Format

app = typer.Typer(help="Saved queries on Spark (pip install 'auditlake[spark]', Java 17+): the answers DuckDB gives.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("run")
def spark_run(
    name: Annotated[str, typer.Argument(help="A saved query or detection whose header lists spark under engines.")],
    lake: LakeOption = DEFAULT_LAKE,
    since: Annotated[str | None, typer.Option("--since", help="Start of the window: 7d, 24h, 2026-11-01, … (default: the query's, 7d).")] = None,
    until: UntilOption = None,
    cluster: ClusterOption = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Any other parameter, as name=value (repeatable).")] = None,
    master: Annotated[str, typer.Option("--master", help="Spark master of the local session.")] = "local[*]",
    driver_memory: Annotated[str | None, typer.Option("--driver-memory", help="The session's JVM heap, e.g. 4g (Spark's default: 1g).")] = None,
    output: DataFormat = Format.TABLE,
    output_file: OutputOption = None,
    max_rows: MaxRowsOption = 100,
) -> None:
    """Run a saved query on a local Spark session (quiet, no UI, on 127.0.0.1); data on stdout, messages on stderr.

    Example: auditlake spark run deployment-changes --lake lake --since 30d --master 'local[2]' --format csv
    """
    from auditlake.lake import Lake

    params: dict[str, Any] = dict(name_values(param))
    if cluster is not None:
        params["cluster"] = cluster
    the_lake = Lake(lake)
    start, end = the_lake.window(since, until, query=name)
    result = the_lake.spark_query_arrow(name, master=master, driver_memory=driver_memory, since=start, until=end, **params)
    emit(result, chosen(output), output_file, max_rows)
    state_window(f"{result.num_rows:,} row(s) on Spark", start, end)
