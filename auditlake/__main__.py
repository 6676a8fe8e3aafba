"""`python -m auditlake` runs the CLI."""

from auditlake.cli import main

main()
