"""Where the changes of one managed exposure go in the text: (start, end, new text) edits. Pure.

    exposure_edits(text, node, dash, data, ops, style) -> [Edit]

Rules (SPEC "Never lose a person's work"): a changed scalar or flow collection is replaced in
its own span; a key the tool removes takes its own lines (from the key's line to the end of
its value's last line) and nothing else, so a comment line above the next key stays; a key
the tool adds gets new lines after the last key that precedes it in the tool's order; list
items are added and removed one line (or one `, item`) at a time, the items that stay keep
their bytes and comments. Inside `{...}`/`[...]` only the entry and one comma go.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hex_exposures.yaml_plan import ABSENT, DROP, FLOW_KEYS, Moved, Op, Path, get, order_of
from hex_exposures.yaml_spans import Entry, Node, line_after, line_start
from hex_exposures.yaml_text import (
    Copy,
    Lines,
    Style,
    block,
    entry,
    inline,
    item,
    lines_text,
    literal_head,
    literal_lines,
    quoted,
)


class Edit(NamedTuple):
    start: int
    end: int
    text: str
    order: tuple[int, ...] = ()  # places several insertions at one position


class _Ctx(NamedTuple):
    text: str
    style: Style
    data: Mapping[str, Any]
    root: Node


def exposure_edits(
    text: str, node: Node, dash: int, data: Mapping[str, Any], ops: Sequence[Op], style: Style
) -> list[Edit]:
    ctx = _Ctx(text, style, data, node)
    out: list[Edit] = []
    deleted: dict[int, set[str]] = {}  # map start -> keys removed
    touched: set[int] = set()  # maps that get a key
    parents: dict[int, tuple[Node, Entry | None]] = {}
    for op in ops:
        chain = _resolve(node, op.path)
        container = chain[-2].value if len(chain) >= 2 else node
        if len(chain) < len(op.path) and chain and chain[-1].value.alias:
            continue  # through an alias: `yaml_alias` writes it out before
        if op.value is ABSENT or op.value is DROP:
            if len(chain) == len(op.path):
                out += _delete(ctx, container, chain[-1], dash if container is node else None)
                deleted.setdefault(container.start, set()).add(op.path[-1])
                parents[container.start] = (container, chain[-2] if len(chain) >= 2 else None)
            continue  # a merge key supplies it: nothing of ours to remove
        if len(chain) == len(op.path):
            e = chain[-1]
            if isinstance(op.value, list) and e.value.kind == "seq" and not e.value.alias:
                out += _list(ctx, e, get(ctx.data, op.path), op.value, op.path)
            else:
                out += _replace(ctx, e, _resolved(ctx, op.value), op.path)
            continue
        depth = len(chain)
        holder = chain[-1].value if chain else node
        rest = _nest(op.path[depth + 1 :], op.value)
        if holder.kind == "map":
            touched.add(holder.start)
            head = dash if holder is node else (chain[-1].colon if chain else dash)
            out += _insert(ctx, holder, op.path[:depth], op.path[depth], rest, head)
        else:
            out += _replace(ctx, chain[-1], _nest(op.path[depth:], op.value), op.path[:depth])
    for start, keys in deleted.items():
        container, owner = parents[start]
        emptied = {e.key for e in container.entries} <= keys and start not in touched
        if emptied and owner and not container.collection_flow:
            out.append(Edit(owner.colon, owner.colon, " {}"))  # `owner:` would read null
    return out


def _resolve(node: Node, path: Path) -> list[Entry]:
    chain: list[Entry] = []
    for key in path:
        if node.kind != "map" or node.alias:
            break
        e = node.get(key)
        if e is None:
            break
        chain.append(e)
        node = e.value
    return chain


def _nest(path: Path, value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _resolved(ctx: _Ctx, value: Any) -> Any:
    """Moved values become Copy: their own one-line text where it can be reused."""
    if isinstance(value, Moved):
        chain = _resolve(ctx.root, value.source)
        if len(chain) == len(value.source):
            n = chain[-1].value
            src = ctx.text[n.start : n.end]
            if "\n" not in src and not n.alias:
                flow_ok = n.collection_flow or n.style in ("'", '"') or n.flow
                return Copy(src, value.data, flow_ok)
            if not n.alias and not n.flow:
                return Copy(None, value.data, False, _lines_of(ctx, chain[-1]))
        return Copy(None, value.data)
    if isinstance(value, dict):
        return {k: _resolved(ctx, v) for k, v in value.items()}
    return value


def _lines_of(ctx: _Ctx, e: Entry) -> Lines:
    """A block entry's multi-line value with what follows its key on the key's line."""
    text = ctx.text
    below = line_after(text, e.colon)
    head = text[e.colon : below].rstrip("\r\n")
    body = text[below : line_after(text, e.value.end)]
    lines = tuple(line.removesuffix("\r") for line in body.split("\n"))
    return Lines(head, lines[:-1] if lines and lines[-1] == "" else lines, _key_column(ctx, e))


def _key_column(ctx: _Ctx, e: Entry) -> int:
    return e.start - line_start(ctx.text, e.start)


def _end_of_line(ctx: _Ctx, pos: int) -> int:
    """Start of the next line; at the end of a text without a final break, the end."""
    return line_after(ctx.text, pos)


def _lines(ctx: _Ctx, pos: int, lines: list[str]) -> Edit:
    text = lines_text(lines, ctx.style.nl)
    if pos == len(ctx.text) and ctx.text and not ctx.text.endswith("\n"):
        text = ctx.style.nl + text.removesuffix(ctx.style.nl)
    return Edit(pos, pos, text)


# --- replacing a value ------------------------------------------------------------------------


def _replace(ctx: _Ctx, e: Entry, value: Any, path: Path) -> list[Edit]:
    n = e.value
    dotted = ".".join(path)
    text = inline(value, flow=n.flow or dotted in FLOW_KEYS)
    if n.flow and text is None:
        text = inline(value, flow=True)
    empty = n.start == n.end and not n.alias
    block_value = n.kind in ("map", "seq") and not n.collection_flow and not n.alias
    if text is not None:
        if empty:
            return [Edit(e.colon, e.colon, " " + text)]
        if block_value:
            return [Edit(e.colon, n.end, " " + text)]
        return [Edit(n.start, n.end, text)]
    column = _key_column(ctx, e)
    if isinstance(value, Copy):
        value = value.data
    if isinstance(value, str):
        head = literal_head(value)
        body = literal_lines(value, column + ctx.style.indent)
        first = Edit(e.colon, e.colon, " " + head) if empty else Edit(n.start, n.end, head)
        if block_value:
            first = Edit(e.colon, n.end, " " + head)
        return [first, _lines(ctx, _end_of_line(ctx, max(n.end, e.colon)), body)]
    body = block(value, column, ctx.style, FLOW_KEYS, dotted)
    if empty:
        return [_lines(ctx, _end_of_line(ctx, e.colon), body)]
    if block_value:  # a block map where a list goes, or the other way round
        start = _end_of_line(ctx, e.colon)
        return [Edit(start, _end_of_line(ctx, n.end), lines_text(body, ctx.style.nl))]
    return [Edit(e.colon, n.end, ""), _lines(ctx, _end_of_line(ctx, n.end), body)]


# --- removing a key ---------------------------------------------------------------------------


def _delete(ctx: _Ctx, container: Node, e: Entry, dash: int | None) -> list[Edit]:
    if container.collection_flow or container.flow:
        spans = [(x.start, x.value.end) for x in container.entries]
        return _flow_removals(ctx.text, spans, {container.entries.index(e)})
    text = ctx.text
    begin = line_start(text, e.start)
    end = _end_of_line(ctx, e.value.end)
    before = text[begin : e.start]
    if not before.strip(" \t"):
        return [Edit(begin, end, "")]
    # The key shares its line with the item's dash (`- maturity: high`): the dash stays, alone.
    cut = end
    while cut > e.start and text[cut - 1] in "\r\n":
        cut -= 1
    keep_to = begin + len(before.rstrip(" \t"))
    return [Edit(keep_to, cut, "")]


def _flow_removals(text: str, spans: Sequence[tuple[int, int]], doomed: set[int]) -> list[Edit]:
    """Remove items of a flow collection and one comma each; comments between them stay.

    An item with a kept item after it takes the comma after it; any other takes the comma
    before it, so every comma goes at most once."""
    kept = [i for i in range(len(spans)) if i not in doomed]
    last_kept = kept[-1] if kept else -1
    out: list[Edit] = []
    for i in sorted(doomed):
        s, e = spans[i]
        if i < last_kept:
            comma = _comma_after(text, e)
            if comma is None:
                out.append(Edit(s, e, ""))
                continue
            j = comma + 1
            while j < len(text) and text[j] in " \t":
                j += 1
            if text[e:comma].strip(" \t"):
                out += [Edit(s, e, ""), Edit(comma, j, "")]
            else:
                out.append(Edit(s, j, ""))
        elif i > 0 and (comma := _comma_after(text, spans[i - 1][1])) is not None:
            if text[comma + 1 : s].strip(" \t"):
                out += [Edit(comma, comma + 1, ""), Edit(s, e, "")]
            else:
                out.append(Edit(comma, e, ""))
        else:
            out.append(Edit(s, e, ""))
    if not kept and spans and (comma := _comma_after(text, spans[-1][1])) is not None:
        out.append(Edit(comma, comma + 1, ""))  # `[a,]`: the trailing comma too
    return out


def _comma_after(text: str, pos: int) -> int | None:
    i = pos
    while i < len(text):
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "#":
            found = text.find("\n", i)
            i = len(text) if found < 0 else found
        elif ch == ",":
            return i
        else:
            return None
    return None


# --- adding a key -----------------------------------------------------------------------------


def _insert(ctx: _Ctx, holder: Node, at: Path, key: str, value: Any, head: int) -> list[Edit]:
    value = _resolved(ctx, value)
    order = order_of(at)
    rank = order.index(key) if key in order else len(order)
    before = [e for e in holder.entries if e.key in order and order.index(e.key) < rank]
    if holder.collection_flow or holder.flow:
        text = f"{key}: {inline(value, flow=True)}"
        if before:
            return [Edit(before[-1].value.end, before[-1].value.end, ", " + text, (rank,))]
        if holder.entries:
            first = holder.entries[0].start
            return [Edit(first, first, text + ", ", (rank,))]
        opening = ctx.text.index("{", holder.start) + 1
        return [Edit(opening, opening, text, (rank,))]
    lines = entry(key, value, holder.column, ctx.style, FLOW_KEYS, ".".join(at))
    if before:
        pos = _end_of_line(ctx, before[-1].value.end)
    elif holder.entries and ctx.text[
        line_start(ctx.text, holder.entries[0].start) : holder.entries[0].start
    ].strip(" \t"):
        pos = _end_of_line(ctx, holder.entries[0].value.end)  # the first key is on the dash line
    else:
        pos = _end_of_line(ctx, head)
    edit = _lines(ctx, pos, lines)
    return [edit._replace(order=(rank,))]


# --- lists ------------------------------------------------------------------------------------


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _list(ctx: _Ctx, e: Entry, have: Any, want: list[Any], path: Path) -> list[Edit]:
    seq = e.value
    have = have if isinstance(have, list) else []
    if len(have) != len(seq.items):
        return _replace(ctx, e, want, path)
    if not seq.items and not seq.flow and want:
        return _replace(ctx, e, want, path)  # `[]` in block context: the tool's block list
    matcher = difflib.SequenceMatcher(
        None, [_canon(h) for h in have], [_canon(w) for w in want], autojunk=False
    )
    ops = matcher.get_opcodes()
    doomed = {i for tag, i1, i2, _, _ in ops if tag in ("delete", "replace") for i in range(i1, i2)}
    flow = seq.collection_flow or seq.flow
    out: list[Edit] = []
    if flow:
        spans = [(x.start, x.end) for x in seq.items]
        out += _flow_removals(ctx.text, spans, doomed)
        kept = [i for i in range(len(spans)) if i not in doomed]
        for tag, i1, _, j1, j2 in ops:
            if tag not in ("insert", "replace"):
                continue
            texts = [inline(w, flow=True) or quoted(str(w)) for w in want[j1:j2]]
            prev = [i for i in kept if i < i1]
            nxt = [i for i in kept if i >= i1]
            if prev:
                out.append(
                    Edit(
                        spans[prev[-1]][1],
                        spans[prev[-1]][1],
                        "".join(", " + t for t in texts),
                        (j1,),
                    )
                )
            elif nxt:
                out.append(
                    Edit(
                        spans[nxt[0]][0], spans[nxt[0]][0], "".join(t + ", " for t in texts), (j1,)
                    )
                )
            else:
                opening = ctx.text.index("[", seq.start) + 1
                out.append(Edit(opening, opening, ", ".join(texts), (j1,)))
        return out
    dashes = _dashes(ctx.text, seq)
    for i in sorted(doomed):
        out.append(Edit(line_start(ctx.text, dashes[i]), _end_of_line(ctx, seq.items[i].end), ""))
    pad = " " * seq.column
    for tag, i1, _, j1, j2 in ops:
        if tag not in ("insert", "replace"):
            continue
        lines = [
            f"{pad}- {item(w) if not isinstance(w, Mapping | list) else inline(w, flow=True)}"
            for w in want[j1:j2]
        ]
        pos = _end_of_line(ctx, seq.items[i1 - 1].end) if i1 > 0 else _end_of_line(ctx, e.colon)
        out.append(_lines(ctx, pos, lines)._replace(order=(j1,)))
    if not want:
        out.append(Edit(e.colon, e.colon, " []"))
    return out


def _dashes(text: str, seq: Node) -> list[int]:
    """The position of each item's dash in a block list."""
    out = []
    prev = None
    for child in seq.items:
        if prev is None:
            out.append(seq.start)
        else:
            out.append(dash_between(text, prev.end, child.start))
        prev = child
    return out


def dash_between(text: str, prev_end: int, start: int) -> int:
    """The dash of the item that starts at `start`, on the first line after `prev_end`'s
    line whose text starts with `-` (the lines between hold comments)."""
    pos = line_after(text, prev_end)
    while pos < start:
        nxt = line_after(text, pos)
        stripped = text[pos:nxt].lstrip(" \t")
        if stripped.startswith("-"):
            return nxt - len(stripped)
        pos = nxt
    return line_start(text, start)
