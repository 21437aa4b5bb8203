from __future__ import annotations

import json

import pytest

from hex_exposures.errors import SnapshotError
from hex_exposures.records import HexProject, HexQuery
from hex_exposures.sources import snapshot

PROJECT = {
    "id": "11111111-2222-3333-4444-555555555555",
    "title": "Überblick",
    "description": None,
    "type": "PROJECT",
    "creator": {"email": "a@x.com"},
    "owner": {"email": "b@x.com"},
    "status": None,
    "categories": [],
    "lastPublishedAt": None,
    "archivedAt": None,
    "trashedAt": "2026-01-01T00:00:00.000Z",
}
COMMENT = '\n-- Hex query metadata: {"project_id": "11111111-2222-3333-4444-555555555555"}'


def test_dump_then_load_round_trips_records() -> None:
    p = HexProject.from_api(PROJECT)
    q = HexQuery(
        p.id,
        "select 1" + COMMENT,
        "DB",
        "S",
        3,
        "2026-11-01T00:00:00Z",
        ("DB.S.T",),
        ("`p`.`d`.`t`",),
    )
    text = snapshot.dumps(
        [p],
        [q],
        warehouse="snowflake",
        workspace="acme",
        hex_url="https://app.hex.tech",
        captured_at="now",
    )
    lines = text.splitlines(keepends=True)
    assert len(lines) == 3 and json.loads(lines[0])["version"] == 2
    snap = snapshot.parse_lines((line.encode() for line in lines), path="s.json")
    assert snap.projects == (p,) and snap.queries == (q,)
    assert snap.projects[0].trashed and snap.projects[0].status is None
    assert (snap.warehouse, snap.workspace) == ("snowflake", "acme")


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"format": "other"}, "not a hex-exposures snapshot"),
        ({"format": "hex-exposures-snapshot", "version": 3}, "version 3 is not supported"),
        ({"format": "hex-exposures-snapshot", "version": 2}, "version 2 is not supported"),
        (
            {"format": "hex-exposures-snapshot", "version": 1, "projects": {}, "queries": []},
            "must be lists",
        ),
        (
            {
                "format": "hex-exposures-snapshot",
                "version": 1,
                "warehouse": "duckdb",
                "projects": [],
                "queries": [],
            },
            "'warehouse'",
        ),
        (
            {"format": "hex-exposures-snapshot", "version": 1, "projects": [{}], "queries": []},
            "projects[0]",
        ),
        (
            {
                "format": "hex-exposures-snapshot",
                "version": 1,
                "projects": [],
                "queries": [{"project_id": 1}],
            },
            "queries[0]",
        ),
        (
            {
                "format": "hex-exposures-snapshot",
                "version": 1,
                "projects": [],
                "queries": [{"run_count": "2"}],
            },
            "run_count",
        ),
    ],
)
def test_wrong_documents_are_refused_with_the_place(doc: object, needle: str) -> None:
    with pytest.raises(SnapshotError) as err:
        snapshot.parse(doc, path="snap.json")
    assert needle in str(err.value)


def test_load_reports_missing_and_invalid_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SnapshotError, match="no such file"):
        snapshot.load(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SnapshotError, match="invalid JSON"):
        snapshot.load(str(bad))


def _v1(projects: list[object], queries: list[object]) -> dict[str, object]:
    return {
        "format": "hex-exposures-snapshot",
        "version": 1,
        "warehouse": "bigquery",
        "workspace": "acme",
        "projects": projects,
        "queries": queries,
    }


QUERY = {"project_id": PROJECT["id"], "query_text": "select 1 from t" + COMMENT, "run_count": 4}


@pytest.mark.parametrize("layout", ["v1-indented", "v1-one-line", "v2"])
def test_load_reads_both_versions_to_the_same_records(tmp_path, layout) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "snap.json"
    if layout == "v2":
        head = {k: v for k, v in _v1([], []).items() if k not in ("projects", "queries")}
        head["version"] = 2
        lines = [head, {"project": PROJECT}, {"query": QUERY}]
        path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "\n")
    else:
        indent = 2 if layout == "v1-indented" else None
        path.write_text(json.dumps(_v1([PROJECT], [QUERY]), indent=indent))
    snap = snapshot.load(str(path))
    assert snap.projects == (HexProject.from_api(PROJECT),)
    assert snap.queries == (HexQuery(PROJECT["id"], QUERY["query_text"], None, None, 4),)  # type: ignore[arg-type]
    assert (snap.warehouse, snap.workspace) == ("bigquery", "acme")


def test_dumps_then_load_is_the_identity_on_records(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = HexProject.from_api(PROJECT)
    texts = ["select 1\nfrom t -- a \u2028 b\r\n" + COMMENT + "\r\n", '{"x": 1}' + COMMENT, ""]
    qs = [HexQuery(p.id, t, None, "S", i, None) for i, t in enumerate(texts)]
    text = snapshot.dumps(
        [p], qs, warehouse="snowflake", workspace=None, hex_url="https://h", captured_at="c"
    )
    path = tmp_path / "s.jsonl"
    path.write_text(text, encoding="utf-8")
    snap = snapshot.load(str(path))
    assert snap.projects == (p,)
    assert sorted(snap.queries) == sorted(qs)
    assert (snap.hex_url, snap.captured_at, snap.workspace) == ("https://h", "c", None)


HEADER = json.dumps({"format": "hex-exposures-snapshot", "version": 2})


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('{"project": {"id": "a"}\n', "snap.jsonl:2: invalid JSON"),
        ('{"project": {"id": "a", "title": "A"}}\n[1]\n', "snap.jsonl:3: expected a JSON object"),
        ('\n{"query": {"project_id": 1}}\n', "snap.jsonl:3: 'project_id'"),
        ('{"query": {}, "project": {}}\n', "snap.jsonl:2: expected"),
        ('{"other": {}}\n', "snap.jsonl:2: expected"),
        ('{"project": {}}\n', "snap.jsonl:2:"),
        ('{"query": {"run_count": -1}}\n', "snap.jsonl:2: 'run_count'"),
        ('{"query": {"query_text": "x -- Hex query metadata: {}"}}\n', None),
    ],
)
def test_malformed_v2_lines_name_the_file_and_line(tmp_path, body, needle) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "snap.jsonl"
    path.write_text(HEADER + "\n" + body)
    if needle is None:  # the control case: a well-formed line loads
        assert len(snapshot.load(str(path)).queries) == 1
        return
    with pytest.raises(SnapshotError) as err:
        snapshot.load(str(path))
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_invalid_utf8_in_a_v2_line_is_refused_with_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "snap.jsonl"
    path.write_bytes(HEADER.encode() + b'\n{"query": {"query_text": "\xff"}}\n')
    with pytest.raises(SnapshotError, match=r"snap.jsonl:2: invalid JSON"):
        snapshot.load(str(path))


def test_a_v2_header_with_a_bad_field_names_line_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "snap.jsonl"
    path.write_text(
        json.dumps({"format": "hex-exposures-snapshot", "version": 2, "warehouse": "x"})
    )
    with pytest.raises(SnapshotError, match=r"snap.jsonl:1: field 'warehouse'"):
        snapshot.load(str(path))


@pytest.mark.parametrize("version", [1, 2])
def test_a_text_whose_comment_is_not_its_last_line_is_not_read(tmp_path, version) -> None:  # type: ignore[no-untyped-def]
    """Issue 17: the live filters' rule applies to saved history too (older snapshots)."""
    texts = {
        "hex": "select 1" + COMMENT,
        "trailing blanks and a semicolon": "select 1;" + COMMENT + "\n  \r\n",
        "pasted and extended": "select 1" + COMMENT + "\nunion all select 2",
        "no comment": "select 1",
        "table evidence only": "",
    }
    queries = [{**QUERY, "query_text": t} for t in texts.values()]
    path = tmp_path / "snap.json"
    if version == 1:
        path.write_text(json.dumps(_v1([PROJECT], queries)))
    else:
        text = snapshot.dumps(
            [HexProject.from_api(PROJECT)],
            [snapshot._query(q, "q") for q in queries],
            warehouse="snowflake",
            workspace=None,
            hex_url="https://h",
            captured_at="c",
        )
        path.write_text(text)
    read = {q.query_text for q in snapshot.load(str(path)).queries}
    assert read == {texts["hex"], texts["trailing blanks and a semicolon"], ""}


def test_the_warehouse_user_and_the_captures_users_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 17: records carry who ran them (optional: older files read as unknown)."""
    p = HexProject.from_api(PROJECT)
    qs = [
        HexQuery(p.id, "select 1" + COMMENT, warehouse_user="HEX_SERVICE"),
        HexQuery(p.id, "select 1" + COMMENT, warehouse_user="MALLORY"),
        HexQuery(p.id, "select 2" + COMMENT),
    ]
    text = snapshot.dumps(
        [p], qs, warehouse="snowflake", workspace=None, hex_url="https://h", captured_at="c",
        hex_users=["HEX_SERVICE"],
    )  # fmt: skip
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["hex_users"] == ["HEX_SERVICE"]
    assert [x["query"].get("warehouse_user") for x in lines[2:]] == [
        "HEX_SERVICE",
        "MALLORY",
        None,
    ]
    path = tmp_path / "s.jsonl"
    path.write_text(text)
    snap = snapshot.load(str(path))
    assert sorted(snap.queries) == sorted(qs) and snap.hex_users == ("HEX_SERVICE",)
    only = snapshot.for_users(snap, ["hex_service"], path="s", warehouse="snowflake")
    assert [q.warehouse_user for q in only.queries] == ["HEX_SERVICE"]
    bad = text.replace('"hex_users":["HEX_SERVICE"]', '"hex_users":"HEX_SERVICE"')
    path.write_text(bad)
    with pytest.raises(SnapshotError, match="'hex_users' must be a list of strings"):
        snapshot.load(str(path))
