from __future__ import annotations

import json

import pytest

from hex_exposures import hex_comment

PID = "d73da67d-c87b-4dd8-9e7f-b79cb7f822cf"


def _comment(**extra: object) -> str:
    data = {
        "categories": ["Scratchpad"],
        "cell_type": "SQL",
        "connection": "Long Tail Companions",
        "context": "SCHEDULED_RUN",
        "project_id": PID,
        "project_name": "PlayNotebook",
        "project_url": f"https://app.hex.tech/acme/hex/{PID}/draft/logic?selectedCellId=abc",
        "status": "In development",
        "trace_id": "0" * 32,
        "user_email": "jane@acme.com",
    }
    data.update(extra)
    return "-- Hex query metadata: " + json.dumps(data, sort_keys=True)


def test_last_line_comment_is_parsed_and_stripped() -> None:
    text = 'select *\nfrom "DB"."S"."T"\nlimit 100\n' + _comment()
    c = hex_comment.parse(text)
    assert c is not None
    assert (c.project_id, c.context, c.workspace, c.user_email) == (
        PID,
        "SCHEDULED_RUN",
        "acme",
        "jane@acme.com",
    )
    assert hex_comment.strip(text) == 'select *\nfrom "DB"."S"."T"\nlimit 100'


def test_braces_and_quotes_in_values_do_not_break_decoding() -> None:
    text = "select 1\n" + _comment(project_name='Rev {Q1} "draft" }}', categories=["a}b"])
    c = hex_comment.parse(text)
    assert c is not None and c.project_id == PID


def test_comment_at_the_start_is_accepted_but_left_in_the_sql() -> None:
    text = _comment() + "\nselect 1"
    c = hex_comment.parse(text)
    assert c is not None and c.project_id == PID
    assert hex_comment.strip(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "select 1",
        "select 1\n-- Hex query metadata: {not json",
        "select 1\n-- Hex query metadata: [1, 2]",
        "select 1\n-- Hex query metadata: ",
        "select 1\n-- Hex query metadata: x {}",
    ],
)
def test_missing_or_malformed_comments_give_none(text: str) -> None:
    assert hex_comment.parse(text) is None


def test_a_later_malformed_marker_falls_back_to_an_earlier_good_one() -> None:
    text = "select 1\n" + _comment() + "\n-- Hex query metadata: {broken"
    c = hex_comment.parse(text)
    assert c is not None and c.project_id == PID


@pytest.mark.parametrize(
    ("url", "workspace"),
    [
        ("https://app.hex.tech/acme/hex/x/draft/logic", "acme"),
        ("https://acme.hex.tech/ws-uuid/app/Title-abc/latest", "ws-uuid"),
        ("https://app.hex.tech/hex/x", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_workspace_from_url(url: str | None, workspace: str | None) -> None:
    assert hex_comment.workspace_from_url(url) == workspace
