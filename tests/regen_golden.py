"""Regenerate tests/fixtures/report_sample.txt, the golden text of `report` on the sample.

    python -m tests.regen_golden

Runs the real CLI (with dbt parse) on a copy of sample_dbt_project and writes what `report`
prints. Review the diff before committing it: cli_test compares the report with this file.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from hex_exposures.cli import main
from tests.cli_test import GOLDEN, copy_sample


def render(project: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["report", "--project-dir", str(project), "--quiet"])
    if code != 0:
        raise SystemExit(f"report exited {code}")
    return out.getvalue()


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_sample(Path(tmp) / "p")
        text = render(project)
    GOLDEN.write_text(text, encoding="utf-8")
    print(f"wrote {GOLDEN} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    regenerate()
