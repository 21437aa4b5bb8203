"""A throwaway dbt-duckdb project and an in-process `dbt parse` for tests.

dbt-core is imported inside `dbt_parse` only: test modules that never parse do not pay its
2-3 s import. dbt's runner keeps global state, so parses run one after another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT = "tiny"

_FILES = {
    "dbt_project.yml": f"""\
name: {PROJECT}
version: "1.0.0"
config-version: 2
profile: {PROJECT}
model-paths: ["models"]
""",
    "profiles.yml": f"""\
{PROJECT}:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: tiny.duckdb
      threads: 1
""",
    "models/fct_orders.sql": "select 1 as order_id\n",
    "models/dim_customers_v1.sql": "select 1 as customer_id\n",
    "models/dim_customers_v2.sql": "select 1 as customer_id, 'x' as name\n",
    "models/schema.yml": """\
version: 2
models:
  - name: dim_customers
    latest_version: 2
    versions:
      - v: 1
      - v: 2
sources:
  - name: stripe
    tables:
      - name: charges
""",
}


def make_project(root: Path, *, exposures: str | None = None) -> Path:
    """Write the project under `root`: models fct_orders and dim_customers (versions 1 and 2),
    source stripe.charges, and `exposures` (if given) as models/hex_exposures.yml."""
    for name, text in _FILES.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if exposures is not None:
        write_exposures(root, exposures)
    return root


def write_exposures(root: Path, text: str) -> Path:
    target = root / "models" / "hex_exposures.yml"
    target.write_bytes(text.encode("utf-8"))
    return target


def dbt_parse(root: Path) -> dict[str, Any]:
    """Run `dbt parse` on the project in-process and return the manifest as a dict.

    A failed parse raises AssertionError with dbt's own message.
    """
    from dbt.cli.main import dbtRunner

    target = root / "target"
    result = dbtRunner().invoke(
        [
            "parse",
            "--project-dir",
            str(root),
            "--profiles-dir",
            str(root),
            "--target-path",
            str(target),
            "--log-path",
            str(root / "logs"),
            "--no-partial-parse",
            "--no-send-anonymous-usage-stats",
            "--quiet",
        ]
    )
    if not result.success:
        raise AssertionError(f"dbt parse failed: {result.exception}")
    manifest: dict[str, Any] = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def exposures_by_name(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in manifest["exposures"].values()}
