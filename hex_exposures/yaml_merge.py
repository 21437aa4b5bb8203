"""Merge the managed exposures into the exposures file's text by editing values and lines.

Nothing a person wrote is parsed and written again: the result is the file's own text with a
list of (start, end, new text) edits applied. Read top to bottom, `merge` does:

1. read: PyYAML (dbt's reader) gives the data; its composer's marks give each exposure's
   lines (`yaml_read.parse`, cached: a sync reads the same text three times);
2. plan: for each managed exposure, from the data alone, which tool-owned paths read
   otherwise than wanted (`yaml_plan`); exposures whose project is not wanted go, unless...
   they never go for a live project: the pipeline keeps those with a person's additions;
3. locate: only when something changes, compose again and turn the changed exposures into
   spans (`yaml_spans`);
4. edit: the changed values' spans, the lines of keys and items that come and go
   (`yaml_edit`), whole exposures removed or added (new ones in the file's own indentation,
   line ending and separator, sorted by name among the managed ones, which keep their order);
5. anchors (`yaml_alias`): an alias an edit would go through, or that reads a value an edit
   changes, is first written out in the same exposure (the anchored value's own bytes, in
   the file's indentation), and the merge runs on that text; an anchor whose value must
   change and that another exposure aliases is refused (the file's line and column);
6. apply the edits and check that the result reads, as PyYAML reads it, with every tool
   field as meant and every person's value as before; any difference raises instead of
   writing (`yaml_verify`: the items the edits did not touch are not read again).

Comment lines belong to the line below them: when that line goes, they stay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hex_exposures.errors import ExposuresFileError
from hex_exposures.records import Exposure, MetaLayout
from hex_exposures.yaml_alias import Site, reached, sites, uses_to_write_out, written_out
from hex_exposures.yaml_edit import Edit, exposure_edits
from hex_exposures.yaml_plan import (
    BASE,
    MARKER,
    ORDER,
    Op,
    get,
    keep_entries,
    marker,
    pinned,
    plain_data,
    plan,
    target,
    unknown_keep,
)
from hex_exposures.yaml_read import Doc, Item
from hex_exposures.yaml_read import parse as _parse
from hex_exposures.yaml_spans import (
    compose,
    find_aliases,
    line_after,
    line_start,
    tree,
)
from hex_exposures.yaml_text import Style, entry, lines_text
from hex_exposures.yaml_verify import apply, bug, items_of, verify, verify_whole


def header(layout: MetaLayout = "config") -> str:
    """The comment on top of a new exposures file, naming the marker where `layout` puts it."""
    at = ".".join((*BASE[layout], *MARKER))
    return (
        "# Managed by hex-exposures (`hex-exposures sync`). In exposures marked\n"
        f"# `{at}.managed: true` a sync rewrites only the values the tool fills;\n"
        "# everything else in this file, comments and your own keys included, is left as it is.\n"
        "# To pin a value the tool fills, list its path under the exposure's\n"
        f"# `{at}.keep`, e.g. [description, owner.name].\n"
        "\n"
    )


def _header_moves(doc: Doc, layout: MetaLayout) -> list[Edit]:
    """The tool's own header, word for word, names the marker where the layout now puts it."""
    other = header("top" if layout == "config" else "config").replace("\n", doc.style.nl)
    if doc.text.startswith(other):
        return [Edit(0, len(other), header(layout).replace("\n", doc.style.nl))]
    return []


class ManagedEntry(NamedTuple):
    """A managed exposure as the file has it, for names and kept dependencies."""

    name: str
    project_id: str
    depends_on: tuple[str, ...]
    keep: tuple[str, ...]
    # meta.referenced_columns as the file has it: a project that did not run keeps them too
    referenced_columns: tuple[Mapping[str, Any], ...] = ()
    personal: bool = False  # a person added keys, `keep` or comments: never deleted while live


def read_managed(
    text: str | None, *, path: str, layout: MetaLayout = "config"
) -> dict[str, ManagedEntry]:
    """The managed exposures in the file, by Hex project id (the marker in either layout)."""
    out: dict[str, ManagedEntry] = {}
    for item in read_items(text, path):
        if item.project_id is None:
            continue
        deps = item.data.get("depends_on")
        out[item.project_id] = ManagedEntry(
            name=str(item.data.get("name", "")),
            project_id=item.project_id,
            depends_on=tuple(d for d in deps if isinstance(d, str))
            if isinstance(deps, list)
            else (),
            keep=keep_entries(item.data, layout),
            referenced_columns=_referenced_columns(item.data),
            personal=_personal(item, layout),
        )
    return out


def read_items(text: str | None, path: str) -> list[Item]:
    """The file's exposures as read: from the merge's own proof when it just wrote `text`."""
    text = (text or "").removeprefix("\ufeff")
    known = items_of(text)
    return known if known is not None else _parse(text, path).items


def _referenced_columns(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    for at in (("config", "meta"), ("meta",)):
        value = get(data, (*at, "referenced_columns"))
        if isinstance(value, list):
            return tuple(c for c in value if isinstance(c, Mapping))
    return ()


def exposure_names(text: str | None, *, path: str) -> set[str]:
    """Every exposure name in the file, managed or not."""
    return {str(i.data["name"]) for i in read_items(text, path) if "name" in i.data}


def unmanaged_names(text: str | None, *, path: str) -> set[str]:
    """The names of the exposures in the file that the tool does not manage."""
    items = read_items(text, path)
    return {str(i.data["name"]) for i in items if "name" in i.data and i.project_id is None}


def keep_warnings(text: str | None, *, path: str, layout: MetaLayout = "config") -> list[str]:
    """One line per `keep` entry that names no field the tool fills (it pins nothing)."""
    out = []
    for item in read_items(text, path):
        if item.project_id is not None:
            for bad in unknown_keep(item.data, layout):
                out.append(
                    f"{path}: exposure {item.data.get('name')!r}: keep entry {bad!r} names no "
                    "field the tool fills (dotted paths such as description, owner.name, "
                    "config.meta.hex.status); it pins nothing"
                )
    return out


def merge(
    text: str | None,
    exposures: Sequence[Exposure],
    *,
    path: str,
    layout: MetaLayout = "config",
) -> str:
    """The file's text with its managed exposures made to say `exposures` (see module doc).

    `layout`: where tags and meta go, "config" (dbt >= 1.10) or "top" (dbt 1.8/1.9)."""
    wanted = _by_project(exposures, path)
    bom = "\ufeff" if text and text.startswith("\ufeff") else ""
    doc = _parse((text or "")[len(bom) :], path)
    if doc.flow:
        raise ExposuresFileError(
            f"{path}: the file or its `exposures:` list is written in flow style ({{...}} or "
            "[...]); write it in block style so it can be merged"
        )
    plans = _plans(doc, wanted, layout)
    in_file = {i.project_id for i in doc.items}
    fresh = [e for e in exposures if e.project_id not in in_file]
    if not fresh and all(p is not None and not p for p in plans):
        return bom + doc.text
    work = doc
    for _ in range(_ROUNDS):
        edits, first = _edits(work, plans, path)
        if not first:
            break
        try:  # aliases written out first (`yaml_alias`): the same data, other offsets
            work = _parse(apply(work.text, first, path)[0], path)
        except ExposuresFileError as exc:
            raise bug(path, str(exc)) from exc
    else:
        raise bug(path, "aliases written out still reach the values to edit")
    if work.items and all(p is None for p in plans) and not fresh:
        edits.append(Edit(*_after_colon(work, path), " []"))  # the list is left empty
    edits += _additions(work, plans, wanted, fresh, layout, path)
    edits += _header_moves(work, layout)
    result, copied = apply(work.text, edits, path)
    if result != doc.text and work is doc:
        verify(result, copied, exposures, doc, dash=_dash_column(doc), layout=layout, path=path)
    elif result != doc.text:  # aliases were written out: the offsets are another text's
        verify_whole(result, exposures, doc, layout, path)
    return bom + result


_ROUNDS = 8  # an alias written out may hold aliases of values the tool changes too


_TOOL_TOP = set(ORDER[""])
_TOOL_IN = {"owner": set(ORDER["owner"]), "config": set(ORDER["config"])}


def _personal(item: Item, layout: MetaLayout) -> bool:
    """A person's additions: comments inside it, `keep`, or keys the tool does not write."""
    data = item.data
    if item.commented or keep_entries(data, layout):
        return True
    if set(data) - _TOOL_TOP:
        return True
    for key, allowed in _TOOL_IN.items():
        if isinstance(data.get(key), Mapping) and set(data[key]) - allowed:
            return True
    for base in BASE.values():
        meta = get(data, (*base, "meta"))
        if isinstance(meta, Mapping) and set(meta) - set(ORDER["meta"]):
            return True
        mark = get(data, (*base, *MARKER))
        if isinstance(mark, Mapping) and set(mark) - {"managed", "project_id"}:
            return True
    return False


# --- 2. plan ---------------------------------------------------------------------------------


def _by_project(exposures: Sequence[Exposure], path: str) -> dict[str, Exposure]:
    wanted: dict[str, Exposure] = {}
    names: dict[str, str] = {}
    for e in exposures:
        if e.project_id in wanted or e.name in names:
            other = wanted[e.project_id].name if e.project_id in wanted else names[e.name]
            raise ExposuresFileError(
                f"{path}: two managed exposures would be named alike or share Hex project "
                f"{e.project_id}: {other!r} and {e.name!r}; rename one of them"
            )
        wanted[e.project_id] = e
        names[e.name] = e.project_id
    return wanted


def _plans(doc: Doc, wanted: Mapping[str, Exposure], layout: MetaLayout) -> list[list[Op] | None]:
    """Per exposure in the file: its edits ([] for none), or None when it goes."""
    out: list[list[Op] | None] = []
    for item in doc.items:
        if item.project_id is None:
            out.append([])
        elif item.project_id not in wanted:
            out.append(None)
        else:
            keep = keep_entries(item.data, layout)
            want = target(wanted[item.project_id], layout, item.data, keep)
            out.append(plan(item.data, want, keep))
    return out


# --- 3. locate and 4. edit -------------------------------------------------------------------


def _edits(doc: Doc, plans: list[list[Op] | None], path: str) -> tuple[list[Edit], list[Edit]]:
    """The edits of the exposures that change or go; or, when some alias must be written
    out first, no edits and those that write the aliases out."""
    text = doc.text
    changed = [k for k, p in enumerate(plans) if p]
    gone = [k for k, p in enumerate(plans) if p is None]
    if not changed and not gone:
        return [], []
    root = compose(text)
    seq = next(v for k, v in root.value if getattr(k, "value", None) == "exposures")
    aliases = find_aliases(root, text)
    edits: list[Edit] = []
    here: dict[tuple[int, int], Site] = {}
    through: list[Site] = []
    nodes: set[int] = set()
    for k in changed:
        item = doc.items[k]
        node = tree(seq.value[k], text, aliases, item.dash + 1)
        if aliases.uses:
            in_item = sites(node, text)
            here.update(in_item)
            spans, touched = reached(node, plans[k] or [])
            through += [in_item[s] for s in spans if s in in_item]
            nodes |= touched
        if not through:
            edits += exposure_edits(text, node, item.dash, item.data, plans[k] or [], doc.style)
    if through:
        return [], written_out(text, through, aliases, doc.style)
    for k in gone:
        edits.append(_removal(doc, k))
    if aliases.uses:
        ranges = [(line_start(text, i.dash), line_after(text, i.end)) for i in doc.items]
        todo = uses_to_write_out(text, edits, nodes, aliases, here, ranges, path)
        if todo:
            return [], written_out(text, todo, aliases, doc.style)
    return edits, []


def _removal(doc: Doc, k: int) -> Edit:
    """An exposure's lines, and the blank lines above it (else those below it)."""
    text = doc.text
    item = doc.items[k]
    start, stop = line_start(text, item.dash), line_after(text, item.end)
    above = start
    while above > 0:
        prev = line_start(text, above - 1)
        if text[prev:above].strip():
            break
        above = prev
    if above < start and above > 0:
        return Edit(above, stop, "")
    below = stop
    while below < len(text):
        nxt = line_after(text, below)
        if text[below:nxt].strip():
            break
        below = nxt
    return Edit(start, below if below < len(text) else stop, "")


def _after_colon(doc: Doc, path: str) -> tuple[int, int]:
    colon = doc.key_end if doc.key_end is not None else len(doc.text)
    while colon < len(doc.text) and doc.text[colon] in " \t":
        colon += 1
    if doc.text[colon : colon + 1] != ":":
        raise ExposuresFileError(
            f"{path}: cannot edit the `exposures:` key; write it as a plain key"
        )
    return colon + 1, colon + 1


def _additions(
    doc: Doc,
    plans: list[list[Op] | None],
    wanted: Mapping[str, Exposure],
    fresh: Sequence[Exposure],
    layout: MetaLayout,
    path: str,
) -> list[Edit]:
    """New exposures: sorted by name before the first managed one whose name sorts after
    theirs, else after the last managed one (the last exposure when there is none)."""
    if not fresh:
        return []
    text, st = doc.text, doc.style
    dash = _dash_column(doc)
    chunks = sorted(fresh, key=lambda e: e.name)
    if not doc.items:
        middle = "".join(
            (sep + _fresh(e, dash, st, layout))
            for e, sep in zip(chunks, ["", *[_separator(doc)] * len(chunks)], strict=False)
        )
        return [_splice_new(doc, middle, layout, path)]
    managed = [
        (k, _name(doc.items[k], wanted, layout))
        for k in range(len(doc.items))
        if doc.items[k].project_id
    ]
    sep = _separator(doc)
    out: list[Edit] = []
    for n, e in enumerate(chunks):
        chunk = _fresh(e, dash, st, layout)
        after = next((k for k, name in managed if name > e.name), None)
        if after is not None:
            if after == 0:  # below the comments above the first exposure
                pos = line_start(text, doc.items[0].dash)
                out.append(Edit(pos, pos, chunk + sep, (0, n)))
            else:
                pos = line_after(text, doc.items[after - 1].end)
                out.append(Edit(pos, pos, _glue(text, pos, st) + sep + chunk, (0, n)))
            continue
        last = managed[-1][0] if managed else len(doc.items) - 1
        pos = line_after(text, doc.items[last].end)
        out.append(Edit(pos, pos, _glue(text, pos, st) + sep + chunk, (1, n)))
    return out


def _glue(text: str, pos: int, st: Style) -> str:
    return st.nl if pos == len(text) and text and not text.endswith("\n") else ""


def _name(item: Item, wanted: Mapping[str, Exposure], layout: MetaLayout) -> str:
    want = wanted.get(item.project_id or "")
    if want is None or pinned(("name",), keep_entries(item.data, layout)):
        return str(item.data.get("name", ""))
    return want.name


def _dash_column(doc: Doc) -> int:
    if doc.items:
        return doc.items[0].dash - line_start(doc.text, doc.items[0].dash)
    if doc.key_end is not None:
        key_start = line_start(doc.text, doc.key_end)
        column = len(doc.text[key_start : doc.key_end]) - len("exposures")
        return column + doc.style.seq
    return doc.style.seq


def _separator(doc: Doc) -> str:
    """What goes between exposures: the file's first gap that holds no comment, else one
    blank line."""
    text = doc.text
    for prev, item in zip(doc.items, doc.items[1:], strict=False):
        gap = text[line_after(text, prev.end) : line_start(text, item.dash)]
        if not gap.strip():
            return gap
    return doc.style.nl


def _fresh(e: Exposure, dash: int, st: Style, layout: MetaLayout) -> str:
    """A new exposure's lines, in the file's indentation and line ending."""
    want = plain_data(target(e, layout, {}, ()))
    lines = []
    column = dash + st.dash
    for key, value in want.items():
        if isinstance(value, dict) and not value:
            continue
        lines += entry(key, value, column, st, _FLOW_FRESH)
    first = lines[0]
    lines[0] = " " * dash + "-" + " " * (st.dash - 1) + first[column:]
    return lines_text(lines, st.nl)


_FLOW_FRESH = frozenset(
    {
        "tags",
        "meta.hex_exposures",
        "meta.hex",
        "config.tags",
        "config.meta.hex_exposures",
        "config.meta.hex",
    }
)


def _splice_new(doc: Doc, middle: str, layout: MetaLayout, path: str) -> Edit:
    """New exposures in a file that has none yet: below an empty `exposures:`, appended
    with the key, or a new file with the header."""
    text, nl = doc.text, doc.style.nl
    if doc.data is None:
        head = text if text.strip() else header(layout).replace("\n", nl)
        if head and not head.endswith("\n"):
            head += nl
        return Edit(0, len(text), head + "version: 2" + nl + "exposures:" + nl + middle)
    if doc.key_end is None:
        glue = nl if text and not text.endswith("\n") else ""
        return Edit(len(text), len(text), glue + "exposures:" + nl + middle)
    # `exposures:` with a null or `[]` value: drop the value, put the list below the key's line.
    colon, _ = _after_colon(doc, path)
    value_end = _value_end(doc)
    cut = line_after(text, value_end)
    tail = text[value_end:cut]
    line_end = "" if tail.endswith("\n") else nl
    return Edit(colon, cut, tail + line_end + middle)


def _value_end(doc: Doc) -> int:
    """End of the null or `[]` value after `exposures:`."""
    text = doc.text
    colon, _ = _after_colon(doc, "")
    m = _EMPTY_VALUE.match(text, colon)
    return m.end() if m else colon


_EMPTY_VALUE = re.compile(r"[ \t]*(\[[ \t]*\]|~|null|Null|NULL)(?=[ \t]|\r|\n|$)")


def marker_layout(data: Mapping[str, Any], layout: MetaLayout = "config") -> MetaLayout | None:
    """Where `data` (an exposure as PyYAML reads it) carries the managed marker: `layout`'s
    place when it is there, else the other one; None for an exposure the tool does not manage."""
    found = marker(data, layout)
    if found is None:
        return None
    return "config" if found[1][:1] == ("config",) else "top"


def hex_marker(data: Mapping[str, Any], layout: MetaLayout = "config") -> Mapping[str, Any]:
    """The `hex_exposures` marker of a managed exposure, in either layout; {} when unmanaged."""
    found = marker(data, layout)
    return found[0] if found else {}
