"""The ``-- Hex query metadata: {...}`` comment Hex appends to every SQL cell's query.

Observed as the last line, one JSON object with sorted keys; we accept it anywhere and
decode the JSON with a real decoder, because values (project names) may contain braces and
quotes that defeat the slice-to-first-``}`` and regex approaches other tools use.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

MARKER = "Hex query metadata:"
_DECODER = json.JSONDecoder()


class HexComment(NamedTuple):
    project_id: str | None
    project_url: str | None
    workspace: str | None  # the URL path segment before /hex/ or /app/
    context: str | None  # SCHEDULED_RUN, APP_VIEW, LOGIC_VIEW, ...
    user_email: str | None
    start: int  # offset of the comment's "--" in the text, so it can be stripped


def parse(text: str) -> HexComment | None:
    """The last well-formed Hex comment in `text`; None when there is none or it is malformed."""
    end = len(text)
    while True:
        at = text.rfind(MARKER, 0, end)
        if at < 0:
            return None
        found = _decode_at(text, at)
        if found is not None:
            return found
        end = at


def _decode_at(text: str, at: int) -> HexComment | None:
    brace = text.find("{", at + len(MARKER))
    if brace < 0 or text[at + len(MARKER) : brace].strip():
        return None
    try:
        data, end = _DECODER.raw_decode(text, brace)
    except (ValueError, RecursionError):  # RecursionError: JSON nested ~1,000 deep
        return None
    line_end = text.find("\n", end)
    if not isinstance(data, dict) or text[end : line_end if line_end >= 0 else None].strip():
        return None  # not an object, or this marker sits inside a string of a later comment
    dash = text.rfind("--", 0, at)
    start = dash if dash >= 0 and not text[dash + 2 : at].strip() else at
    url = _str(data, "project_url")
    return HexComment(
        project_id=_str(data, "project_id"),
        project_url=url,
        workspace=workspace_from_url(url),
        context=_str(data, "context"),
        user_email=_str(data, "user_email"),
        start=start,
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
    """`text` without the Hex comment line, so the parser and its cache see only the SQL.

    Only a comment on the last line is cut; one elsewhere is left for the SQL parser, which
    treats it as an ordinary comment.
    """
    comment = comment if comment is not None else parse(text)
    if comment is None:
        return text
    newline = text.find("\n", comment.start)
    if newline >= 0 and text[newline:].strip():
        return text
    return text[: comment.start].rstrip()
