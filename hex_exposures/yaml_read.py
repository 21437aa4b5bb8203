"""Read the exposures file as dbt does (PyYAML), keeping plain data and offsets. Pure.

    parse(text, path) -> Doc    data, each exposure's dash and content end, the file's style

Cached: a sync reads the same text three times (names, managed entries, merge).
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from typing import Any, NamedTuple

import yaml

from hex_exposures.bulk import gc_paused
from hex_exposures.errors import ExposuresFileError
from hex_exposures.yaml_edit import dash_between
from hex_exposures.yaml_plan import marker
from hex_exposures.yaml_spans import Loader, content_end, line_after, newline, style
from hex_exposures.yaml_text import Style


class Item(NamedTuple):
    data: dict[str, Any]  # as dbt's YAML reader sees it
    project_id: str | None  # set when the tool manages it
    dash: int  # its `-`
    end: int  # end of its content
    commented: bool  # a comment inside it


class Doc(NamedTuple):
    text: str  # without a byte order mark
    data: Any
    flow: bool  # the top mapping or a non-empty `exposures:` list is in flow style
    key_end: int | None  # end of the `exposures` key
    items: list[Item]
    style: Style


@functools.lru_cache(maxsize=2)
def parse(text: str, path: str) -> Doc:
    """Read the file as dbt does; keep only plain data and offsets."""
    loader = Loader(text)
    nl = newline(text)
    try:
        with gc_paused():  # a big file is a million small objects: ~3x faster
            root = loader.get_single_node()
            pairs = []
            if isinstance(root, yaml.MappingNode):
                pairs = [(k, v) for k, v in root.value if getattr(k, "value", None) == "exposures"]
            seq = pairs[0][1] if pairs else None
            bounds = _bounds(seq, text, path) if isinstance(seq, yaml.SequenceNode) else []
            file_style = (
                style(seq, pairs[0][0].start_mark.column, text, nl) if pairs else Style(nl=nl)
            )
            # Before construction: it rewrites mappings that use `<<:` merge keys in place.
            data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise ExposuresFileError(f"{path}: not valid YAML: {describe(exc)}") from exc
    finally:
        loader.dispose()
    if data is None:
        return Doc(text, None, False, None, [], Style(nl=nl))
    if not isinstance(data, dict):
        raise ExposuresFileError(f"{path}: the top level is not a mapping of keys")
    if len(pairs) > 1:
        raise ExposuresFileError(f"{path}: `exposures:` appears more than once")
    key_end = pairs[0][0].end_mark.index if pairs else None
    values = data.get("exposures")
    if values is None:
        return Doc(text, data, bool(root.flow_style), key_end, [], file_style)
    if not isinstance(values, list) or not isinstance(seq, yaml.SequenceNode):
        raise ExposuresFileError(f"{path}: `exposures:` is not a list")
    items: list[Item] = []
    owners: dict[str, Item] = {}
    names: dict[str, Item] = {}
    for n, (value, (dash, end, commented)) in enumerate(zip(values, bounds, strict=True), start=1):
        if not isinstance(value, dict):
            raise ExposuresFileError(f"{path}: exposure {n} under `exposures:` is not a mapping")
        found = marker(value, "config")
        pid = str(found[0]["project_id"]) if found else None
        item = Item(value, pid, dash, end, commented)
        if pid is not None and pid in owners:
            raise ExposuresFileError(
                f"{path}: exposures {owners[pid].data.get('name')!r} and {value.get('name')!r} "
                f"are both managed for Hex project {pid}; delete one of them"
            )
        name = value.get("name")
        if pid is not None and isinstance(name, str) and name in names:
            other = names[name]
            raise ExposuresFileError(
                f"{path}: the managed exposures of Hex projects {other.project_id} (line "
                f"{line(text, other.dash)}) and {pid} (line {line(text, dash)}) are both "
                f"named {name!r}; rename one of them"
            )
        if pid is not None:
            owners[pid] = item
            if isinstance(name, str):
                names[name] = item
        items.append(item)
    return Doc(
        text, data, bool(root.flow_style or (items and seq.flow_style)), key_end, items, file_style
    )


def _bounds(seq: Any, text: str, path: str) -> list[tuple[int, int, bool]]:
    """Each item's dash, content end, and whether a comment sits inside it."""
    out = []
    prev_end = None
    for n, node in enumerate(seq.value, start=1):
        start = node.start_mark.index
        dash = seq.start_mark.index if prev_end is None else dash_between(text, prev_end, start)
        if seq.flow_style:
            dash = start
        elif text[dash : dash + 1] != "-":
            raise ExposuresFileError(f"{path}: cannot find where exposure {n} starts")
        end = content_end(node, text, set())
        stop = line_after(text, end)
        commented = "#" in text[dash:stop] and _has_comment(node, text, dash, stop)
        out.append((dash, end, commented))
        prev_end = end
    return out


def _has_comment(node: Any, text: str, start: int, stop: int) -> bool:
    """Is there a `#` comment between `start` and `stop`, outside every scalar's text?"""
    spans: list[tuple[int, int]] = []
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.ScalarNode):
            spans.append((n.start_mark.index, n.end_mark.index))
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
        else:
            stack += [c for kv in n.value for c in kv]
    spans.sort()
    starts = [s for s, _ in spans]
    pos = text.find("#", start, stop)
    while pos >= 0:
        k = bisect_right(starts, pos) - 1
        inside = k >= 0 and spans[k][0] < pos < spans[k][1]
        if not inside and (pos == start or text[pos - 1] in " \t\r\n"):
            return True
        pos = text.find("#", pos + 1, stop)
    return False


def line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def describe(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"
