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


def test_dump_then_load_round_trips_records() -> None:
    p = HexProject.from_api(PROJECT)
    q = HexQuery(
        p.id, "select 1", "DB", "S", 3, "2026-11-01T00:00:00Z", ("DB.S.T",), ("`p`.`d`.`t`",)
    )
    text = snapshot.dumps(
        [p],
        [q],
        warehouse="snowflake",
        workspace="acme",
        hex_url="https://app.hex.tech",
        captured_at="now",
    )
    snap = snapshot.parse(json.loads(text), path="s.json")
    assert snap.projects == (p,) and snap.queries == (q,)
    assert snap.projects[0].trashed and snap.projects[0].status is None
    assert (snap.warehouse, snap.workspace) == ("snowflake", "acme")


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"format": "other"}, "not a hex-exposures snapshot"),
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
