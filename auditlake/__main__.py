"""The `auditlake` command and `python -m auditlake`: `--version` is answered before the command-line parser is imported.

typer (with click and pydantic) costs ~0.2 s to import, more than everything `--version` needs; every other
argument goes to the CLI (`auditlake.cli.main`), which prints the same line for `--version` among other options.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from auditlake.config import version

        print(f"auditlake {version()}")
        return
    from auditlake.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
