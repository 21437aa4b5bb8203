"""YAML text for the values the tool writes: scalars, flow collections, block lines. Pure.

Only values the tool owns come through here (a person's bytes are copied, never emitted).
Every string is written in a form YAML 1.1 (PyYAML, which dbt reads with) and YAML 1.2 read
back as the same text: plain when it is a simple word, a literal block for multi-line text
that allows one, else double quotes with escapes.

    Style(indent=2, seq=2, dash=2, nl="\\n")   how the file indents, taken from the file
    inline(value, flow=...)   one-line text for a value, or None when it needs block lines
    block(value, column, style, flow_keys)   the lines (no line breaks) of a block value
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import yaml
from ruamel.yaml.nodes import ScalarNode as RuamelScalarNode
from ruamel.yaml.resolver import VersionedResolver


class Style(NamedTuple):
    """How a file lays out block collections, measured on the file (defaults: SPEC's shape)."""

    indent: int = 2  # a nested mapping's keys, relative to its key
    seq: int = 2  # a block list's dashes, relative to its key (0: indentless)
    dash: int = 2  # an item's content, relative to its dash
    nl: str = "\n"


class Lines(NamedTuple):
    """A multi-line value as the file has it below (and after) its key, to move elsewhere."""

    head: str  # what follows `key:` on the key's line (` |-`, ` [a,`, a comment, or nothing)
    body: tuple[str, ...]  # the lines below, without line endings
    column: int  # the key's column there


class Copy(NamedTuple):
    """A value to write as it already is elsewhere in the file: its source text when that is
    one line (`flow_ok`: it may go inside `{...}`/`[...]`), its lines (`lines`, shifted to the
    new key's column) in block context, else `data` written anew."""

    text: str | None
    data: Any
    flow_ok: bool = False
    lines: Lines | None = None


_RESOLVER = yaml.resolver.Resolver()
_RESOLVER_12 = VersionedResolver(version=(1, 2))
_STR_TAG = "tag:yaml.org,2002:str"
_YAML11_BOOL_LETTERS = {"y", "Y", "n", "N"}  # YAML 1.1 booleans PyYAML itself lets through
_FLOW_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .@/+-]*")
# Strings that every YAML reader takes as plain text in block context.
_BLOCK_SIMPLE = re.compile(r"[A-Za-z0-9_(][A-Za-z0-9_()'.,/@:=+?&%~#! -]{0,999}")
# Characters a double-quoted scalar must escape: YAML's non-printables, its own line breaks
# (NEL, LS, PS), the byte order mark, and the quote and backslash.
_ESCAPE = re.compile(
    '[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|["\\\\]'
)
_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


@functools.lru_cache(maxsize=4096)
def simple(text: str, *, flow: bool) -> bool:
    """True when `text` is plain in YAML 1.1 and 1.2 alike, so it needs no quotes (cached:
    a big first sync writes the same statuses, tags and owners thousands of times)."""
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


def quoted(text: str) -> str:
    """A double-quoted scalar: JSON's form when every character is printable, else escapes."""
    if text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return '"' + _ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _literal_ok(text: str) -> bool:
    """A `|-`/`|` block holds `text` exactly: printable lines, no leading space or tab on
    the first line (it would set the indentation), at most one final line break."""
    body = text[:-1] if text.endswith("\n") else text
    return (
        "\n" in body
        and text[:1] not in (" ", "\t", "\n")
        and not body.endswith("\n")
        and all(line.isprintable() for line in body.split("\n"))
    )


def scalar(value: Any, *, flow: bool) -> str:
    """One-line text for a scalar (multi-line strings are double-quoted here)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if not text:
        return "''"
    return text if simple(text, flow=flow) else quoted(text)


def inline(value: Any, *, flow: bool) -> str | None:
    """The value on one line after `key: ` or `- `; None when it goes on block lines."""
    if isinstance(value, Copy):
        if value.text is not None and (value.flow_ok or not flow):
            return value.text
        if value.lines is not None and not flow:
            return None
        return inline(value.data, flow=flow)
    if isinstance(value, str) and "\n" in value and not flow and _literal_ok(value):
        return None
    if isinstance(value, Mapping):
        if value and not flow:
            return None
        return (
            "{" + ", ".join(f"{scalar(k, flow=True)}: {_flow(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        if value and not flow:
            return None
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value, flow=flow)


def _flow(value: Any) -> str:
    out = inline(value, flow=True)
    assert out is not None
    return out


def literal_head(text: str) -> str:
    return "|" if text.endswith("\n") else "|-"


def literal_lines(text: str, column: int) -> list[str]:
    pad = " " * column
    body = text[:-1] if text.endswith("\n") else text
    return [pad + line if line else "" for line in body.split("\n")]


def entry(
    key: str, value: Any, column: int, style: Style, flow_keys: frozenset[str], at: str = ""
) -> list[str]:
    """The lines of `key: value` in a block mapping whose keys sit at `column`.

    `flow_keys` name (dotted, from the exposure) the collections the tool writes in flow
    style inside block context (`config.tags`, `config.meta.hex`, ...)."""
    path = f"{at}.{key}" if at else key
    pad = " " * column
    flow = path in flow_keys and not _has_lines(value)
    text = inline(value, flow=flow)
    if text is None and isinstance(value, Copy):
        if value.lines is not None:
            return [f"{pad}{key}:{value.lines.head}", *shifted(value.lines, column)]
        value = value.data
    if text is not None:
        return [f"{pad}{key}: {text}"]
    if isinstance(value, str):
        return [f"{pad}{key}: {literal_head(value)}", *literal_lines(value, column + style.indent)]
    return [f"{pad}{key}:", *block(value, column, style, flow_keys, path)]


def _has_lines(value: Any) -> bool:
    """A moved multi-line value inside: the tool's flow form would re-emit it."""
    if isinstance(value, Copy):
        return value.lines is not None
    return isinstance(value, Mapping) and any(_has_lines(v) for v in value.values())


def shifted(lines: Lines, column: int) -> list[str]:
    """`lines.body` moved from `lines.column` to `column` (see `shift`)."""
    return shift(lines.body, column - lines.column)


def shift(lines: Sequence[str], delta: int) -> list[str]:
    """Each line gains or loses the same number of leading spaces (a block scalar's
    indentation is relative, so it still holds); blank lines stay as they are."""
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
        elif delta >= 0:
            out.append(" " * delta + line)
        else:
            spaces = len(line) - len(line.lstrip(" "))
            out.append(line[min(spaces, -delta) :])
    return out


def block(
    value: Any, column: int, style: Style, flow_keys: frozenset[str], path: str = ""
) -> list[str]:
    """The lines below `key:` (at `column`) for a non-empty mapping or list."""
    if isinstance(value, Mapping):
        lines: list[str] = []
        for k, v in value.items():
            lines += entry(str(k), v, column + style.indent, style, flow_keys, path)
        return lines
    pad = " " * (column + style.seq)
    return [
        f"{pad}- {_flow(v) if isinstance(v, Mapping | list | tuple) else item(v)}" for v in value
    ]


def item(value: Any) -> str:
    out = inline(value, flow=False)
    return out if out is not None else quoted(str(value))


def lines_text(lines: Sequence[str], nl: str) -> str:
    return "".join(line + nl for line in lines)
