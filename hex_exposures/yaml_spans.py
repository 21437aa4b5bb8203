"""Where each value of the exposures file sits in its text, from PyYAML's composer. Pure.

    compose(text) -> root node            the composed document (dbt's reader, marks kept)
    tree(node, text, aliases) -> Node     one node as a tree of spans (offsets into `text`)
    find_aliases(root, text) -> Aliases   which nodes carry an anchor that an alias uses
    style(seq, text, nl) -> Style         how the file indents its exposures

A span's `end` is where its content ends: a block scalar's trailing blank lines and a block
collection's trailing comments are not part of it. An alias is its own `*name` text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import yaml

from hex_exposures.yaml_text import Style

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # what dbt reads with
STR_TAG = "tag:yaml.org,2002:str"


class Entry(NamedTuple):
    key: str | None  # the key's text when it is a string
    start: int  # the key's first character
    colon: int  # just after the `:`
    value: Node


class Node(NamedTuple):
    kind: str  # "map" | "seq" | "scalar"
    start: int
    end: int  # end of content (see module doc)
    column: int
    flow: bool  # a flow collection, or anything inside one
    collection_flow: bool  # this collection is written `{...}`/`[...]`
    style: str | None  # a scalar's style: None plain, "'", '"', "|", ">"
    entries: tuple[Entry, ...]
    items: tuple[Node, ...]
    alias: bool  # this occurrence is an alias (`*name`)
    ident: int  # id() of the composed node, the same for an anchor and its aliases

    def get(self, key: str) -> Entry | None:
        """The entry dbt reads for `key` (the last one, as PyYAML keeps the last)."""
        found = None
        for e in self.entries:
            if e.key == key:
                found = e
        return found


class Aliases(NamedTuple):
    anchored: dict[int, tuple[int, int]]  # node id -> span of the anchored node
    uses: dict[int, list[tuple[int, int]]]  # node id -> spans of its `*alias` texts
    nodes: dict[int, Any]  # node id -> the composed node
    holders: dict[int, int]  # node id -> column of its key, or of its list's dashes


def compose(text: str) -> Any:
    loader = Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def content_end(node: Any, text: str, seen: set[int] | None = None) -> int:
    """Where a composed node's text ends: its last scalar or flow collection; a block scalar
    ends at its last non-blank character."""
    seen = set() if seen is None else seen
    if isinstance(node, yaml.ScalarNode):
        end = int(node.end_mark.index)
        if node.style in ("|", ">"):
            while end > node.start_mark.index and text[end - 1] in " \t\r\n":
                end -= 1
        return end
    if node.flow_style or not node.value or id(node) in seen:
        return int(node.end_mark.index)
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        key, last = node.value[-1]
        return _occurrence_end(last, text.find(":", key.end_mark.index) + 1, text, seen)
    pos = int(node.start_mark.index)
    for child in node.value:
        pos = _occurrence_end(child, pos, text, seen)
    return pos


def _occurrence_end(node: Any, after: int, text: str, seen: set[int]) -> int:
    """Where this occurrence of `node` ends, the text before it ending at `after`: an alias
    (the composed node's marks are its anchor's, before `after`) ends with its `*name`."""
    if node.start_mark.index < after:
        span = alias_at(text, after)
        if span is not None:
            return span[1]
    return content_end(node, text, seen)


def alias_at(text: str, after: int) -> tuple[int, int] | None:
    """The `*name` text of an alias that follows position `after` (past `:`, `-`, `,`,
    brackets, spaces and comments), or None when the next thing is not an alias."""
    i, n = after, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n:-,[{?":
            i += 1
        elif ch == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif ch == "*":
            j = i + 1
            while j < n and text[j] not in " \t\r\n,[]{}":
                j += 1
            return i, j
        else:
            return None
    return None


def tree(node: Any, text: str, aliases: Aliases, after: int, flow: bool = False) -> Node:
    """`node` as spans. `after` is where the text before it ends (a key, a dash, `[`), used
    to find the alias text when this occurrence is an alias."""
    ident = id(node)
    uses = aliases.uses.get(ident)
    if uses is not None:
        span = alias_at(text, after)
        if span is not None and span in uses:
            return Node(
                "scalar", span[0], span[1], _column(text, span[0]), flow, False, None,
                (), (), True, ident,
            )  # fmt: skip
    start = int(node.start_mark.index)
    column = int(node.start_mark.column)
    end = content_end(node, text)
    if text[start : start + 1] in ("&", "!") and not isinstance(node, yaml.ScalarNode):
        start = _below_properties(text, start, node)
        column = _column(text, start)
    if isinstance(node, yaml.ScalarNode):
        return Node("scalar", start, end, column, flow, False, node.style, (), (), False, ident)
    inner = flow or bool(node.flow_style)
    if isinstance(node, yaml.SequenceNode):
        items, prev = [], start
        for child in node.value:
            sub = tree(child, text, aliases, prev, inner)
            items.append(sub)
            prev = sub.end
        return Node(
            "seq", start, end, column, flow, bool(node.flow_style), None, (), tuple(items),
            False, ident,
        )  # fmt: skip
    entries = []
    for k, v in node.value:
        key = k.value if isinstance(k, yaml.ScalarNode) and k.tag == STR_TAG else None
        colon = text.find(":", k.end_mark.index) + 1
        entries.append(
            Entry(key, int(k.start_mark.index), colon, tree(v, text, aliases, colon, inner))
        )
    return Node(
        "map", start, end, column, flow, bool(node.flow_style), None, tuple(entries), (),
        False, ident,
    )  # fmt: skip


def _below_properties(text: str, start: int, node: Any) -> int:
    """A block collection's first key or dash, below its `&anchor`/`!tag` (where the
    composer's mark is)."""
    if node.flow_style or not node.value:
        return start
    pos = line_after(text, start)
    while pos < len(text):
        nxt = line_after(text, pos)
        stripped = text[pos:nxt].lstrip(" \t")
        if stripped.strip() and not stripped.startswith("#"):
            return nxt - len(stripped)
        pos = nxt
    return start


def _column(text: str, pos: int) -> int:
    return pos - (text.rfind("\n", 0, pos) + 1)


def find_aliases(root: Any, text: str) -> Aliases:
    """Anchored nodes and the spans of the aliases that use them (document order: the
    first occurrence of a node is its anchor, any later one an alias)."""
    anchored: dict[int, tuple[int, int]] = {}
    uses: dict[int, list[tuple[int, int]]] = {}
    nodes: dict[int, Any] = {}
    holders: dict[int, int] = {}
    if root is None or "*" not in text:
        return Aliases(anchored, uses, nodes, holders)
    seen: dict[int, int] = {}  # node id -> its holder's column

    def walk(node: Any, after: int, holder: int) -> int:
        if id(node) in seen:
            span = alias_at(text, after)
            if span is not None:
                anchored.setdefault(id(node), (node.start_mark.index, content_end(node, text)))
                uses.setdefault(id(node), []).append(span)
                nodes[id(node)] = node
                holders[id(node)] = seen[id(node)]
                return span[1]
            return after
        seen[id(node)] = holder
        if isinstance(node, yaml.SequenceNode):
            prev = node.start_mark.index
            for child in node.value:
                prev = walk(child, prev, node.start_mark.column)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(k, k.start_mark.index, node.start_mark.column)
                walk(v, text.find(":", k.end_mark.index) + 1, k.start_mark.column)
        return (
            int(node.end_mark.index)
            if isinstance(node, yaml.ScalarNode)
            else content_end(node, text)
        )

    walk(root, 0, 0)
    return Aliases(anchored, uses, nodes, holders)


def style(seq: Any, key_column: int, text: str, nl: str) -> Style:
    """The file's indentation, measured on its `exposures:` list (SPEC's shape by default)."""
    seq_offsets: Counter[int] = Counter()
    indents: Counter[int] = Counter()
    dashes: Counter[int] = Counter()
    items = seq.value[:20] if isinstance(seq, yaml.SequenceNode) and not seq.flow_style else []
    if items:
        seq_offsets[seq.start_mark.column - key_column] += 1
    for item in items:
        if not isinstance(item, yaml.MappingNode) or item.flow_style:
            continue
        line_start = text.rfind("\n", 0, item.start_mark.index) + 1
        if text[line_start : item.start_mark.index].strip() == "-":
            dashes[item.start_mark.column - seq.start_mark.column] += 1
        stack = [item]
        while stack:
            m = stack.pop()
            for k, v in m.value:
                if isinstance(v, yaml.MappingNode) and not v.flow_style and v.value:
                    indents[v.start_mark.column - k.start_mark.column] += 1
                    stack.append(v)
                elif isinstance(v, yaml.SequenceNode) and not v.flow_style and v.value:
                    seq_offsets[v.start_mark.column - k.start_mark.column] += 1
    indent = _most(indents, 2)
    return Style(
        indent=indent if indent > 0 else 2,
        seq=max(_most(seq_offsets, 2), 0),
        dash=max(_most(dashes, 2), 2),
        nl=nl,
    )


def _most(seen: Counter[int], default: int) -> int:
    return min(seen, key=lambda k: (-seen[k], k)) if seen else default


def newline(text: str) -> str:
    """The file's majority line ending."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def line_after(text: str, pos: int) -> int:
    """Start of the line after the one holding `pos` (the end of the text at most)."""
    found = text.find("\n", pos)
    return len(text) if found < 0 else found + 1
