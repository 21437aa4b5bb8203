"""A managed name that another exposure of the project takes is renamed in one sync (issue 12).

dbt parse fails when two exposures share a name. A person who adds one elsewhere after a sync
used to get "dbt parse fails on models/hex_exposures.yml itself" and then "up to date" with a
project that no longer parsed; now sync renames the managed one by the stable-name rule (the
project-id suffix), says so, `check` reports it, and real dbt parses the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hex_exposures.cli import main
from hex_exposures.exposures import rename_clashes
from tests.cli_test import OUT, copy_sample
from tests.dbt_helpers import dbt_parse, exposures_by_name

PID = "0e50c729-fd95-48e8-829b-d06d60a28ebd"  # the sample's Weekly Revenue project
CLASH = """\
version: 2
exposures:
  - name: hex_weekly_revenue   # a person's, added after a sync
    type: dashboard
    owner: {name: Finance}
    depends_on:
      - ref('fct_orders')
"""


def test_rename_clashes_uses_the_project_id_suffix_whatever_the_order() -> None:
    existing = {PID: "hex_weekly_revenue", "9f8e7d6c-0000-4000-8000-000000000000": "hex_other"}
    assert rename_clashes(existing, {"hex_weekly_revenue"}) == {
        PID: ("hex_weekly_revenue", "hex_weekly_revenue_0e50c729")
    }
    taken = {"hex_weekly_revenue", "hex_weekly_revenue_0e50c729"}
    assert rename_clashes(existing, taken)[PID][1] == f"hex_weekly_revenue_{PID.replace('-', '')}"
    assert rename_clashes(existing, {"unrelated"}) == {}


@pytest.fixture
def clashed(tmp_path: Path) -> Path:
    project = copy_sample(tmp_path / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    pid = next(
        e["config"]["meta"]["hex_exposures"]["project_id"]
        for e in yaml.safe_load((project / OUT).read_text(encoding="utf-8"))["exposures"]
        if e["name"] == "hex_weekly_revenue"
    )
    assert pid == PID
    (project / "models" / "by_hand.yml").write_text(CLASH, encoding="utf-8")
    return project


def test_a_clash_added_by_hand_is_renamed_in_one_sync_and_dbt_parses(
    clashed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--project-dir", str(clashed)]
    capsys.readouterr()
    assert main(["check", *args]) == 1
    out = capsys.readouterr().out
    assert "-  - name: hex_weekly_revenue\n+  - name: hex_weekly_revenue_0e50c729" in out
    assert "1 changed" in out
    assert main(["sync", *args]) == 0
    said = capsys.readouterr().err
    assert "dbt parse fails on models/hex_exposures.yml itself" in said
    assert (
        "renamed hex_weekly_revenue -> hex_weekly_revenue_0e50c729: the name is also used by "
        "the exposure in models/by_hand.yml; renamed by the stable-name rule"
    ) in said
    assert "up to date" not in said
    names = exposures_by_name(dbt_parse(clashed))  # real dbt parses both files again
    assert names["hex_weekly_revenue"]["original_file_path"] == "models/by_hand.yml"
    ours = names["hex_weekly_revenue_0e50c729"]
    assert ours["original_file_path"] == "models/hex_exposures.yml"
    assert ours["meta"]["hex_exposures"]["project_id"] == PID
    # Stable: the next sync and check change nothing.
    before = (clashed / OUT).read_bytes()
    assert main(["sync", *args, "--quiet"]) == 0
    assert (clashed / OUT).read_bytes() == before
    assert main(["check", *args]) == 0


def test_report_says_which_and_why(clashed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["report", "--project-dir", str(clashed), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["renamed"] == [
        "hex_weekly_revenue -> hex_weekly_revenue_0e50c729: the name is also used by the "
        "exposure in models/by_hand.yml; renamed by the stable-name rule"
    ]
    weekly = next(p for p in doc["projects"] if p["project_id"] == PID)
    assert weekly["exposure"] == "hex_weekly_revenue_0e50c729"


def test_a_clash_inside_the_file_itself_is_renamed_too(tmp_path: Path) -> None:
    project = copy_sample(tmp_path / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    path = project / OUT
    path.write_text(path.read_text(encoding="utf-8") + CLASH.split("exposures:\n")[1], "utf-8")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    names = exposures_by_name(dbt_parse(project))
    assert "hex_weekly_revenue_0e50c729" in names
    assert "meta" not in names["hex_weekly_revenue"] or not names["hex_weekly_revenue"]["meta"]
