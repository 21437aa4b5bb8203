"""The text report's wording, grouping, plurals, colour hook and alignment (plain values)."""

from __future__ import annotations

import pytest

from hex_exposures import report
from hex_exposures.errors import ExposuresFileError
from hex_exposures.pipeline import ProjectReport, Report
from hex_exposures.records import Exposure


def project(status: str, title: str, **kw: object) -> ProjectReport:
    values: dict[str, object] = {
        "project_id": "0e50c729-fd95-48e8-829b-d06d60a28ebd",
        "title": title,
        "status": status,
        "exposure": None,
        "depends_on": (),
        "nodes": (),
        "unmatched": (),
        "notes": (),
        "queries": 1,
        "runs": 1,
        "unparsed": 0,
        "url": "https://app.hex.tech/acme/hex/0e50c729-fd95-48e8-829b-d06d60a28ebd",
        "owner": "jane@acme.com",
    }
    values.update(kw)
    return ProjectReport(**values)  # type: ignore[arg-type]


def make_report(*projects: ProjectReport, unparsed: int = 0, queries: int = 1) -> Report:
    return Report(
        warehouse="snowflake",
        workspace="acme",
        projects=projects,
        queries=queries,
        skipped_no_comment=0,
        skipped_context=0,
        unknown_project=0,
        unparsed=unparsed,
        unparsed_examples=(),
    )


def test_plurals() -> None:
    assert report.plural(1, "query", "queries") == "1 query"
    assert report.plural(2, "query", "queries") == "2 queries"
    assert report.plural(0, "run") == "0 runs"
    one = make_report(project("not_run", "Idle"), unparsed=1)
    assert report.summary_line(one) == (
        "1 Hex project, 0 with exposures; 1 query record (snowflake); "
        "1 text sqlglot could not parse"
    )
    text = report.report_text(one, days=1)
    assert "1 query, 1 run" in text
    assert "No exposure: did not run in the last 1 day (1 project)" in text


def test_groups_in_order_with_words_not_tokens() -> None:
    r = make_report(
        project("trashed", "Old"),
        project("no_dbt_nodes", "Cost", unmatched=("SNOWFLAKE.ACCOUNT_USAGE.X",)),
        project("exposed", "Revenue", exposure="hex_revenue", depends_on=("ref('a')", "ref('b')")),
        project("exposed", "Churn", exposure="hex_churn", depends_on=("ref('c')",)),
    )
    text = report.report_text(r, days=14)
    headings = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings[:3] == [
        "Exposed (2 projects)",
        "No exposure: no dbt node matched (1 project)",
        "No exposure: trashed (1 project)",
    ]
    assert "no_dbt_nodes" not in text and "status:" not in text
    assert "    owner           jane@acme.com" in text
    assert "    url             https://app.hex.tech/acme/hex/" in text
    # a value column: every labelled row's value starts at the same offset
    rows = [line for line in text.splitlines() if line.startswith("    ")]
    assert {len(line) - len(line[4:].lstrip()) for line in rows if line[4] != " "} == {4}
    assert {line.index(line[20:].lstrip()[:1], 20) for line in rows} == {20}


def test_the_style_hook_sees_headings_and_titles() -> None:
    seen: list[tuple[str, str]] = []

    def style(text: str, role: str) -> str:
        seen.append((text, role))
        return f"<{role}>{text}</{role}>"

    r = make_report(project("exposed", "Revenue", exposure="hex_revenue", depends_on=("x",)))
    text = report.report_text(r, style=style)
    assert ("Exposed (1 project)", "good") in seen and ("Revenue", "title") in seen
    assert "<good>Exposed (1 project)</good>" in text
    assert "<" not in report.report_text(r)  # the default prints plain text


def test_hex_text_is_one_line() -> None:
    r = make_report(
        project("exposed", "Two\nlines\tand  tabs", exposure="hex_x", depends_on=("x",))
    )
    assert "  Two lines and tabs  0e50c729" in report.report_text(r)


def test_change_lines_align_their_details() -> None:
    items = [
        report.Change("hex_a", "added", ("ref('x')",), (), ()),
        report.Change("hex_much_longer_name", "changed", (), ("ref('y')",), ()),
        report.Change("hex_mid", "removed", (), ("ref('z')",), ()),
    ]
    lines = report.changes_text(items).splitlines()
    assert lines[0] == "1 added, 1 removed, 1 changed"
    starts = {line.index("(") for line in lines[1:]}
    assert len(starts) == 1, lines


def test_exposures_table_lists_each_dependency_on_its_own_row() -> None:
    def expo(name: str, deps: tuple[str, ...]) -> Exposure:
        return Exposure(name, name, "dashboard", None, "u", "", None, None, deps, (), "pid", {})

    text = report.exposures_table([expo("hex_a", ("ref('x')", "ref('y')")), expo("hex_bb", ())])
    assert text.splitlines() == [
        "exposure  type       depends on",
        "hex_a     dashboard  ref('x')",
        "                     ref('y')",
        "hex_bb    dashboard  (nothing: see `hex-exposures report`)",
    ]
    many = [expo(f"hex_{i:02}", ("ref('x')",)) for i in range(25)]
    lines = report.exposures_table(many, limit=20).splitlines()
    assert len(lines) == 22
    assert lines[-1] == "... and 5 more exposures: `hex-exposures report` lists them all"


def test_warehouse_users_are_counted_from_texts_with_hex_s_comment() -> None:
    """Issue 17, class 6: report names who ran Hex-commented texts, most runs first, so a
    team can choose --hex-user; a text without a readable comment names nobody."""
    import json

    from hex_exposures import pipeline
    from hex_exposures.records import HexQuery, Settings

    pid = "0e50c729-fd95-48e8-829b-d06d60a28ebd"
    comment = '\n-- Hex query metadata: {"project_id": "' + pid + '"}'
    queries = [
        HexQuery(pid, "select 1" + comment, run_count=30, warehouse_user="HEX_SERVICE"),
        HexQuery(pid, "select 2" + comment, run_count=5, warehouse_user="HEX_SERVICE"),
        HexQuery(pid, "select 3" + comment, run_count=2, warehouse_user="MALLORY"),
        HexQuery(pid, "select 4 -- Hex query metadata: {", run_count=9, warehouse_user="EVE"),
        HexQuery(pid, "select 5" + comment, run_count=1),  # an old snapshot: no user
    ]
    got = pipeline.attribute_queries(queries, Settings())
    assert got.users == (
        pipeline.UserCount("HEX_SERVICE", 2, 35),
        pipeline.UserCount("MALLORY", 1, 2),
    )
    r = make_report(project("not_run", "Idle"))._replace(warehouse_users=got.users)
    text = report.report_text(r)
    block = text.split("Warehouse users running queries with Hex's comment (see --hex-user)\n")
    assert block[1].splitlines()[:2] == [
        "  HEX_SERVICE  2 queries, 35 runs",
        "  MALLORY      1 query, 2 runs",
    ]
    assert json.loads(report.report_json(r))["warehouse_users"] == [
        {"user": "HEX_SERVICE", "queries": 2, "runs": 35},
        {"user": "MALLORY", "queries": 1, "runs": 2},
    ]
    assert "Warehouse users" not in report.report_text(make_report(project("not_run", "Idle")))


def test_changes_reuse_the_merge_s_reading_and_equal_a_whole_file_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`changes` takes the items the merge read or proved instead of loading both files
    whole; the list must be what the whole-file load gives, for a fresh file, edits, a
    removal, a person's comment, and a file the merge would refuse."""
    from hex_exposures import yaml_merge
    from tests.yaml_merge_test import PID_A, PID_B, PID_GONE, exposure

    path = "models/hex_exposures.yml"
    a, b = exposure(PID_A), exposure(PID_B, name="hex_churn", label="Churn")
    first = yaml_merge.merge(None, [a, exposure(PID_GONE, name="hex_gone")], path=path)
    commented = first.replace("exposures:\n", "exposures:\n  # kept by hand\n", 1)
    pairs = [
        (None, first),
        (first, yaml_merge.merge(first, [a._replace(label="Revenue"), b], path=path)),
        (first, yaml_merge.merge(first, [a._replace(depends_on=("ref('x')",))], path=path)),
        (first, yaml_merge.merge(first, [], path=path)),
        (commented, yaml_merge.merge(commented, [a, b], path=path)),
        ("exposures: [not, a, mapping]\n", first),
    ]
    fast = [report.changes(old, new, path) for old, new in pairs]

    def refuse(text: object, path: str) -> object:
        raise ExposuresFileError("read it whole")

    monkeypatch.setattr(yaml_merge, "read_items", refuse)
    whole = [report.changes(old, new, path) for old, new in pairs]
    assert fast == whole
    assert all(fast)  # every pair differs
    assert {c.kind for f in fast for c in f} == {"added", "removed", "changed"}
