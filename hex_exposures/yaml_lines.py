"""Read one exposure's lines as PyYAML would, when they are in the shapes the writer uses. Pure.

    read_item(chunk, dash, memo) -> dict | None   None: not in those shapes, ask PyYAML
    surely_uncommented(chunk, memo) -> bool       no comment in an item just read

The read-back guard reads every exposure the tool wrote. PyYAML takes ~1 ms for one of
~80 lines (18 s for 18,582), but those lines repeat: 1.56 million lines, 261,000 distinct.
So this reads the block structure itself from the indentation, and every value text (after
`key: ` or `- `) with PyYAML, once per distinct text (`memo`). It accepts only what it reads
exactly as PyYAML does (tests/yaml_lines_test.py checks that against PyYAML on generated
text): block mappings and lists, one value per line, word keys, blank and comment lines.
Anything else (a block scalar, a value running onto the next line, an anchor, a tab, a
duplicate key) is refused, and the caller reads the item with PyYAML.
"""

from __future__ import annotations

import functools
import re
from collections.abc import MutableMapping
from typing import Any, NamedTuple

import yaml

from hex_exposures.yaml_spans import STR_TAG, Loader

_LINE = re.compile(r"( *)(?:-( +))?(?:([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?|(.+))")
_RESOLVER = yaml.resolver.Resolver()
_IGNORED = re.compile(r"[ ]*(?:#.*)?")  # blank or comment-only lines
# Quick reads, ASCII only: a plain scalar without `:`, `#` or a leading indicator is its own
# text with the tag the resolver gives it; a double-quoted one without `\\` is its content;
# a flow mapping of word keys and such scalars, on one line (the writer's referenced columns).
_PLAIN = re.compile(r"[A-Za-z0-9_(][A-Za-z0-9_()'.,/@=+?%~! -]*(?<! )")
_FLOW_SCALAR = (
    r'[A-Za-z0-9_][A-Za-z0-9_.@/+-]*(?: [A-Za-z0-9_.@/+-]+)*|"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
)
_PAIR = re.compile(rf"([A-Za-z_][A-Za-z0-9_]*): ({_FLOW_SCALAR})(, |\}})")
_QUOTED = re.compile(r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"')
_BOOL = yaml.constructor.SafeConstructor.bool_values
_NO = object()


class _Refused(Exception):
    pass


class _Tok(NamedTuple):
    column: int
    kind: str  # "dash" | "key" | "scalar"
    key: str | None
    value: str | None  # a key's value text (None: its value is below), a scalar's text
    after_dash: bool  # on the same line as a dash


def read_item(chunk: str, dash: int, memo: MutableMapping[str, Any]) -> dict[str, Any] | None:
    """The mapping of the one list item `chunk` holds (its `-` at column `dash`), or None."""
    try:
        toks = _tokens(chunk, memo)
        if not toks or toks[0].kind != "dash" or toks[0].column != dash:
            return None
        value, end = _node(toks, 0, memo)
    except _Refused:
        return None
    if end != len(toks) or len(value) != 1 or not isinstance(value[0], dict):
        return None
    return value[0]


def surely_uncommented(chunk: str, memo: MutableMapping[str, Any]) -> bool:
    """True when `chunk`, just accepted by `read_item` with `memo`, holds no comment: every
    `#` in it sits in a value read without PyYAML (inside double quotes: `_quick` reads no
    other `#`). False means: ask `yaml_read`."""
    for line in chunk.replace("\r\n", "\n").split("\n"):
        if "#" not in line:
            continue
        toks = memo.get("\n" + line)
        if not toks:  # a comment line (or not read here)
            return False
        for tok in toks:
            if tok.value is not None and "#" in tok.value and ("\1" + tok.value) in memo:
                return False
    return True


def _tokens(chunk: str, memo: MutableMapping[str, Any]) -> list[_Tok]:
    if "\t" in chunk or "\r" in chunk.replace("\r\n", "\n"):
        raise _Refused
    out: list[_Tok] = []
    for line in chunk.replace("\r\n", "\n").split("\n"):
        key = "\n" + line  # lines repeat too; no value text starts with a line break
        toks = memo.get(key)
        if toks is None:
            toks = memo[key] = _line(line)
        out += toks
    return out


def _line(line: str) -> tuple[_Tok, ...]:
    if _IGNORED.fullmatch(line):
        return ()
    m = _LINE.fullmatch(line)
    if m is None:
        raise _Refused
    indent, spaces, key, value, scalar = m.groups()
    column = len(indent)
    out = []
    if spaces is not None:
        out.append(_Tok(column, "dash", None, None, False))
        column += 1 + len(spaces)
    if key is not None:
        if _RESOLVER.resolve(yaml.ScalarNode, key, (True, False)) != STR_TAG:
            raise _Refused  # `yes:` is a boolean key
        text = value if value and value.strip() else None
        out.append(_Tok(column, "key", key, text, spaces is not None))
    elif spaces is not None:
        out.append(_Tok(column, "scalar", None, scalar, True))
    else:
        raise _Refused  # a bare scalar line: the value above runs on
    return tuple(out)


def _node(toks: list[_Tok], i: int, memo: MutableMapping[str, Any]) -> tuple[Any, int]:
    """The node starting at token `i` and the index after it; the caller checks what follows."""
    tok = toks[i]
    if tok.kind == "dash":
        items = []
        n = len(toks)
        while i < n and toks[i].column == tok.column and toks[i].kind == "dash":
            if i + 1 >= n or not toks[i + 1].after_dash:
                raise _Refused  # `-` alone: its value is below
            content = toks[i + 1]
            if content.kind == "scalar":  # the common item, read here: no call per item
                value = memo.get(content.value or "", _NO)
                items.append(_value(content.value or "", memo) if value is _NO else value)
                i += 2
            else:
                value, i = _node(toks, i + 1, memo)
                items.append(value)
            if i < n and toks[i].column > tok.column:
                raise _Refused
        return items, i
    if tok.kind == "scalar":
        return _value(tok.value or "", memo), i + 1
    out: dict[str, Any] = {}
    column = tok.column
    while i < len(toks) and toks[i].column == column and toks[i].kind == "key":
        key, text = toks[i].key, toks[i].value
        assert key is not None
        if key in out:
            raise _Refused
        i += 1
        if text is not None:
            out[key] = _value(text, memo)
        elif i < len(toks) and (
            toks[i].column > column or (toks[i].column == column and toks[i].kind == "dash")
        ):
            out[key], i = _node(toks, i, memo)
        else:
            out[key] = None
        if i < len(toks) and (
            toks[i].column > column or (toks[i].column == column and toks[i].kind != "key")
        ):
            raise _Refused
    return out, i


def _value(text: str, memo: MutableMapping[str, Any]) -> Any:
    """What PyYAML reads for `key: <text>` (one line); refused when that is not one value."""
    if text in memo:
        return memo[text]
    quick = _quick(text)
    if quick is not _NO:
        memo[text] = quick
        return quick
    if text[:1] in ("|", ">", "&", "*", "!") or "&" in text or "*" in text:
        raise _Refused  # a block scalar takes the lines below; anchors reach across lines
    loader = Loader("k: " + text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise _Refused from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict) or list(data) != ["k"]:
        raise _Refused
    memo[text] = data["k"]
    memo["\1" + text] = True  # read by PyYAML: a `#` in it may start a comment
    return data["k"]


def _quick(text: str) -> Any:
    """`text` read without a parser when it is in a shape read alike by it; else `_NO`."""
    if _PLAIN.fullmatch(text) or _QUOTED.fullmatch(text):
        return _scalar(text)
    if not text.startswith("{"):
        return _NO
    out: dict[str, Any] = {}
    pos = 1
    while (m := _PAIR.match(text, pos)) is not None:
        key, value = m.group(1), _scalar(m.group(2))
        if key in out or value is _NO or _scalar(key) != key:
            return _NO
        out[key] = value
        pos = m.end()
        if m.group(3) == "}":
            return out if pos == len(text) else _NO
    return _NO


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        return text[1:-1]
    return _plain(text)


@functools.lru_cache(maxsize=1 << 16)
def _plain(text: str) -> Any:
    """A plain scalar by the resolver's tag (cached: keys and column names repeat)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == STR_TAG:
        return text
    if tag == "tag:yaml.org,2002:bool":
        return _BOOL[text.lower()]
    if tag == "tag:yaml.org,2002:null":
        return None
    return _NO
