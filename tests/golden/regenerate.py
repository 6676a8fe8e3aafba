"""Rewrite the Markdown goldens of tests/test_reports.py from a fresh demo lake (run after a deliberate change).

    python tests/golden/regenerate.py

Review the diff before committing: every changed number is a changed report an auditor would see.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from auditlake import Lake  # noqa: E402
from auditlake.render import report as report_render  # noqa: E402
from tests.conftest import DEMO_REQUESTS, DEMO_SEED, DEMO_START  # noqa: E402
from tests.test_reports import GENERATED, GOLDEN, WINDOW, normalise_paths  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        lake = Lake(root / "lake")
        lake.demo(root / "demo-log", requests=DEMO_REQUESTS, seed=DEMO_SEED, start=DEMO_START)
        for pack in ("pci-dss", "change-log"):
            report = lake.report(pack, **WINDOW, now=GENERATED)
            target = GOLDEN / f"{pack}-demo.md"
            target.write_text(normalise_paths(report_render.markdown(report), lake))
            print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
