"""Nodes dbt will not let an exposure reference are never written as dependencies (issue 12).

Measured with real dbt-core 1.8.10 and 1.11.16 (dbt-duckdb): an exposure's `ref()` to a
model with `access: private` fails the parse ("... is private to the '<group>' group"), in
the root project or a package; a protected model of a package whose dbt_project.yml sets
`restrict-access: true` fails too ("... is protected to the '<package>' package"); protected
models of other packages and public models parse. Here the in-process dbt checks that what
the tool writes parses, and that the file it would write without these rules does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hex_exposures import files, pipeline
from hex_exposures.records import HexProject, HexQuery, Settings
from hex_exposures.report import report_json, report_text
from hex_exposures.validate import offline_expected
from tests.dbt_helpers import dbt_parse, exposures_by_name, make_project, write_exposures

PID_A = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
PID_B = "9f8e7d6c-2222-4aaa-8bbb-000000000002"
PATH = "models/hex_exposures.yml"

ROOT_FILES = {
    "models/priv.sql": "select 1 as x\n",
    "models/access.yml": """\
version: 2
groups:
  - name: finance
    owner: {name: Finance}
models:
  - name: priv
    access: private
    group: finance
""",
    "dbt_packages/pkg/dbt_project.yml": """\
name: pkg
version: "1.0.0"
config-version: 2
model-paths: ["models"]
restrict-access: true
""",
    "dbt_packages/pkg/models/pkg_protected.sql": "select 1 as x\n",
    "dbt_packages/pkg/models/pkg_public.sql": "select 1 as x\n",
    "dbt_packages/pkg/models/pkg_private.sql": "select 1 as x\n",
    "dbt_packages/pkg/models/schema.yml": """\
version: 2
groups:
  - name: pkg_team
    owner: {name: Pkg}
models:
  - name: pkg_protected
  - name: pkg_public
    access: public
  - name: pkg_private
    access: private
    group: pkg_team
""",
}


def hex_project(pid: str, title: str) -> HexProject:
    return HexProject(
        id=pid,
        title=title,
        description=None,
        type="PROJECT",
        owner_email="jane@acme.com",
        creator_email=None,
        status="Production",
        categories=(),
        published=True,
        archived=False,
        trashed=False,
        raw={},
    )


def query(pid: str, *tables: str) -> HexQuery:
    meta = {"context": "SCHEDULED_RUN", "project_id": pid}
    # The tiny project quotes identifiers (dbt-duckdb's default): Snowflake rules keep case.
    sql = " union all ".join(f'select x from "tiny"."main"."{t}"' for t in tables)
    return HexQuery(pid, f"{sql}\n-- Hex query metadata: {json.dumps(meta)}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = make_project(tmp_path_factory.mktemp("access"))
    for name, text in ROOT_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root, dbt_parse(root)


def sync(root: Path, manifest: dict[str, Any], *, restricted: bool = True) -> pipeline.RunResult:
    projects = [hex_project(PID_A, "Finance board"), hex_project(PID_B, "Package board")]
    queries = [
        query(PID_A, "priv", "fct_orders"),
        query(PID_B, "pkg_protected", "pkg_public", "pkg_private"),
    ]
    return pipeline.run(
        manifest,
        projects,
        queries,
        settings=Settings(warehouse="snowflake"),
        output_path=PATH,
        restricted_packages=files.restricted_packages(str(root)) if restricted else frozenset(),
    )


def test_the_packages_restrict_access_flag_is_read(project: tuple[Path, Any]) -> None:
    assert files.restricted_packages(str(project[0])) == frozenset({"pkg"})


def test_refused_nodes_are_not_written_and_dbt_parses_the_file(project: tuple[Path, Any]) -> None:
    root, manifest = project
    result = sync(root, manifest)
    deps = {e.name: e.depends_on for e in result.exposures}
    assert deps == {
        "hex_finance_board": ("ref('fct_orders')",),
        "hex_package_board": ("ref('pkg_public')",),
    }
    write_exposures(root, result.text)
    parsed = exposures_by_name(dbt_parse(root))
    assert parsed["hex_finance_board"]["depends_on"]["nodes"] == ["model.tiny.fct_orders"]
    assert parsed["hex_package_board"]["depends_on"]["nodes"] == ["model.pkg.pkg_public"]


def test_report_lists_refused_tables_as_read_with_reason_and_group(
    project: tuple[Path, Any],
) -> None:
    root, manifest = project
    report = sync(root, manifest).report
    by_title = {p.title: p for p in report.projects}
    assert by_title["Finance board"].not_allowed == (
        {
            "table": '"tiny"."main"."priv"',  # duckdb quotes: stored lower case, shown quoted
            "node": "model.tiny.priv",
            "reason": "private to the 'finance' group",
            "group": "finance",
        },
    )
    assert [i["node"] for i in by_title["Package board"].not_allowed] == [
        "model.pkg.pkg_private",
        "model.pkg.pkg_protected",
    ]
    assert by_title["Package board"].not_allowed[1]["reason"] == (
        "protected to the 'pkg' package (restrict-access)"
    )
    assert '"tiny"."main"."priv"' not in by_title["Finance board"].unmatched
    text = report_text(report)
    assert (
        """    not allowed     "tiny"."main"."priv" (model.tiny.priv is private to the 'finance' """
        "group; dbt lets no exposure depend on it)"
    ) in text.splitlines()
    doc = json.loads(report_json(report))
    finance = next(p for p in doc["projects"] if p["title"] == "Finance board")
    assert finance["not_allowed"][0]["group"] == "finance"


def test_without_the_rule_dbt_refuses_the_file(project: tuple[Path, Any], tmp_path: Path) -> None:
    """The control: a restricted package's protected model as a ref() fails real dbt parse."""
    root, manifest = project
    result = sync(root, manifest, restricted=False)
    deps = {e.name: e.depends_on for e in result.exposures}
    assert "ref('pkg_protected')" in deps["hex_package_board"]
    copy = make_project(tmp_path / "p")
    for name, text in ROOT_FILES.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(text, encoding="utf-8")
    write_exposures(copy, result.text)
    with pytest.raises(AssertionError, match="protected to the 'pkg' package"):
        dbt_parse(copy)


def test_a_kept_or_hand_added_private_ref_is_dropped(project: tuple[Path, Any]) -> None:
    root, manifest = project
    text = sync(root, manifest).text.replace(
        "      - ref('fct_orders')\n", "      - ref('fct_orders')\n      - ref('priv')\n"
    )
    assert "ref('priv')" in text
    # check --offline: the file as sync would leave it, and why.
    fixed, problems = offline_expected(manifest, text, warehouse="snowflake", path=PATH)
    assert "ref('priv')" not in fixed
    assert problems == [
        f"{PATH}: exposure hex_finance_board: ref('priv'): model.tiny.priv is private to the "
        "'finance' group, and dbt lets no exposure depend on it"
    ]
    # A project that did not run in the window keeps its dependencies, but not a refused one.
    kept = pipeline.run(
        manifest,
        [hex_project(PID_A, "Finance board")],
        [],
        settings=Settings(warehouse="snowflake"),
        existing=text,
        output_path=PATH,
    )
    assert kept.exposures[0].depends_on == ("ref('fct_orders')",)
    assert "ref('priv')" not in yaml.safe_load(kept.text)["exposures"][0]["depends_on"]


def test_an_unreadable_package_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: x\npackages-install-path: pk\n")
    (tmp_path / "pk" / "a").mkdir(parents=True)
    (tmp_path / "pk" / "a" / "dbt_project.yml").write_text("name: [unclosed\n")
    (tmp_path / "pk" / "b").mkdir()
    (tmp_path / "pk" / "b" / "dbt_project.yml").write_text("name: bee\nrestrict-access: true\n")
    assert files.restricted_packages(str(tmp_path)) == frozenset({"bee"})


def test_a_model_made_private_after_a_sync_is_dropped_by_the_next_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dbt's error names the exposure, not the file: sync still parses without its own file,
    drops the ref, and the project parses again (before, sync --parse exited 2 from then on)."""
    from hex_exposures.cli import main
    from tests.cli_test import OUT, copy_sample

    project = copy_sample(tmp_path / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    assert "ref('fct_refunds')" in (project / OUT).read_text(encoding="utf-8")
    marts = project / "models" / "marts" / "_marts.yml"
    marts.write_text(
        marts.read_text(encoding="utf-8")
        .replace(
            "  - name: fct_refunds\n",
            "  - name: fct_refunds\n    access: private\n    group: finance\n",
        )
        .replace("models:\n", "groups:\n  - name: finance\n    owner: {name: Finance}\nmodels:\n"),
        encoding="utf-8",
    )
    with pytest.raises(AssertionError, match="private to the 'finance' group"):
        dbt_parse(project)
    capsys.readouterr()
    assert main(["sync", "--project-dir", str(project)]) == 0
    err = capsys.readouterr().err
    assert "parsing the project without it" in err
    # its referenced_columns of fct_refunds go too (a change under config.meta)
    assert "changed  hex_ubersicht_umsatze  (-ref('fct_refunds'); fields: config)" in err
    assert "ref('fct_refunds')" not in (project / OUT).read_text(encoding="utf-8")
    assert "hex_ubersicht_umsatze" in exposures_by_name(dbt_parse(project))
