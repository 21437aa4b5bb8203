"""Merge the managed exposures into the exposures file's text without touching a person's work.

The file is split, by the positions PyYAML's composer reports, into the text before the
first exposure, one chunk per exposure, the comment/blank lines between them, and the text
after the last one. Only chunks change:

- an unmanaged exposure (no ``config.meta.hex_exposures.managed: true`` + ``project_id``) is
  copied byte for byte, and so is everything outside the ``exposures:`` list;
- a managed exposure whose tool-owned fields already read (as dbt reads them: PyYAML, YAML
  1.1) as wanted is copied byte for byte too; otherwise its chunk alone is loaded with
  ruamel.yaml, the differing fields are changed in place (containers mutated, never
  replaced, so comments on them stay) and the chunk is dumped back at its indentation;
- a new managed exposure is dumped fresh; a managed exposure whose project is not wanted is
  dropped, but the comment lines above it stay (they go to the exposure that follows).

Order: managed exposures form one block sorted by name, where the first managed exposure
was (at the end of the list when there was none). Unmanaged exposures keep their order;
those above the first managed one stay above the block, all others follow it. Comment
lines between exposures travel with the exposure below them.

Tool-owned fields: name, label, type, maturity, url, description, owner.name, owner.email,
depends_on, config.tags, config.meta.hex_exposures.{managed, project_id}, config.meta.hex.
With ``layout="top"`` (dbt before 1.10, which reads tags and meta only there) the last three
are top-level ``tags`` and ``meta``; a managed exposure written in the other form is moved in
the same merge: its tool keys (and the marker's ``keep``) leave the other place, a
``config:``/``meta:`` left empty by that goes, a person's own keys stay where they are.
A dotted path listed in ``config.meta.hex_exposures.keep`` (or a parent of it: ``owner``) is
never overwritten; ``config.meta.x`` and ``meta.x`` name the same field. After dumping, the result is read back with PyYAML and compared with
what was meant; any difference is a bug and raises instead of writing a wrong file.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.nodes import ScalarNode as RuamelScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    LiteralScalarString,
    PlainScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from hex_exposures.bulk import gc_paused
from hex_exposures.errors import ExposuresFileError
from hex_exposures.records import Exposure, MetaLayout

HEADER = """\
# Managed by hex-exposures (`hex-exposures sync`). Exposures marked
# `config.meta.hex_exposures.managed: true` are rewritten from Hex on every sync; everything
# else in this file, comments included, is left as it is. To pin a field the tool fills,
# list it under the exposure's `config.meta.hex_exposures.keep`, e.g. [description, owner.name].

"""
_Path = tuple[str, ...]
# Key order inside a managed exposure and its maps (SPEC "The exposures file").
_ORDER: dict[_Path, tuple[str, ...]] = {
    (): (
        "name",
        "label",
        "type",
        "maturity",
        "url",
        "description",
        "owner",
        "depends_on",
        "tags",  # top-level tags and meta: dbt before 1.10 (layout "top")
        "meta",
        "config",
    ),
    ("owner",): ("name", "email"),
    ("config",): ("tags", "meta"),
}
_META_ORDER: dict[_Path, tuple[str, ...]] = {
    ("meta",): ("hex_exposures", "hex", "referenced_columns"),
    ("meta", "hex_exposures"): ("managed", "project_id", "keep"),
    ("meta", "hex"): ("status", "categories", "published"),
}
_FLOW: set[_Path] = {("tags",), ("meta", "hex_exposures"), ("meta", "hex")}
for _at in ((), ("config",)):
    _ORDER.update({(*_at, *k): v for k, v in _META_ORDER.items()})
_FLOW |= {("config", *k) for k in _FLOW}
# Lists written as a block of one-line flow mappings (`- {column_name: id, node: ...}`).
_FLOW_ITEMS: set[_Path] = {("meta", "referenced_columns"), ("config", "meta", "referenced_columns")}
# Where each layout puts tags and meta, and the tool's keys under them.
_BASE: dict[str, _Path] = {"config": ("config",), "top": ()}
_TOOL_KEYS: tuple[_Path, ...] = (
    ("tags",),
    ("meta", "hex_exposures"),
    ("meta", "hex"),
    ("meta", "referenced_columns"),
)
_MISSING: Any = object()
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # what dbt reads with
_RESOLVER = yaml.resolver.Resolver()
_RESOLVER_12 = VersionedResolver(version=(1, 2))
_STR_TAG = "tag:yaml.org,2002:str"
_YAML11_BOOL_LETTERS = {"y", "Y", "n", "N"}  # YAML 1.1 booleans PyYAML itself lets through
_ODD_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # must be escaped, in double quotes
_FLOW_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .@/+-]*")
# Strings that every YAML reader takes as plain text in block context (see _simple).
_BLOCK_SIMPLE = re.compile(r"[A-Za-z0-9_(][A-Za-z0-9_()'.,/@:=+?&%~#! -]{0,999}")


class ManagedEntry(NamedTuple):
    """A managed exposure as the file has it, for names and kept dependencies."""

    name: str
    project_id: str
    depends_on: tuple[str, ...]
    keep: tuple[str, ...]
    # meta.referenced_columns as the file has it: a project that did not run keeps them too
    referenced_columns: tuple[Mapping[str, Any], ...] = ()


class _Item(NamedTuple):
    data: dict[str, Any]  # as dbt's YAML reader sees it
    project_id: str | None  # set when the tool manages it
    body: int  # where its mapping starts in the text
    column: int  # column of `body`
    content_end: int  # end of its last scalar or flow collection


class _Key(NamedTuple):
    """Where the `exposures:` key and its value sit in the text."""

    end: int
    column: int
    value_end: int


class _Doc(NamedTuple):
    text: str  # without a byte order mark
    data: Any
    flow: bool  # the top mapping or a non-empty `exposures:` list is in flow style
    key: _Key | None
    items: list[_Item]


class _Span(NamedTuple):
    start: int  # start of the line with the item's dash
    body: int  # where the mapping starts
    end: int  # end of its last line of content, line break included
    column: int  # column of `body`


class _Out(NamedTuple):
    text: str
    lead: str | None  # comment/blank lines above it; None for a new exposure
    pos: int | None  # position in the original list
    sort: tuple[str, str]


def read_managed(
    text: str | None, *, path: str, layout: MetaLayout = "config"
) -> dict[str, ManagedEntry]:
    """The managed exposures in the file, by Hex project id (the marker is found in either
    layout; `layout` decides which wins when an exposure has both)."""
    out: dict[str, ManagedEntry] = {}
    for item in _parse((text or "").removeprefix("\ufeff"), path).items:
        if item.project_id is None:
            continue
        deps = item.data.get("depends_on")
        out[item.project_id] = ManagedEntry(
            name=str(item.data.get("name", "")),
            project_id=item.project_id,
            depends_on=tuple(d for d in deps if isinstance(d, str))
            if isinstance(deps, list)
            else (),
            keep=_keep(item.data, layout),
            referenced_columns=_referenced_columns(item.data),
        )
    return out


def _referenced_columns(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    for at in (("config", "meta"), ("meta",)):
        value = _get(data, (*at, "referenced_columns"))
        if isinstance(value, list):
            return tuple(c for c in value if isinstance(c, Mapping))
    return ()


def exposure_names(text: str | None, *, path: str) -> set[str]:
    """Every exposure name in the file, managed or not."""
    items = _parse((text or "").removeprefix("\ufeff"), path).items
    return {str(i.data["name"]) for i in items if "name" in i.data}


def unmanaged_names(text: str | None, *, path: str) -> set[str]:
    """The names of the exposures in the file that the tool does not manage."""
    items = _parse((text or "").removeprefix("\ufeff"), path).items
    return {str(i.data["name"]) for i in items if "name" in i.data and i.project_id is None}


def merge(
    text: str | None,
    exposures: Sequence[Exposure],
    *,
    path: str,
    layout: MetaLayout = "config",
) -> str:
    """The file's text with its managed exposures replaced by `exposures` (see module doc).

    `layout`: where tags and meta go, "config" (dbt >= 1.10) or "top" (dbt 1.8/1.9)."""
    wanted = _by_project(exposures)
    bom = "\ufeff" if text and text.startswith("\ufeff") else ""
    doc = _parse((text or "")[len(bom) :], path)
    nl = "\r\n" if "\r\n" in doc.text else "\n"
    yml = _ruamel()
    if doc.flow:
        raise ExposuresFileError(
            f"{path}: the file or its `exposures:` list is written in flow style ({{...}} or "
            "[...]); write it in block style so it can be merged"
        )
    spans = _spans(doc, path)
    carry = ""
    managed: list[_Out] = []
    unmanaged: list[_Out] = []
    first_managed = None
    for k, (item, span) in enumerate(zip(doc.items, spans, strict=True)):
        gap = doc.text[spans[k - 1].end : span.start] if k else ""
        lead = _join(carry, gap) if carry else gap
        carry = ""
        if item.project_id is not None and first_managed is None:
            first_managed = len(unmanaged)
        if item.project_id is not None and item.project_id not in wanted:
            carry = lead if _has_comment(lead) else ""
            continue
        chunk = doc.text[span.start : span.end]
        if item.project_id is None:
            unmanaged.append(_Out(chunk, lead, k, ("", "")))
            continue
        want = wanted.pop(item.project_id)
        chunk = _updated(chunk, span, item, want, yml, nl, path, layout)
        name = item.data.get("name") if _kept(("name",), _keep(item.data, layout)) else want.name
        managed.append(_Out(chunk, lead, k, (str(name), want.project_id)))
    dash = _dash_column(doc, spans)
    for want in wanted.values():
        chunk = _fast_chunk(want, dash, nl, layout) or _reindent(
            _dump(yml, _fresh(want, layout)), " " * dash + "- ", dash + 2, nl
        )
        managed.append(_Out(chunk, None, None, (want.name, want.project_id)))
    place = len(unmanaged) if first_managed is None else first_managed
    final = [*unmanaged[:place], *sorted(managed, key=lambda o: o.sort), *unmanaged[place:]]
    middle = _render(final, carry, _separator(doc, spans, nl), nl)
    result = _splice(doc, spans, middle, bool(final), nl, path)
    if result != doc.text:  # unchanged text was compared field by field already
        _verify(result, exposures, doc, path, layout)
    return bom + result


# --- reading ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _parse(text: str, path: str) -> _Doc:
    """Read the file as dbt does. Cached: a sync reads the same text three times, and a big
    file costs about 0.5 s per 1,000 exposures. Only ints and plain data are kept."""
    loader = _Loader(text)
    try:
        with gc_paused():  # a big file is a million small objects: ~3x faster
            root = loader.get_single_node()
            pairs = []
            if isinstance(root, yaml.MappingNode):
                pairs = [(k, v) for k, v in root.value if getattr(k, "value", None) == "exposures"]
            # Before construction: it rewrites mappings that use `<<:` merge keys in place.
            seq = pairs[0][1] if pairs else None
            ends = (
                [_content_end(n, set()) for n in seq.value]
                if isinstance(seq, yaml.SequenceNode)
                else []
            )
            data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise ExposuresFileError(f"{path}: not valid YAML: {_describe(exc)}") from exc
    finally:
        loader.dispose()
    if data is None:
        return _Doc(text, None, False, None, [])
    if not isinstance(data, dict):
        raise ExposuresFileError(f"{path}: the top level is not a mapping of keys")
    if len(pairs) > 1:
        raise ExposuresFileError(f"{path}: `exposures:` appears more than once")
    key = None
    if pairs:
        key_node, seq = pairs[0]
        key = _Key(key_node.end_mark.index, key_node.start_mark.column, seq.end_mark.index)
    values = data.get("exposures")
    if values is None:
        return _Doc(text, data, bool(root.flow_style), key, [])
    if not isinstance(values, list) or not isinstance(seq, yaml.SequenceNode):
        raise ExposuresFileError(f"{path}: `exposures:` is not a list")
    items: list[_Item] = []
    owners: dict[str, Any] = {}
    for n, (node, value, end) in enumerate(zip(seq.value, values, ends, strict=True), start=1):
        if not isinstance(value, dict):
            raise ExposuresFileError(f"{path}: exposure {n} under `exposures:` is not a mapping")
        pid = _managed_id(value)
        if pid is not None and pid in owners:
            raise ExposuresFileError(
                f"{path}: exposures {owners[pid]!r} and {value.get('name')!r} are both managed "
                f"for Hex project {pid}; delete one of them"
            )
        if pid is not None:
            owners[pid] = value.get("name")
        mark = node.start_mark
        items.append(_Item(value, pid, mark.index, mark.column, end))
    return _Doc(text, data, bool(root.flow_style or (items and seq.flow_style)), key, items)


def _describe(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def _other(layout: MetaLayout) -> MetaLayout:
    return "top" if layout == "config" else "config"


def _marker_in(data: Mapping[str, Any], layout: MetaLayout) -> Mapping[str, Any] | None:
    node: Any = data
    for key in (*_BASE[layout], "meta", "hex_exposures"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None


def _is_marker(marker: Mapping[str, Any] | None) -> bool:
    pid = marker.get("project_id") if marker is not None else None
    return (
        marker is not None and marker.get("managed") is True and isinstance(pid, str) and bool(pid)
    )


def marker_layout(data: Mapping[str, Any], layout: MetaLayout = "config") -> MetaLayout | None:
    """Where `data` (an exposure as PyYAML reads it) carries the managed marker: `layout`'s
    place when it is there, else the other one; None for an exposure the tool does not manage."""
    for where in (layout, _other(layout)):
        if _is_marker(_marker_in(data, where)):
            return where
    return None


def hex_marker(data: Mapping[str, Any], layout: MetaLayout = "config") -> Mapping[str, Any]:
    """The `hex_exposures` marker of a managed exposure, in either layout; {} when unmanaged."""
    where = marker_layout(data, layout)
    return (_marker_in(data, where) or {}) if where is not None else {}


def _managed_id(data: Mapping[str, Any], layout: MetaLayout = "config") -> str | None:
    pid = hex_marker(data, layout).get("project_id")
    return pid if isinstance(pid, str) and pid else None


def _keep(data: Mapping[str, Any], layout: MetaLayout = "config") -> tuple[str, ...]:
    keep = hex_marker(data, layout).get("keep")
    if isinstance(keep, str):
        keep = [keep]
    return tuple(k.strip() for k in keep if isinstance(k, str)) if isinstance(keep, list) else ()


def _kept(field: _Path, keep: Sequence[str]) -> bool:
    """Is `field` pinned? `config.tags`/`tags` and `config.meta.x`/`meta.x` are one field."""
    rest = field[1:] if field[:1] == ("config",) else field
    forms = {".".join(field)}
    if rest[:1] in (("tags",), ("meta",)):
        forms |= {".".join(rest), ".".join(("config", *rest))}
    return any(d == k or d.startswith(k + ".") for d in forms for k in keep)


def _spans(doc: _Doc, path: str) -> list[_Span]:
    spans: list[_Span] = []
    for n, item in enumerate(doc.items, start=1):
        body = item.body
        dash = body - 1
        while dash >= 0 and doc.text[dash] in " \t\r\n":
            dash -= 1
        start = doc.text.rfind("\n", 0, max(dash, 0)) + 1
        if dash < 0 or doc.text[dash] != "-" or doc.text[start:dash].strip(" "):
            raise ExposuresFileError(f"{path}: cannot find where exposure {n} starts")
        end = item.content_end
        if not (end > 0 and doc.text[end - 1] == "\n"):
            end = doc.text.find("\n", end) + 1 or len(doc.text)
        if spans and not _only_comments(doc.text[spans[-1].end : start]):
            raise ExposuresFileError(f"{path}: cannot find where exposure {n - 1} ends")
        spans.append(_Span(start, body, end, item.column))
    return spans


def _content_end(node: Any, seen: set[int]) -> int:
    """Where the text of a node ends: its last scalar or flow collection (block collections
    end at the next token, past any comment lines that follow)."""
    if isinstance(node, yaml.ScalarNode) or node.flow_style or not node.value or id(node) in seen:
        return int(node.end_mark.index)
    seen.add(id(node))  # an alias of a node that contains it
    children = (
        node.value if isinstance(node, yaml.SequenceNode) else [c for kv in node.value for c in kv]
    )
    return max(_content_end(c, seen) for c in children)


def _only_comments(text: str) -> bool:
    return all(not s.strip() or s.lstrip().startswith("#") for s in text.split("\n"))


def _has_comment(text: str) -> bool:
    return any(s.lstrip().startswith("#") for s in text.split("\n"))


# --- writing ---------------------------------------------------------------------------------


def _by_project(exposures: Sequence[Exposure]) -> dict[str, Exposure]:
    wanted: dict[str, Exposure] = {}
    names: set[str] = set()
    for e in exposures:
        if e.project_id in wanted or e.name in names:
            raise ValueError(f"two exposures for project {e.project_id} or named {e.name}")
        wanted[e.project_id] = e
        names.add(e.name)
    return wanted


def _ruamel() -> YAML:
    yml = YAML(typ="rt")
    yml.preserve_quotes = True
    yml.indent(mapping=2, sequence=4, offset=2)
    yml.width = 4096
    return yml


def _dump(yml: YAML, node: Any) -> str:
    buf = io.StringIO()
    yml.dump(node, buf)
    return buf.getvalue()


def _fields(e: Exposure, layout: MetaLayout = "config") -> list[tuple[_Path, Any]]:
    """Every tool-owned field of a managed exposure and the value dbt should read for it."""
    at = _BASE[layout]
    return [
        (("name",), e.name),
        (("label",), e.label),
        (("type",), e.type),
        (("maturity",), e.maturity),
        (("url",), e.url),
        (("description",), e.description),
        (("owner", "name"), e.owner_name),
        (("owner", "email"), e.owner_email),
        (("depends_on",), list(e.depends_on)),
        ((*at, "tags"), list(e.tags)),
        ((*at, "meta", "hex_exposures", "managed"), True),
        ((*at, "meta", "hex_exposures", "project_id"), e.project_id),
        ((*at, "meta", "hex"), _plain(e.hex_meta)),
        # Elementary's exposure validation form; absent when empty (or --no-columns).
        ((*at, "meta", "referenced_columns"), _plain(e.referenced_columns) or None),
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _get(data: Any, field: _Path) -> Any:
    for key in field:
        if not isinstance(data, Mapping) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _same(have: Any, want: Any) -> bool:
    """Equal as dbt would see them: types too (True is not 1), None is the same as absent."""
    if want is None:
        return have is None or have is _MISSING
    if isinstance(want, dict):
        return (
            isinstance(have, dict)
            and have.keys() == want.keys()
            and all(_same(have[k], v) for k, v in want.items())
        )
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(_same(h, w) for h, w in zip(have, want, strict=True))
        )
    return type(have) is type(want) and have == want


def _moves(data: Mapping[str, Any], want: Exposure, layout: MetaLayout) -> list[tuple[_Path, Any]]:
    """The edits that make an exposure say `want` in `layout`, including moving tool keys
    (a pinned value and the marker's other keys, such as `keep`, travel) out of the other
    layout's place. A None value deletes."""
    keep = _keep(data, layout)
    here, there = _BASE[layout], _BASE[_other(layout)]
    todo: list[tuple[_Path, Any]] = []
    for f, v in _fields(want, layout):
        have = _get(data, f)
        rel = f[len(here) :]
        moving = rel[:1] in (("tags",), ("meta",)) and have is _MISSING
        old = _get(data, (*there, *rel)) if moving else _MISSING
        if _kept(f, keep):
            if old is not _MISSING:
                todo.append((f, old))  # a pinned value moves as it is
        elif not _same(have, v):
            todo.append((f, v))
    gone = [(*there, *k) for k in _TOOL_KEYS if _get(data, (*there, *k)) is not _MISSING]
    old_marker = _marker_in(data, _other(layout))
    if old_marker is not None and (*there, "meta", "hex_exposures") in gone:
        for k, v in old_marker.items():
            f = (*here, "meta", "hex_exposures", str(k))
            if k not in ("managed", "project_id") and _get(data, f) is _MISSING:
                todo.append((f, v))
    todo += [(f, None) for f in gone]
    return todo


def _prune(node: CommentedMap, data: Mapping[str, Any], layout: MetaLayout) -> None:
    """Drop a `meta:`/`config:` of the other layout that the move left empty (and that had
    something in it before: an empty map a person wrote stays)."""
    there = _BASE[_other(layout)]
    for at in ((*there, "meta"), there):
        if not at:
            continue
        parent = node
        for key in at[:-1]:
            parent = parent.get(key) if isinstance(parent, CommentedMap) else None
        child = parent.get(at[-1]) if isinstance(parent, CommentedMap) else None
        if isinstance(child, CommentedMap) and not child and _get(data, at):
            _delete(parent, at[-1])


def _updated(
    chunk: str,
    span: _Span,
    item: _Item,
    want: Exposure,
    yml: YAML,
    nl: str,
    path: str,
    layout: MetaLayout = "config",
) -> str:
    todo = _moves(item.data, want, layout)
    if not todo:
        return chunk
    body = _dedent(chunk[span.body - span.start :], span.column)
    try:
        node = yml.load(body)
    except RuamelYAMLError as exc:
        raise ExposuresFileError(
            f"{path}: cannot edit exposure {item.data.get('name')!r} on its own: {_describe(exc)}"
        ) from exc
    for field, value in todo:
        _apply(node, item.data, field, value)
    _prune(node, item.data, layout)
    return _reindent(_dump(yml, node), chunk[: span.body - span.start], span.column, nl)


def _fresh(e: Exposure, layout: MetaLayout = "config") -> CommentedMap:
    node = CommentedMap()
    for field, value in _fields(e, layout):
        if value is not None:
            _apply(node, {}, field, value)
    return node


def _apply(node: CommentedMap, data: Any, field: _Path, value: Any, at: _Path = ()) -> None:
    """Make `node` (ruamel, at path `at` in the exposure) say `value` at `field`.

    `data` is the same mapping as PyYAML reads it: what dbt sees decides what must change.
    """
    for depth in range(len(field) - 1):
        key, here = field[depth], at + field[:depth]
        data = data.get(key) if isinstance(data, Mapping) else None
        child = node.get(key)
        if not isinstance(child, CommentedMap):
            child = CommentedMap()
            if (*here, key) in _FLOW:
                child.fa.set_flow_style()
            _set(node, key, child, _ORDER.get(here, ()))
        node = child
    key, here = field[-1], at + field[:-1]
    have = data.get(key, _MISSING) if isinstance(data, Mapping) else _MISSING
    current = node.get(key)
    if value is None:
        if key in node:
            _delete(node, key)
    elif isinstance(value, list) and isinstance(current, CommentedSeq):
        # ruamel reports no flow style for an empty `[]`; its parent's style still applies.
        flow = (*here, key) in _FLOW or bool(node.fa.flow_style() or current.fa.flow_style())
        items = (*here, key) in _FLOW_ITEMS
        _sync_seq(current, have if isinstance(have, list) else [], value, flow=flow, items=items)
    elif isinstance(value, dict) and isinstance(current, CommentedMap):
        have = have if isinstance(have, Mapping) else {}
        for k, v in value.items():
            if v is None and (_get(have, (k,)) is not None or k not in current):
                _set(current, k, None, _ORDER.get((*here, key), ()))
            elif v is not None and not _same(_get(have, (k,)), v):
                _apply(current, have, (k,), v, (*here, key))
        for k in [k for k in current if k not in value]:
            _delete(current, k)
    else:
        # Inside a flow mapping (`hex: {status: ...}`) a value needs flow-safe quoting too.
        flow = (*here, key) in _FLOW or bool(node.fa.flow_style())
        if (*here, key) in _FLOW_ITEMS and isinstance(value, list):
            _set(node, key, CommentedSeq(_flow_item(v) for v in value), _ORDER.get(here, ()))
        else:
            _set(node, key, _node(value, flow=flow), _ORDER.get(here, ()))


def _set(node: CommentedMap, key: str, value: Any, order: Sequence[str]) -> None:
    """Set in place; a new key goes after the last key that precedes it in `order`."""
    if key in node:
        node[key] = value
        return
    rank = order.index(key) if key in order else len(order)
    position = 0
    for i, k in enumerate(node):
        if k in order and order.index(k) < rank:
            position = i + 1
    if not order or key not in order:
        position = len(node)
    node.insert(position, key, value)


def _delete(node: CommentedMap, key: str) -> None:
    """Delete a key; full-line comments after it move to the key before it."""
    keys = list(node)
    index = keys.index(key)
    token = node.ca.items.pop(key, [None, None, None, None])[2]
    del node[key]
    rest = token.value.partition("\n")[2] if token is not None else ""
    if rest and index > 0:
        prev = node.ca.items.setdefault(keys[index - 1], [None, None, None, None])
        if prev[2] is None:
            prev[2] = CommentToken("\n" + rest, CommentMark(0))
        else:
            prev[2].value = prev[2].value + rest


def _sync_seq(
    seq: CommentedSeq, have: list[Any], want: list[Any], *, flow: bool, items: bool = False
) -> None:
    """Reorder/replace items in place, keeping the objects (and comments) of items that stay."""
    if _same(have, want):
        return
    old = list(seq)
    comments = {i: seq.ca.items[i] for i in range(len(old)) if i in seq.ca.items}
    last = comments.get(len(old) - 1, [None])[0]
    eol, _, rest = last.value.partition("\n") if last is not None else ("", "", "")
    unused = [i for i in range(len(old)) if i < len(have)]
    out: list[Any] = []
    moved: dict[int, Any] = {}
    for j, value in enumerate(want):
        match = next((i for i in unused if _same(have[i], value)), None)
        if match is None:
            out.append(_flow_item(value) if items else _node(value, flow=flow))
            continue
        unused.remove(match)
        out.append(old[match])
        if match in comments:
            moved[j] = comments[match]
    if rest and last is not None:
        last.value = eol + "\n"
        final = moved.setdefault(len(out) - 1, [None, None, None, None]) if out else None
        if final is not None and final[0] is None:
            final[0] = CommentToken("\n" + rest, CommentMark(0))
        elif final is not None:
            final[0] = CommentToken(final[0].value + rest, final[0].start_mark)
    seq.clear()
    seq.extend(out)
    seq.ca.items.clear()
    seq.ca.items.update(moved)


def _flow_item(value: Any) -> Any:
    """One list item on one line: `{column_name: id, node: "ref('m')"}`."""
    if not isinstance(value, dict):
        return _node(value, flow=True)
    node = CommentedMap((k, _flow_text(v)) for k, v in value.items())
    node.fa.set_flow_style()
    return node


def _flow_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    out = _scalar(value, flow=True)
    if isinstance(out, SingleQuotedScalarString) and "'" in value and value.isprintable():
        return DoubleQuotedScalarString(value)  # "ref('m')" reads better than 'ref(''m'')'
    return out


def _node(value: Any, *, flow: bool) -> Any:
    if isinstance(value, str):
        return _scalar(value, flow=flow)
    if isinstance(value, list):
        seq = CommentedSeq(_node(v, flow=flow) for v in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        node = CommentedMap((k, _node(v, flow=flow)) for k, v in value.items())
        if flow:
            node.fa.set_flow_style()
        return node
    return value


def _scalar(text: str, *, flow: bool = False) -> Any:
    """A string in the style that YAML 1.1 (dbt) and 1.2 (ruamel) both read back as `text`.

    ruamel quotes what YAML 1.2 needs; we add YAML 1.1's extra implicit types (yes/no/on/off,
    y/n, 12:30), a literal block for multi-line text, and quotes for anything unusual in
    flow collections. The emitter falls back to double quotes when a style cannot hold it.
    """
    if _ODD_BREAKS.search(text) or _NON_PRINTABLE.search(text) or (flow and "\n" in text):
        return DoubleQuotedScalarString(text)
    if "\n" in text:
        if text.endswith("\n") or any(line.startswith("\t") for line in text.split("\n")):
            return DoubleQuotedScalarString(text)
        return LiteralScalarString(text)
    if (
        text in _YAML11_BOOL_LETTERS
        or _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG
        or (flow and not _FLOW_PLAIN.fullmatch(text.rstrip()))
        or text != text.strip()
    ):
        return SingleQuotedScalarString(text)
    return PlainScalarString(text)  # a bare str would take the style of the value it replaces


def _simple(text: str, *, flow: bool) -> bool:
    """True when `text` is plain in YAML 1.1 and 1.2 alike, so ruamel would write it bare."""
    pattern = _FLOW_PLAIN if flow else _BLOCK_SIMPLE
    return (
        pattern.fullmatch(text) is not None
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
        and text not in _YAML11_BOOL_LETTERS
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
        and str(_RESOLVER_12.resolve(RuamelScalarNode, text, (True, False))) == _STR_TAG
    )


def _fast_scalar(text: object, *, flow: bool) -> str | None:
    """`text` as ruamel writes it when it is plain; else one double-quoted line; else None.

    Double quotes are a JSON string, which YAML 1.1 and 1.2 read alike as long as every
    character is printable (no line or paragraph separators, no controls, no BOM).
    """
    if not isinstance(text, str):
        return None
    if _simple(text, flow=flow):
        return text
    if text and text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return None


def _fast_chunk(e: Exposure, dash: int, nl: str, layout: MetaLayout = "config") -> str | None:
    """The bytes for a new exposure without ruamel, about 50x faster.

    A first sync of a big workspace writes thousands of exposures; ruamel needs ~6 ms
    each. Plain words come out as ruamel writes them; other one-line text is double-quoted.
    Anything else (multi-line text, unprintable characters, extra hex keys) returns None
    and goes through ruamel. Tests pin both paths to the same data, and to the same bytes
    for plain words.
    """
    meta = e.hex_meta
    status, categories = meta.get("status"), meta.get("categories")
    if (
        list(meta) != ["status", "categories", "published"]
        or not isinstance(meta["published"], bool)
        or not isinstance(categories, list | tuple)
        or not (e.owner_name is not None or e.owner_email is not None)
    ):
        return None
    try:
        return _fast_lines(e, status, categories, dash, nl, layout)
    except _NotFast:
        return None


class _NotFast(Exception):
    pass


def _fast_lines(
    e: Exposure,
    status: Any,
    categories: Sequence[Any],
    dash: int,
    nl: str,
    layout: MetaLayout = "config",
) -> str:
    def b(value: object) -> str:
        out = _fast_scalar(value, flow=False)
        if out is None:
            raise _NotFast
        return out

    def f(value: object) -> str:
        out = _fast_scalar(value, flow=True)
        if out is None:
            raise _NotFast
        return out

    i = " " * (dash + 2)
    lines = [f"{' ' * dash}- name: {b(e.name)}", f"{i}label: {b(e.label)}", f"{i}type: {b(e.type)}"]
    lines += [f"{i}maturity: {b(e.maturity)}"] if e.maturity is not None else []
    description = b(e.description) if e.description else "''"
    lines += [f"{i}url: {b(e.url)}", f"{i}description: {description}", f"{i}owner:"]
    lines += [f"{i}  name: {b(e.owner_name)}"] if e.owner_name is not None else []
    lines += [f"{i}  email: {b(e.owner_email)}"] if e.owner_email is not None else []
    lines += (
        [f"{i}depends_on:", *(f"{i}  - {b(d)}" for d in e.depends_on)]
        if e.depends_on
        else [f"{i}depends_on: []"]
    )
    published = "true" if e.hex_meta["published"] else "false"
    status_text = "null" if status is None else f(status)
    if layout == "config":
        lines.append(f"{i}config:")
        i += "  "
    lines += [
        f"{i}tags: [{', '.join(f(t) for t in e.tags)}]",
        f"{i}meta:",
        f"{i}  hex_exposures: {{managed: true, project_id: {f(e.project_id)}}}",
        f"{i}  hex: {{status: {status_text}, categories: "
        f"[{', '.join(f(c) for c in categories)}], published: {published}}}",
    ]
    if e.referenced_columns:
        lines.append(f"{i}  referenced_columns:")
        lines += (
            f"{i}    - {{{', '.join(f'{k}: {f(v)}' for k, v in c.items())}}}"
            for c in e.referenced_columns
        )
    return nl.join(lines) + nl


def _dedent(text: str, column: int) -> str:
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        spaces = len(line) - len(line.lstrip(" "))
        out.append(line[min(spaces, column) :])
    return "\n".join(out)


def _reindent(text: str, first: str, column: int, nl: str) -> str:
    lines = text.split("\n")
    out = [first + lines[0], *((" " * column + s) if s else s for s in lines[1:])]
    return nl.join(s.removesuffix("\r") for s in out)


def _dash_column(doc: _Doc, spans: list[_Span]) -> int:
    if spans:
        return doc.text.index("-", spans[0].start) - spans[0].start
    return doc.key.column + 2 if doc.key is not None else 2


def _separator(doc: _Doc, spans: list[_Span], nl: str) -> str:
    """What goes between exposures: copy the file's first plain gap, else one blank line."""
    for prev, span in itertools.pairwise(spans):
        gap = doc.text[prev.end : span.start]
        if not _has_comment(gap):
            return gap
    return nl


def _join(above: str, below: str) -> str:
    lines = below.split("\n")
    while len(lines) > 1 and not lines[0].strip():
        lines.pop(0)
    return above + "\n".join(lines)


def _render(final: list[_Out], tail: str, sep: str, nl: str) -> str:
    parts: list[str] = []
    previous: int | None = None
    for n, out in enumerate(final):
        lead = out.lead
        if n == 0:
            lead = lead if lead and _has_comment(lead) else ""
        elif lead is None or (lead == "" and (out.pos is None or out.pos - 1 != previous)):
            lead = sep
        if parts and not parts[-1].endswith("\n"):
            parts.append(nl)
        parts += [lead, out.text]
        previous = out.pos
    if tail and parts and not parts[-1].endswith("\n"):
        parts.append(nl)
    return "".join([*parts, tail])


def _splice(doc: _Doc, spans: list[_Span], middle: str, nonempty: bool, nl: str, path: str) -> str:
    """Put the rendered list back into the file's text."""
    text = doc.text
    if spans:
        before, after = text[: spans[0].start], text[spans[-1].end :]
        if not nonempty:
            colon = _colon(doc, path)
            before = before[: colon + 1] + " []" + before[colon + 1 :]
        return before + middle + after
    if not nonempty and (doc.key is not None or doc.data is not None):
        return text
    if doc.data is None:
        head = text if text.strip() else HEADER.replace("\n", nl)
        if head and not head.endswith("\n"):
            head += nl
        return head + "version: 2" + nl + "exposures:" + (nl if nonempty else " []" + nl) + middle
    if doc.key is None:
        glue = nl if text and not text.endswith("\n") else ""
        return text + glue + "exposures:" + nl + middle
    # `exposures:` with a null or `[]` value: drop the value, put the list below the key's line.
    colon = _colon(doc, path)
    head = text[: colon + 1] + text[doc.key.value_end :]
    cut = head.find("\n", colon) + 1 or len(head)
    line_end = "" if head[:cut].endswith("\n") else nl
    return head[:cut] + line_end + middle + head[cut:]


def _colon(doc: _Doc, path: str) -> int:
    colon = doc.key.end if doc.key is not None else len(doc.text)
    while colon < len(doc.text) and doc.text[colon] in " \t":
        colon += 1
    if doc.text[colon : colon + 1] != ":":
        raise ExposuresFileError(
            f"{path}: cannot edit the `exposures:` key; write it as a plain key"
        )
    return colon


def _verify(
    result: str,
    exposures: Sequence[Exposure],
    before: _Doc,
    path: str,
    layout: MetaLayout = "config",
) -> None:
    """Read the result as dbt will and compare it with what was meant (a guard against bugs)."""

    def bug(problem: str) -> ExposuresFileError:
        return ExposuresFileError(
            f"{path}: internal error, the merged file would not be read as intended: {problem}; "
            "nothing was written, please report this"
        )

    try:
        after = _parse(result, path)
    except ExposuresFileError as exc:
        raise bug(str(exc)) from exc
    found = {i.project_id: i.data for i in after.items if i.project_id is not None}
    if set(found) != {e.project_id for e in exposures}:
        raise bug("the set of managed exposures differs")
    for e in exposures:
        data = found[e.project_id]
        keep = _keep(data, layout)
        for field, value in _fields(e, layout):
            have = _get(data, field)
            if not _kept(field, keep) and not _same(have, value):
                raise bug(f"{e.name}.{'.'.join(field)} reads {have!r}, not {value!r}")
        there = _BASE[_other(layout)]
        for key in _TOOL_KEYS:
            if _get(data, (*there, *key)) is not _MISSING:
                raise bug(f"{e.name}.{'.'.join((*there, *key))} is left in the other layout")
    if [i.data for i in before.items if i.project_id is None] != [
        i.data for i in after.items if i.project_id is None
    ]:
        raise bug("an exposure the tool does not manage changed")
    if isinstance(before.data, dict):
        others = {k: v for k, v in before.data.items() if k != "exposures"}
        if others != {k: v for k, v in after.data.items() if k != "exposures"}:
            raise bug("a top-level key other than `exposures` changed")
