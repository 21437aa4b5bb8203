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


def test_a_later_malformed_marker_on_another_line_is_not_hex() -> None:
    text = "select 1\n" + _comment() + "\n-- Hex query metadata: {broken"
    assert hex_comment.parse(text) is None


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


# --- only the last line is Hex's comment (issue 17) ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "select 1;\n" + _comment() + "\n  ",
        "select 1\n" + _comment() + "\n\n\t\n",
        "select 1\r\n" + _comment() + "\r\n",
        "select 1; " + _comment(),
        "select 1\n   " + _comment(),
        "select 1\n--" + _comment().removeprefix("-- "),
        "select 1\n" + _comment(project_name="-- Hex query metadata: {}"),
        'select \'-- Hex query metadata: {"project_id": "x"}\'\n' + _comment(),
        _comment(project_id="early") + "\nselect 1\n" + _comment(),
    ],
)
def test_a_last_line_comment_counts(text: str) -> None:
    c = hex_comment.parse(text)
    assert c is not None and c.project_id == PID
    assert hex_comment.on_last_line(text)
    assert not hex_comment.strip(text, c).rstrip().endswith("}")


@pytest.mark.parametrize(
    "text",
    [
        _comment() + "\nselect 1",
        "select 1\n" + _comment() + "\nunion all select 2",
        "select 1\n" + _comment() + "\n;",
        "select 1\n" + _comment() + "\n-- a person's note",
        "select 1\n" + _comment() + " and more",
        "select 1\r\n" + _comment() + "\r\nselect 2\r\n",
        "select '" + _comment() + "'",
        "select 1 /* " + _comment() + " */",
        "select 1\n" + _comment().replace("-- ", "# "),
        "select 1\n-- Hex query metadata:\n" + _comment().removeprefix("-- Hex query metadata: "),
        "select 1\n-- Hex query metadata: {\n" + '"project_id": "' + PID + '"}',
    ],
)
def test_a_comment_followed_by_more_or_not_a_line_comment_is_not_hex(text: str) -> None:
    assert hex_comment.parse(text) is None
    assert hex_comment.strip(text) == text


def test_an_earlier_comment_does_not_count_when_the_last_line_is_sql() -> None:
    text = "select 1\n" + _comment() + "\n" + "select 2"
    assert not hex_comment.on_last_line(text)


def test_the_last_line_comment_wins_over_an_earlier_one() -> None:
    other = "00000000-0000-4000-8000-000000000000"
    text = _comment(project_id=other) + "\nselect 1\n" + _comment()
    c = hex_comment.parse(text)
    assert c is not None and c.project_id == PID
    assert hex_comment.strip(text, c) == _comment(project_id=other) + "\nselect 1"


def test_the_regex_and_the_parser_agree_on_shape() -> None:
    """on_last_line is the SQL filters' test: a superset of what parse accepts."""
    good = "select 1\n" + _comment()
    assert hex_comment.LAST_LINE_RE.search(good)
    assert hex_comment.on_last_line("select 1\n-- Hex query metadata: {broken}")
    assert hex_comment.parse("select 1\n-- Hex query metadata: {broken}") is None
