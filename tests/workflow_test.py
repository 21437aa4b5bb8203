"""The dbt workflow commands: `validate` (real dbt parse), `check --offline`, `check --format json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hex_exposures.cli import main
from tests.cli_test import OUT, copy_sample

NO_SNAPSHOT = "warehouse: snowflake\nprofiles_dir: .\nparse: false\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample, synced once; tests copy its synced file and manifest."""
    project = copy_sample(tmp_path_factory.mktemp("wf") / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    return project


@pytest.fixture
def project(tmp_path: Path, base: Path) -> Path:
    p = copy_sample(tmp_path / "p")
    (p / OUT).write_bytes((base / OUT).read_bytes())
    (p / "target").mkdir()
    (p / "target" / "manifest.json").write_bytes((base / "target" / "manifest.json").read_bytes())
    (p / "offline.yml").write_text(NO_SNAPSHOT, encoding="utf-8")
    return p


def edit(project: Path, old: str, new: str) -> str:
    text = (project / OUT).read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    (project / OUT).write_text(text, encoding="utf-8")
    return text


def cli(project: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(project)])
    out, err = capsys.readouterr()
    return code, out, err


# --- validate ----------------------------------------------------------------------------


def test_validate_passes_on_a_fresh_sync(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(project, "validate", capsys=capsys)
    assert (code, out) == (0, "")
    assert "all 6 managed exposures keep every dependency" in err


def test_validate_catches_a_dependency_dbt_silently_ignores(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bare name is not a ref(): dbt parse exits 0 and the exposure just loses the parent.
    edit(project, "      - ref('fct_sessions')\n", "      - fct_sessions\n")
    code, out, err = cli(project, "validate", capsys=capsys)
    assert code == 1
    assert "hex_churn_analysis_9f9c96e0: dbt ignored 'fct_sessions'" in out
    assert "dbt parse alone would not have failed" in err


def test_validate_quotes_dbt_on_a_model_that_does_not_exist(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        project,
        "      - ref('fct_sessions')\n",
        "      - ref('fct_sessions')\n      - ref('gone')\n",
    )
    code, out, _ = cli(project, "validate", capsys=capsys)
    assert code == 1
    assert "dbt parse failed" in out and "'gone'" in out and "not found" in out


def test_validate_catches_a_duplicate_name(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (project / OUT).read_text(encoding="utf-8")
    text += (
        "\n  - name: hex_weekly_revenue\n    type: dashboard\n"
        "    owner: {name: Someone}\n    depends_on: [ref('fct_orders')]\n"
    )
    (project / OUT).write_text(text, encoding="utf-8")
    code, out, _ = cli(project, "validate", capsys=capsys)
    assert code == 1
    assert "hex_weekly_revenue" in out


# --- check --offline (the pre-commit hook) -------------------------------------------------


def test_offline_check_passes_then_names_a_dependency_that_is_no_node(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("check", "--offline", "--config", str(project / "offline.yml"))
    code, out, _ = cli(project, *args, capsys=capsys)
    assert (code, out) == (0, "")
    edited = edit(
        project,
        "      - ref('fct_sessions')\n",
        "      - ref('fct_sessions')\n      - ref('gone')\n",
    )
    code, out, err = cli(project, *args, capsys=capsys)
    assert code == 1
    assert "hex_churn_analysis_9f9c96e0: ref('gone') is not a dbt node" in out
    assert "-      - ref('gone')" in out
    assert "fix the file by hand" in err
    assert (project / OUT).read_text(encoding="utf-8") == edited


def test_offline_check_catches_a_shape_the_tool_does_not_write(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Dependencies out of order: dbt does not care, but the next sync would rewrite them.
    edit(
        project,
        "      - ref('fct_sessions')\n      - ref('snap_users')\n",
        "      - ref('snap_users')\n      - ref('fct_sessions')\n",
    )
    args = ("check", "--offline", "--config", str(project / "offline.yml"))
    code, out, _ = cli(project, *args, capsys=capsys)
    assert code == 1 and "+      - ref(" in out and "-      - ref(" in out
    assert "changed  hex_churn_analysis_9f9c96e0  (fields: depends_on order)" in out


def test_offline_check_uses_the_configured_snapshot_when_there_is_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A valid but wrong dependency: only the snapshot knows the project never read it.
    edit(
        project,
        "      - ref('fct_sessions')\n",
        "      - ref('fct_sessions')\n      - ref('stg_events')\n",
    )
    code, out, _ = cli(project, "check", "--offline", "--no-parse", capsys=capsys)
    assert code == 1 and "-      - ref('stg_events')" in out


# --- check --format json ------------------------------------------------------------------


def test_check_json_field_by_field(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(project, "check", "--no-parse", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert code == 0
    assert doc["up_to_date"] is True and doc["diff"] == "" and doc["changes"] == []
    assert doc["summary"] == {"added": 0, "removed": 0, "changed": 0}

    text = (project / OUT).read_text(encoding="utf-8")
    # Remove one managed exposure entirely and change another's dependencies.
    start = text.index("  - name: hex_customer_filters\n")
    end = text.index("  - name: ", start + 1)
    text = text[:start] + text[end:]
    text = text.replace("      - ref('fct_sessions')\n", "", 1)
    (project / OUT).write_text(text, encoding="utf-8")

    code, out, err = cli(project, "check", "--no-parse", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert code == 1 and err == ""
    assert doc["up_to_date"] is False
    assert doc["path"] == "models/hex_exposures.yml"
    assert doc["summary"] == {"added": 1, "removed": 0, "changed": 1}
    by_name = {c["name"]: c for c in doc["changes"]}
    assert by_name["hex_customer_filters"]["kind"] == "added"
    assert by_name["hex_customer_filters"]["deps_added"] == [
        "ref('dim_countries')",
        "ref('dim_customers', v=2)",
        "ref('stg_orders')",
    ]
    churn = by_name["hex_churn_analysis_9f9c96e0"]
    assert churn["kind"] == "changed"
    assert churn["deps_added"] == ["ref('fct_sessions')"] and churn["deps_removed"] == []
    assert churn["fields"] == []
    assert doc["diff"].startswith(
        "--- a/models/hex_exposures.yml\n+++ b/models/hex_exposures.yml\n"
    )
    assert "+  - name: hex_customer_filters\n" in doc["diff"]
    assert doc["problems"] == []


def test_check_text_has_no_colour_when_not_a_terminal(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project, "      - ref('fct_sessions')\n", "")
    code, out, _ = cli(project, "check", "--no-parse", capsys=capsys)
    assert code == 1 and "\x1b[" not in out
    assert "+      - ref('fct_sessions')" in out


# --- a stale manifest -----------------------------------------------------------------------


def test_a_manifest_older_than_a_model_warns_and_names_parse(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import time

    manifest = project / "target" / "manifest.json"
    past = time.time() - 3600
    os.utime(manifest, (past, past))
    for f in project.joinpath("models").rglob("*"):
        os.utime(f, (past - 60, past - 60))
    # Our own output being newer must not count: sync writes it after every parse.
    os.utime(project / OUT, None)
    code, _, err = cli(project, "check", "--no-parse", capsys=capsys)
    assert code == 0 and "older than" not in err
    os.utime(project / "models" / "marts" / "fct_orders.sql", None)
    code, _, err = cli(project, "check", "--no-parse", capsys=capsys)
    assert code == 0
    assert "target/manifest.json is older than the project's models; pass --parse" in err


def test_a_renamed_model_breaking_dbt_parse_on_our_file_is_repaired_by_sync(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The exposures file names fct_sessions; once it is renamed dbt parse fails on our own
    # file. check must still tell (not reuse the stale manifest) and sync must repair it.
    marts = project / "models" / "marts"
    (marts / "fct_sessions.sql").rename(marts / "fct_user_sessions.sql")
    yml = marts / "_marts.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("fct_sessions", "fct_user_sessions"))
    code, out, err = cli(project, "check", capsys=capsys)
    assert code == 1, err
    assert "-      - ref('fct_sessions')" in out
    assert "parsing the project without it" in err
    assert not list(project.rglob("hex-exposures-parse-*"))
    code, _, err = cli(project, "sync", capsys=capsys)
    assert code == 0, err
    assert "ref('fct_sessions')" not in (project / OUT).read_text(encoding="utf-8")
    code, _, err = cli(project, "validate", capsys=capsys)
    assert code == 0, err
