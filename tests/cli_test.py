"""The offline pipeline end to end: the sample project through the real CLI and real dbt.

One copy of sample_dbt_project is synced once per module (dbt parse takes seconds); tests
that change it work on their own copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from hex_exposures.cli import main
from tests.dbt_helpers import dbt_parse

SAMPLE = Path(__file__).resolve().parent.parent / "sample_dbt_project"
EXPECTED = json.loads(
    (Path(__file__).parent / "fixtures" / "sample_expected.json").read_text(encoding="utf-8")
)
OUT = Path("models") / "hex_exposures.yml"
# `report`'s text on the sample; regenerate with `python -m tests.regen_golden`.
GOLDEN = Path(__file__).parent / "fixtures" / "report_sample.txt"


def copy_sample(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(
        "target", "logs", "*.duckdb", "*.duckdb.wal", "hex_exposures.yml"
    )
    shutil.copytree(SAMPLE, dest, ignore=ignore)
    # The config file at the root is named hex_exposures.yml too: copy it back.
    shutil.copy(SAMPLE / "hex_exposures.yml", dest / "hex_exposures.yml")
    return dest


def run(project: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(project)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_sample(tmp_path_factory.mktemp("sample") / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    return project


@pytest.fixture(scope="module")
def reparsed(synced: Path) -> dict[str, Any]:
    """The manifest dbt builds from the project with the file sync wrote."""
    return dbt_parse(synced)


def managed(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for e in manifest["exposures"].values():
        meta = e["config"]["meta"].get("hex_exposures") or {}
        if meta.get("managed"):
            out[meta["project_id"]] = e
    return out


# --- dbt accepts what sync wrote ---------------------------------------------------------


def test_each_exposure_depends_on_exactly_the_expected_nodes(reparsed: dict[str, Any]) -> None:
    got = {pid: sorted(e["depends_on"]["nodes"]) for pid, e in managed(reparsed).items()}
    assert got == {pid: sorted(nodes) for pid, nodes in EXPECTED["exposed"].items()}


def test_each_exposure_lists_exactly_the_expected_columns(reparsed: dict[str, Any]) -> None:
    # dbt 1.11 puts config.meta into the exposure's meta, where Elementary's test reads it.
    got = {}
    for pid, e in managed(reparsed).items():
        by_node: dict[str, list[str]] = {}
        for c in e["meta"]["referenced_columns"]:
            by_node.setdefault(c["node"], []).append(c["column_name"])
        got[pid] = by_node
    assert got == EXPECTED["columns"]


def test_no_exposure_for_trashed_archived_unmatched_and_idle_projects(
    reparsed: dict[str, Any],
) -> None:
    assert not set(EXPECTED["no_exposure"]) & set(managed(reparsed))


def test_hostile_title_reaches_dbt_unchanged(reparsed: dict[str, Any]) -> None:
    snapshot = json.loads((SAMPLE / "hex_snapshot.json").read_text(encoding="utf-8"))
    titles = {p["id"]: p["title"] for p in snapshot["projects"]}
    descriptions = {p["id"]: p.get("description") or "" for p in snapshot["projects"]}
    exposures = managed(reparsed)
    for pid in ("cfb6faad-2034-4e84-91a9-7924d8f755e2", "f5036c9a-0a2a-41a8-b46b-66a168c86ce9"):
        assert exposures[pid]["label"] == " ".join(titles[pid].split())
        assert exposures[pid]["description"].strip() == descriptions[pid].strip()
    assert any(ch in titles["cfb6faad-2034-4e84-91a9-7924d8f755e2"] for ch in "{%#")


def test_dbt_reads_the_file_as_pyyaml_does(synced: Path) -> None:
    data = yaml.safe_load((synced / OUT).read_text(encoding="utf-8"))
    assert data["version"] == 2
    names = [e["name"] for e in data["exposures"]]
    assert names == sorted(names) and len(set(names)) == len(names)


# --- idempotence and check ---------------------------------------------------------------


def test_second_sync_changes_no_byte_and_check_passes(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (synced / OUT).read_bytes()
    mtime = (synced / OUT).stat().st_mtime_ns
    code, _, err = run(synced, "sync", capsys=capsys)
    assert code == 0 and "up to date" in err
    assert (synced / OUT).read_bytes() == before
    assert (synced / OUT).stat().st_mtime_ns == mtime  # not even rewritten
    code, out, err = run(synced, "check", capsys=capsys)
    assert (code, out) == (0, "")
    assert err.splitlines()[-1] == "hex-exposures: models/hex_exposures.yml is up to date"
    assert all(line.startswith("hex-exposures: ") for line in err.splitlines())
    code, out, err = run(synced, "check", "--quiet", capsys=capsys)
    assert (code, out, err) == (0, "", "")


def test_check_fails_with_a_diff_after_a_hand_edit_and_leaves_the_file(
    tmp_path: Path, synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_sample(tmp_path / "p")
    (project / OUT).write_bytes((synced / OUT).read_bytes())
    text = (project / OUT).read_text(encoding="utf-8")
    edited = text.replace("      - ref('fct_sessions')\n", "", 1)
    assert edited != text
    (project / OUT).write_text(edited, encoding="utf-8")
    code, out, err = run(project, "check", capsys=capsys)
    assert code == 1
    assert "--- a/models/hex_exposures.yml" in out and "+      - ref('fct_sessions')" in out
    assert "+ref('fct_sessions')" in out  # the per-exposure summary
    assert err.splitlines()[-1] == (
        "hex-exposures: models/hex_exposures.yml is out of date: run `hex-exposures sync`"
    )
    assert all(line.startswith("hex-exposures: ") for line in err.splitlines())
    assert (project / OUT).read_text(encoding="utf-8") == edited


# --- round trip: hand edits survive ------------------------------------------------------

HAND = """\
# Team notes: keep this comment.
version: 2

exposures:
  # The finance dashboard is documented by hand.
  - name: finance_board   # inline comment
    type: dashboard
    owner: {name: Finance, email: fin@acme.com}
    depends_on: [ref('fct_orders')]
"""


def test_comments_hand_written_exposures_and_extra_keys_survive_sync(
    tmp_path: Path, synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_sample(tmp_path / "p")
    tool = (synced / OUT).read_text(encoding="utf-8")
    # Start from the tool's output plus a person's additions: a hand-written exposure with
    # comments, and an extra key and a comment on a managed exposure.
    body = tool.split("exposures:\n", 1)[1]
    at = body.index("    label: Weekly Revenue\n")
    item = body[at:].replace("    # reviewed", "", 0)
    item = item.replace("      meta:\n", "      meta:\n        team: finance  # by hand\n", 1)
    extra = body[:at] + "    # reviewed by finance\n" + item
    assert "team: finance" in extra
    start = HAND + extra
    (project / OUT).write_text(start, encoding="utf-8")
    code, _, err = run(project, "sync", "--quiet", capsys=capsys)
    assert code == 0, err
    after = (project / OUT).read_text(encoding="utf-8")
    for kept in (
        "# Team notes: keep this comment.\n",
        "  # The finance dashboard is documented by hand.\n",
        "  - name: finance_board   # inline comment\n",
        "    owner: {name: Finance, email: fin@acme.com}\n",
        "    depends_on: [ref('fct_orders')]\n",
        "    # reviewed by finance\n    label: Weekly Revenue\n",
        "        team: finance  # by hand\n",
    ):
        assert kept in after
    assert after == start  # nothing the tool owns was out of date
    code, out, _ = run(project, "check", capsys=capsys)
    assert (code, out) == (0, "")


NO_NODES = "ad52b254-3a28-402f-8c6f-ee910d07ada3"  # reads only tables that are not dbt nodes
NO_NODES_EXPOSURE = f"""\
version: 2
exposures:
  - name: hex_warehouse_cost_monitor
    label: Warehouse Cost Monitor
    type: dashboard
    url: https://app.hex.tech/acme/hex/{NO_NODES}
    description: ''
    owner:
      name: dana.roth
      email: dana.roth@acme.com
    depends_on:
      - ref('fct_orders')
    config:
      tags: [hex]
      meta:
        hex_exposures: {{managed: true, project_id: {NO_NODES}}}
        hex: {{status: Production, categories: [Data Platform], published: true}}
"""


@pytest.mark.parametrize(
    ("addition", "kept"),
    [
        ("", False),
        ("        runbook: https://wiki/cost   # by hand\n", True),
        ("    # reviewed by the platform team\n", True),
    ],
)
def test_an_exposure_with_a_persons_additions_stays_when_its_queries_read_no_dbt_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], addition: str, kept: bool
) -> None:
    project = copy_sample(tmp_path / "p")
    at = "        hex: {" if addition.startswith("        ") else "    config:\n"
    text = NO_NODES_EXPOSURE.replace(at, addition + at, 1)
    (project / OUT).write_text(text, encoding="utf-8")
    code, _, err = run(project, "sync", "--quiet", capsys=capsys)
    assert code == 0, err
    data = yaml.safe_load((project / OUT).read_text(encoding="utf-8"))
    mine = [e for e in data["exposures"] if e["url"].endswith(NO_NODES)]
    if kept:
        assert len(mine) == 1 and mine[0]["depends_on"] == []
        assert addition in (project / OUT).read_text(encoding="utf-8")
    else:
        assert mine == []
    code, out, _ = run(project, "report", "--format", "json", capsys=capsys)
    doc = {p["project_id"]: p for p in json.loads(out)["projects"]}
    assert doc[NO_NODES]["status"] == ("kept_no_dbt_nodes" if kept else "no_dbt_nodes")
    assert any("a person's edits" in n for n in doc[NO_NODES]["notes"]) is kept


def test_a_keep_entry_naming_nothing_is_a_warning_and_sync_still_runs(
    tmp_path: Path, synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_sample(tmp_path / "p")
    tool = (synced / OUT).read_text(encoding="utf-8")
    text = tool.replace(
        "{managed: true, project_id:", "{managed: true, keep: [Description], project_id:", 1
    )
    (project / OUT).write_text(text, encoding="utf-8")
    code, _, err = run(project, "sync", capsys=capsys)
    assert code == 0
    warning = next(line for line in err.splitlines() if "keep entry 'Description'" in line)
    assert "models/hex_exposures.yml" in warning and "exposure 'hex_" in warning
    code, out, _ = run(project, "check", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert code == 0 and doc["up_to_date"]
    assert any("keep entry 'Description'" in p for p in doc["problems"])


# --- bad input: one line, exit 2, nothing touched ---------------------------------------


@pytest.fixture
def project_with_file(tmp_path: Path) -> Path:
    project = copy_sample(tmp_path / "p")
    (project / OUT).write_text("# mine\nversion: 2\nexposures: []\n", encoding="utf-8")
    return project


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing manifest", "manifest not found"),
        ("manifest not JSON", "not valid JSON"),
        ("snapshot wrong format", "snapshot"),
        ("unknown warehouse", "--warehouse"),
        ("unknown format", "--format"),
        ("config not a mapping", "hex_exposures.yml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_changes(
    case: str,
    needle: str,
    project_with_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = project_with_file
    args = ["sync", "--project-dir", str(p), "--no-parse"]
    if case == "missing manifest":
        args += ["--manifest", str(tmp_path / "nowhere" / "manifest.json")]
    elif case == "manifest not JSON":
        args += ["--manifest", _write(tmp_path / "manifest.json", "{not json")]
    elif case == "snapshot wrong format":
        args += ["--parse", "--from-snapshot", _write(tmp_path / "snap.json", '{"format": "x"}')]
    elif case == "unknown warehouse":
        args += ["--warehouse", "oracle"]
    elif case == "unknown format":
        args += ["--format", "xml"]
    elif case == "config not a mapping":
        _write(p / "hex_exposures.yml", "- just\n- a list\n")
    before = {
        f: f.read_bytes()
        for f in p.rglob("*")
        if f.is_file() and not {"target", "logs"} & set(f.parts)
    }
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= 3 and needle in err, err  # click adds a usage line to its one-liner
    assert "Traceback" not in err
    after = {
        f: f.read_bytes()
        for f in p.rglob("*")
        if f.is_file() and not {"target", "logs"} & set(f.parts)
    }
    assert after == before


def test_report_lists_every_project_and_why(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(synced, "report", "--format", "json", capsys=capsys)
    assert code == 0
    doc = json.loads(out)
    status = {p["project_id"]: p["status"] for p in doc["projects"]}
    assert {pid for pid, s in status.items() if s == "exposed"} == set(EXPECTED["exposed"])
    assert status["a4ce5362-e65e-48fa-99e8-be01b1982db9"] == "trashed"
    assert status["d8f8305a-f60d-4e4b-914b-c23b41b754a1"] == "archived"
    assert status["ad52b254-3a28-402f-8c6f-ee910d07ada3"] == "no_dbt_nodes"
    assert status["dc167129-2867-454d-9bcf-15f8c41b7fda"] == "not_run"
    assert doc["summary"]["skipped_no_comment"] == 1 and doc["summary"]["unparsed"] == 1


def test_report_text_on_the_sample_matches_the_golden_file(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(synced, "report", "--no-parse", capsys=capsys)
    assert code == 0
    assert out == GOLDEN.read_text(encoding="utf-8"), "run `python -m tests.regen_golden`"
    assert "\x1b[" not in out  # no colour when stdout is not a terminal
    headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert headings[:5] == [
        "Exposed (6 projects)",
        "No exposure: no dbt node matched (1 project)",
        "No exposure: did not run in the last 14 days (1 project)",
        "No exposure: archived (1 project)",
        "No exposure: trashed (1 project)",
    ]
    assert "no_dbt_nodes" not in out and "not_run" not in out and "1 texts" not in out


def test_report_headings_use_the_real_days(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(synced, "report", "--no-parse", "--days", "1", capsys=capsys)
    assert code == 0
    assert "No exposure: did not run in the last 1 day (" in out


def test_sync_shows_a_table_when_asked_and_only_log_lines_in_scripts(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(synced, "sync", "--no-parse", capsys=capsys)
    assert (code, out) == (0, "")  # not a terminal: nothing on stdout for scripts
    assert "is up to date" in err
    code, out, _ = run(synced, "sync", "--no-parse", "--table", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["exposure", "type", "depends", "on"]
    names = [line.split()[0] for line in lines[1:] if not line.startswith(" ")]
    data = yaml.safe_load((synced / OUT).read_text(encoding="utf-8"))
    assert names == [e["name"] for e in data["exposures"]]
    deps = sum(len(e["depends_on"]) for e in data["exposures"])
    assert len(lines) == 1 + deps
    column = lines[0].index("depends on")
    assert all(line[column - 1] == " " and line[column] != " " for line in lines[1:])
