"""The ``-- Hex query metadata: {...}`` comment Hex appends to every SQL cell's query.

Hex appends it as the last line (hex-api.md §5), so that is the only place it counts
(SPEC "Resolving"): its JSON object must end the text but for blanks, and its ``--``, the
marker and the ``{`` share one line. More SQL after it (a Hex query pasted into a worksheet
and extended) makes the text not Hex's. Whatever precedes the ``--`` on that line does not
matter: ``select 1;`` then the comment, on one line or two, counts. The warehouse filters
(sources/snowflake.py, sources/bigquery.py) apply `LAST_LINE_RE`'s rule in SQL. The JSON
is read with a real decoder: values (project names) may hold braces and quotes that defeat
slice-to-first-``}`` approaches.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

MARKER = "Hex query metadata:"
BLANK = " \t\r\n\f"
"""What may follow the comment: RE2's ``\\s`` (BigQuery's regex engine, and DuckDB's)."""
LAST_LINE_RE = re.compile(r"--[ \t]*Hex query metadata:[ \t]*\{[^\n]*\}[ \t\r\n\f]*\Z")
"""The rule as a regex (the SQL filters' shape); `parse` also decodes the JSON object."""
_DECODER = json.JSONDecoder()


class HexComment(NamedTuple):
    project_id: str | None
    project_url: str | None
    workspace: str | None  # the URL path segment before /hex/ or /app/
    context: str | None  # SCHEDULED_RUN, APP_VIEW, LOGIC_VIEW, ...
    user_email: str | None
    start: int  # offset of the comment's "--" in the text, so it can be stripped


def parse(text: str) -> HexComment | None:
    """Hex's comment when it is the last non-blank content of `text`; else None.

    Markers are tried from the last one back, within the last non-blank line only: a later
    marker may sit inside a JSON value of the real comment (a project named after it).
    """
    content_end = end = len(text.rstrip(BLANK))
    line_start = text.rfind("\n", 0, end) + 1
    while True:
        at = text.rfind(MARKER, line_start, end)
        if at < 0:
            return None
        found = _decode_at(text, at, content_end)
        if found is not None:
            return found
        end = at


def on_last_line(text: str) -> bool:
    """Does a comment of Hex's shape end `text`? The warehouse filters' test (no JSON
    decoding), for records read from a snapshot; the regex starts at the last line."""
    end = len(text.rstrip(BLANK))
    return LAST_LINE_RE.search(text, text.rfind("\n", 0, end) + 1) is not None


def _decode_at(text: str, at: int, content_end: int) -> HexComment | None:
    dash = text.rfind("--", 0, at)
    if dash < 0 or text[dash + 2 : at].strip(" \t"):
        return None  # not a `--` comment: the marker is in a string or a block comment
    brace = text.find("{", at + len(MARKER))
    if brace < 0 or text[at + len(MARKER) : brace].strip(" \t"):
        return None
    try:
        data, end = _DECODER.raw_decode(text, brace)
    except (ValueError, RecursionError):  # RecursionError: JSON nested ~1,000 deep
        return None
    if end != content_end or not isinstance(data, dict) or "\n" in text[brace:end]:
        return None  # more follows it, not an object, or spread over lines
    url = _str(data, "project_url")
    return HexComment(
        project_id=_str(data, "project_id"),
        project_url=url,
        workspace=workspace_from_url(url),
        context=_str(data, "context"),
        user_email=_str(data, "user_email"),
        start=dash,
    )


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def workspace_from_url(url: str | None) -> str | None:
    """``https://app.hex.tech/<workspace>/hex/<id>/...`` -> ``<workspace>`` (also ``/app/``).

    Plain string slicing: every query carries its own URL, and `urlsplit` on 200K of them
    cost ~5 s at SPEC's scale.
    """
    if not url:
        return None
    rest = url.split("://", 1)[1] if "://" in url else url
    path = rest.split("?", 1)[0].split("#", 1)[0]
    parts = [p for p in path.split("/")[1:4] if p]
    if len(parts) >= 2 and parts[1] in ("hex", "app"):
        return parts[0]
    return None


def strip(text: str, comment: HexComment | None = None) -> str:
    """`text` without the Hex comment, so the parser and its cache see only the SQL."""
    comment = comment if comment is not None else parse(text)
    if comment is None:
        return text
    return text[: comment.start].rstrip()
