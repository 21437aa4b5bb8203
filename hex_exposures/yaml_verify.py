"""The read-back guard: the merged text must read, as dbt reads it, as what was meant. Pure.

    apply(text, edits, path) -> (result, copied)   the edits applied, and which bytes were copied
    verify(result, copied, exposures, before, dash=, layout=, path=)   raises on a difference

A merge bug must never reach the disk, but reading a 94 MB result back whole with PyYAML
costs more than writing it (41 s and +3.2 GiB at 18,582 exposures). So the guard proves the
result from its parts, at a cost that follows what the tool changed (`_proof`):

1. chunks: the `exposures:` items of the result, cut at the lines with a `-` in the list's
   dash column, each up to the next (its blank and comment lines with it);
2. skeleton: the result with each chunk replaced by a one-line placeholder reads (PyYAML)
   as before outside the list, and as the placeholders 0..n-1 in it: the chunks are the
   list's items, in order;
3. an item whose lines were copied byte for byte, followed only by blank or comment lines,
   reads as it did (same bytes, same column; no anchor was added or removed anywhere an
   edit went, so no alias in it reads otherwise): its data is the one read before;
4. every other chunk is read alone: in the writer's line shapes by `yaml_lines.read_item`
   (each distinct value text read by PyYAML once), else by PyYAML;
5. every managed exposure reads as meant, every person's value as before, unmanaged
   exposures as before and in order (`yaml_compare.problem`).
What the proof cannot settle (an anchor near an edit, a chunk cut inside a quoted scalar, a
value that reads wrong) goes to reading the whole result back (`verify_whole`), which
raises with what differs. The proof only decides when the whole read may be skipped.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import yaml

from hex_exposures.bulk import gc_paused
from hex_exposures.errors import ExposuresFileError
from hex_exposures.records import Exposure, MetaLayout
from hex_exposures.yaml_compare import problem as differs
from hex_exposures.yaml_edit import Edit
from hex_exposures.yaml_lines import read_item, surely_uncommented
from hex_exposures.yaml_plan import (
    marker,
)
from hex_exposures.yaml_read import Doc, Item
from hex_exposures.yaml_read import parse as _parse
from hex_exposures.yaml_spans import Loader, line_after, line_start


class Copied(NamedTuple):
    """Bytes `src`..`stop` of the text edited, now at `dst` in the result."""

    src: int
    stop: int
    dst: int


def bug(path: str, problem: str) -> ExposuresFileError:
    return ExposuresFileError(
        f"{path}: internal error, the merged file would not be read as intended: {problem}; "
        "nothing was written, please report this"
    )


def apply(text: str, edits: Sequence[Edit], path: str) -> tuple[str, list[Copied]]:
    """Apply the edits; an insertion that falls inside a removal (a new exposure after one
    that goes with the blank lines below it) goes where the removal ends, and two removals
    may share blank lines. Any other overlap is a bug."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end, e.order))
    out: list[str] = []
    copied: list[Copied] = []
    pos = size = 0
    removing = False  # the last edit removed text only: another removal may overlap it
    for e in ordered:
        start = e.start
        if start < pos:
            if e.start != e.end and not (removing and not e.text):
                raise bug(path, f"two edits overlap at offset {e.start}")
            start = pos
        removing = not e.text
        if start > pos:
            copied.append(Copied(pos, start, size))
            out.append(text[pos:start])
            size += start - pos
        out.append(e.text)
        size += len(e.text)
        pos = max(start, e.end)
    if pos < len(text):
        copied.append(Copied(pos, len(text), size))
        out.append(text[pos:])
    return "".join(out), copied


def verify(
    result: str,
    copied: Sequence[Copied],
    exposures: Sequence[Exposure],
    before: Doc,
    *,
    dash: int,
    layout: MetaLayout,
    path: str,
) -> None:
    """Raise when `result` would not read as `exposures` merged into `before` (module doc)."""
    with gc_paused():  # ~100,000 small values and tokens: the collector would walk them all
        proven = _proof(result, copied, exposures, before, dash, layout)
    if not proven:
        verify_whole(result, exposures, before, layout, path)


def verify_whole(
    result: str, exposures: Sequence[Exposure], before: Doc, layout: MetaLayout, path: str
) -> None:
    """Read the whole result as dbt will and compare it with what was meant."""
    try:
        after = _parse(result, path)
    except ExposuresFileError as exc:
        raise bug(path, str(exc)) from exc
    problem = differs([(i.project_id, i.data) for i in after.items], exposures, before, layout)
    if (
        problem is None
        and isinstance(before.data, dict)
        and _others(before.data) != _others(after.data)
    ):
        problem = "a top-level key other than `exposures` changed"
    if problem is not None:
        raise bug(path, problem)


# --- the proof (steps 1-4) ------------------------------------------------------------------

_KEY = re.compile(r"^( *)exposures[ \t]*:", re.M)
_BLANK = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*(?:#[^\n]*)?")
# An anchor's `&name`, loosely (a `&` inside a quoted text counts too: the whole read decides).
_ANCHOR = re.compile(r"(?:^|[\s\[\]{},])&[^\s\[\]{},]", re.M)


def _proof(
    result: str,
    copied: Sequence[Copied],
    exposures: Sequence[Exposure],
    before: Doc,
    dash: int,
    layout: MetaLayout,
) -> bool:
    """True when the result is proven to read as meant without reading it whole."""
    text = before.text
    gaps = zip([0, *(c.stop for c in copied)], [*(c.src for c in copied), len(text)], strict=True)
    if any(
        text.find("&", a, b) >= 0 and _ANCHOR.search(text, max(a - 1, 0), b)
        for a, b in gaps
        if a < b
    ):
        return False  # an anchor went or changed: an alias elsewhere may read otherwise
    cut = _chunks(result, dash)
    if cut is None:
        return False
    starts, list_end = cut
    kept = _kept(before, copied)
    items: list[Item] = []
    memo: dict[str, Any] = {}
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else list_end
        if start in kept:
            k, length = kept[start]
            if start + length > stop or not _BLANK.fullmatch(result, start + length, stop):
                return False
            items.append(before.items[k]._replace(dash=start + dash, end=stop))
            continue
        chunk = result[start:stop]
        if "&" in chunk and _ANCHOR.search(chunk):
            return False
        data = read_item(chunk, dash, memo)
        sure = data is not None and surely_uncommented(chunk, memo)
        if data is None:
            data = _read_alone(chunk)
        if data is None:
            return False
        found = marker(data, "config")
        pid = str(found[0]["project_id"]) if found else None
        commented = "#" in chunk and not sure and _commented(chunk)
        items.append(Item(data, pid, start + dash, stop, commented))
    nl = "\r\n" if "\r\n" in result[: starts[0]] else "\n"
    skeleton = (
        "".join(
            (result[: starts[0]], *(f"{' ' * dash}- {n}{nl}" for n in range(len(starts)))),
        )
        + result[list_end:]
    )
    data = _read(skeleton)
    if not isinstance(data, dict) or not _placeholders(data.get("exposures"), len(starts)):
        return False
    if isinstance(before.data, dict) and _others(before.data) != _others(data):
        return False
    if differs([(i.project_id, i.data) for i in items], exposures, before, layout) is not None:
        return False
    _READ[:] = [(result, items)]
    return True


_READ: list[tuple[str, list[Item]]] = []  # the last result proven and its items as read


def items_of(text: str) -> list[Item] | None:
    """The items of `text` when it is the last result proven (`dash`, `end`: where they sit
    in it, `end` up to the next item), so the names and managed entries of a file just
    written are not read again; else None."""
    return _READ[0][1] if _READ and _READ[0][0] == text else None


def _commented(chunk: str) -> bool:
    """A comment inside the item, as `yaml_read` tells it (not cached: one small item)."""
    try:
        return _parse.__wrapped__("exposures:\n" + chunk, "").items[0].commented
    except ExposuresFileError:
        return True


def _chunks(result: str, dash: int) -> tuple[list[int], int] | None:
    """Where each item of the `exposures:` list starts, and where the list ends."""
    key = _KEY.search(result)
    if key is None:
        return None
    column = len(key.group(1))
    begin = line_after(result, key.end())
    # the first line at the key's column or left of it that holds content (not a dash of
    # an indentless list, not a comment); searched from the line break before each line,
    # a literal first character, which `re` finds fast (89 MB: 0.2 s, not 1.1 s with `^`)
    end = re.compile(rf"\n {{0,{column}}}(?:[^\s#-]|-[^ \r\n])").search(result, begin - 1)
    list_end = end.start() + 1 if end else len(result)
    item = re.compile(rf"\n {{{dash}}}-(?=[ \n]|\r\n|\r?\Z)")
    starts = [m.start() + 1 for m in item.finditer(result, begin - 1, list_end)]
    return (starts, list_end) if starts else None


def _kept(before: Doc, copied: Sequence[Copied]) -> dict[int, tuple[int, int]]:
    """The items of `before` whose lines were copied whole: where they start in the result
    -> (their index, their length)."""
    out = {}
    srcs = [c.src for c in copied]
    for k, item in enumerate(before.items):
        a, b = line_start(before.text, item.dash), line_after(before.text, item.end)
        n = bisect_right(srcs, a) - 1
        if n >= 0 and copied[n].src <= a and b <= copied[n].stop:
            out[copied[n].dst + a - copied[n].src] = (k, b - a)
    return out


def _read(text: str) -> Any:
    loader = Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError:
        return _FAILED
    finally:
        loader.dispose()


_FAILED = object()


def _read_alone(chunk: str) -> dict[str, Any] | None:
    data = _read(chunk)
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        return data[0]
    return None


def _placeholders(value: Any, n: int) -> bool:
    return (
        isinstance(value, list) and all(type(v) is int for v in value) and value == list(range(n))
    )


def _others(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "exposures"}
