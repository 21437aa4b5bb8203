"""Anchors and aliases in a managed exposure the tool edits. Pure.

    sites(node, text) -> {span: Site}              every `*alias` in an exposure, with its place
    reached(node, ops) -> (alias spans, node ids)  aliases an edit passes through, nodes it changes
    uses_to_write_out(...) -> [Site]               the aliases to write out first (or refuse)
    written_out(text, sites, aliases, style) -> [Edit]

An edit never goes through an alias and never changes what an alias reads. When a tool-owned
value must change below an alias (`owner: *jane` and Hex has another email), or a value
under an `&anchor` must change while an alias of it in the same exposure stays, the alias is
first written out: the anchored value's own bytes (its nested anchors dropped) in place of
`*name`, re-indented to the alias's place in the file's own indentation, block style kept;
then the merge runs on that text. Only an alias inside a flow collection of a multi-line
block value gets the value's data in flow style (a block cannot go inside `{...}`). An anchor
whose value must change and that an alias in another exposure (or outside the list) uses is
refused, at the anchor's own line and column: writing that alias out would change bytes the
tool does not own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import yaml

from hex_exposures.errors import ExposuresFileError
from hex_exposures.yaml_edit import Edit
from hex_exposures.yaml_plan import Op
from hex_exposures.yaml_spans import Aliases, Loader, Node, line_after, line_start
from hex_exposures.yaml_text import Style, inline, lines_text, quoted, shift

Span = tuple[int, int]


class Site(NamedTuple):
    """Where an alias sits: its `*name` text, and what holds it."""

    start: int
    end: int
    ident: int  # the anchored node's id
    flow: bool  # inside a flow collection
    item: bool  # a block list item (else a mapping value)
    column: int  # the column of its key, or of its list's dashes


def sites(node: Node, text: str) -> dict[Span, Site]:
    out: dict[Span, Site] = {}
    stack = [node]
    while stack:
        n = stack.pop()
        children: list[tuple[Node, bool, int]] = [
            (e.value, False, e.start - line_start(text, e.start)) for e in n.entries
        ] + [(c, True, n.column) for c in n.items]
        for child, item, column in children:
            if child.alias:
                out[(child.start, child.end)] = Site(
                    child.start, child.end, child.ident, child.flow, item, column
                )
            else:
                stack.append(child)
    return out


def reached(node: Node, ops: Sequence[Op]) -> tuple[list[Span], set[int]]:
    """The aliases the ops' paths go through, and the ids of the nodes they change."""
    through: list[Span] = []
    changed: set[int] = set()
    for op in ops:
        n = node
        for depth, key in enumerate(op.path):
            if n.kind != "map" or n.alias:
                break
            e = n.get(key)
            if e is None:
                break
            n = e.value
            if n.alias and depth < len(op.path) - 1:
                through.append((n.start, n.end))
                break
            if not n.alias:
                changed.add(n.ident)
    return through, changed


def uses_to_write_out(
    text: str,
    edits: Sequence[Edit],
    changed: set[int],
    aliases: Aliases,
    here: Mapping[Span, Site],
    ranges: Sequence[Span],
    path: str,
) -> list[Site]:
    """The aliases, in exposures the tool edits, of anchored values the edits change."""
    out: list[Site] = []

    def covered(span: Span) -> bool:
        return any(e.start <= span[0] and span[1] <= e.end and e.end > e.start for e in edits)

    def owner(pos: int) -> int | None:
        return next((k for k, (s, t) in enumerate(ranges) if s <= pos < t), None)

    for ident, (a_start, a_end) in aliases.anchored.items():
        touched = ident in changed or any(
            (e.start < a_end and e.end > a_start)
            or (e.start == e.end and a_start < e.start < a_end)
            for e in edits
        )
        if not touched:
            continue
        for use in aliases.uses.get(ident, []):
            if covered(use):
                continue
            site = here.get(use)
            if site is not None and owner(use[0]) == owner(a_start) is not None:
                out.append(site)
                continue
            line = text.count("\n", 0, a_start) + 1
            column = a_start - line_start(text, a_start) + 1
            raise ExposuresFileError(
                f"{path}: line {line}, column {column}: this anchor is used by an alias on line "
                f"{text.count(chr(10), 0, use[0]) + 1}, and the tool must change the value it "
                "marks or remove it; write the value out in place of the alias"
            )
    return out


def written_out(text: str, todo: Iterable[Site], aliases: Aliases, style: Style) -> list[Edit]:
    todo = list(todo)
    if not todo:
        return []
    anchors = [
        (t.start_mark.index, t.end_mark.index)
        for t in yaml.scan(text, Loader=Loader)
        if isinstance(t, yaml.AnchorToken)
    ]
    out: list[Edit] = []
    for site in {(s.start, s.end): s for s in todo}.values():
        out += _write_out(text, site, aliases, anchors, style)
    return out


def _write_out(
    text: str, site: Site, aliases: Aliases, anchors: Sequence[Span], st: Style
) -> list[Edit]:
    node = aliases.nodes[site.ident]
    a_start, a_end = aliases.anchored[site.ident]
    collection = isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style
    block_scalar = isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")
    stop = line_after(text, a_end) if collection or block_scalar else a_end
    first_col = a_start - line_start(text, a_start)
    lines = _source(text, a_start, stop, anchors).split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    if lines and not lines[-1].strip() and len(lines) > 1:
        lines.pop()
    if len(lines) == 1:
        value = lines[0].strip()
        plain = isinstance(node, yaml.ScalarNode) and node.style is None
        if site.flow and plain and any(c in value for c in ",[]{}"):
            value = quoted(str(node.value))
        return [Edit(site.start, site.end, value)]
    if site.flow:
        data = yaml.constructor.SafeConstructor().construct_document(node)
        return [Edit(site.start, site.end, inline(data, flow=True) or "null")]
    head, body = lines[0].strip(), lines[1:]
    item_col = site.start - line_start(text, site.start)
    if collection:
        content = min(
            (_indent(b) for b in body if b.strip() and not b.lstrip().startswith("#")),
            default=first_col,
        )
        if site.item:
            target = item_col
        else:
            target = site.column + (st.indent if isinstance(node, yaml.MappingNode) else st.seq)
        body = shift(body, target - content)
        if site.item and not head and not body[0].lstrip().startswith("#"):
            head, body = body[0].strip(), body[1:]  # `- name: ...` on the dash's line
    elif block_scalar:
        body = shift(body, site.column - aliases.holders.get(site.ident, first_col))
    else:  # a multi-line quoted or plain scalar, or flow collection: all of it below
        target = item_col if site.item else site.column + st.indent
        start_col = first_col + len(lines[0]) - len(lines[0].lstrip())
        body = [" " * target + head] + [
            " " * max(target, _indent(b) + target - start_col) + b.lstrip() if b.strip() else b
            for b in body
        ]
        head = ""
    cut = site.start
    while cut > 0 and text[cut - 1] in " \t":
        cut -= 1
    pos = line_after(text, site.end)
    glue = st.nl if pos == len(text) and not text.endswith("\n") else ""
    added = lines_text(body, st.nl)
    if glue:
        added = glue + added.removesuffix(st.nl)
    return [Edit(cut, site.end, " " + head if head else ""), Edit(pos, pos, added)]


def _source(text: str, start: int, stop: int, anchors: Sequence[Span]) -> str:
    """text[start:stop] without its anchors (`&name` and the blanks after it)."""
    parts = []
    pos = start
    for a, b in anchors:
        if a < start or a >= stop:
            continue
        while b < stop and text[b] in " \t":
            b += 1
        parts.append(text[pos:a])
        pos = b
    parts.append(text[pos:stop])
    return "".join(parts)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
