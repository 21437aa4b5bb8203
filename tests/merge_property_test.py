"""Property tests for `yaml_merge.merge`: a person's work survives any sync (issue 8).

Hypothesis writes whole exposures files the way people do: comments anywhere, hand-written
exposures (some that only look managed), managed exposures with keys a person added, pinned
`keep` fields and stale values, odd scalars (yes/no/on/null/'1e3'/':'/'#'), other top-level
keys, CRLF; and tool output (lists of `Exposure`) that keeps, changes, drops and adds managed
exposures. For each pair:

- every byte outside the managed fields survives: the text above and below the list, each
  hand-written exposure's chunk, every comment line between exposures, every full-line
  comment inside a managed exposure that stays;
- every line that holds no tool-owned value (person keys in any YAML spelling, anchors and
  aliases, full-line comments wherever they are: between list items, under a key the tool
  deletes, inside flow collections, after `- `) is in the output verbatim and in order, in
  4-space, indentless and CRLF files; new exposures follow the file's list indentation;
- PyYAML (libyaml's loader, dbt's reader) reads each managed field as intended, a pinned
  field as it was, a person's extra key as it was (an alias of an owner the tool edits, and
  an owner edited through an alias of a mapping outside the list, included);
- merging the result again changes no byte.

`ExposuresFileError` is allowed as a "refuse" outcome when its message is one line naming
the file (and is not the merge's own "internal error" guard); refusals are counted.
`tests/yaml_merge_test.py` holds the example-based tests; nothing here repeats them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, NamedTuple

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hex_exposures.errors import ExposuresFileError
from hex_exposures.records import Exposure
from hex_exposures.yaml_merge import merge

PATH = "models/hex_exposures.yml"
COUNTS: Counter[str] = Counter()
MISSING: Any = object()

# Raw YAML scalars a person may type, with what PyYAML reads (computed, not guessed).
ODD_YAML = [
    "yes",
    "no",
    "on",
    "off",
    "null",
    "~",
    "'1e3'",
    "1e3",
    "':'",
    "'#'",
    '"#"',
    "'yes'",
    '"no"',
    "12:30",
    "2024-01-01",
    "'a: b'",
    "plain words here",
    "'it''s'",
    '"caf\\u00e9 \\u2713"',
    "[]",
    "{}",
    "[a, 'b c']",
    "{k: v, n: 1}",
    "0x1F",
    "+.inf",
    "'@x'",
    "'*not an alias'",
    "'&x'",
    '"tab\\there"',
    "Übersicht 📈",
    "y",
    "n",
    "'- dash'",
    "'{{ region }}'",
    "42",
    "-1.5",
]
# Strings the tool may be asked to write (through `Exposure` fields).
ODD_TEXT = [
    "yes",
    "No",
    "on",
    "OFF",
    "null",
    "~",
    "1e3",
    ":",
    "#",
    "a: b",
    "a #b",
    "- x",
    "[1, 2]",
    "{a: b}",
    "{{ x }}",
    "{% raw %}{{ x }}{% endraw %}",
    "two\nlines",
    "ends\n",
    " lead",
    "trail ",
    "12:30",
    "2024-01-01",
    "",
    "'q'",
    '"dq"',
    "tab\there",
    "\u2028sep",
    "\x85nel",
    "é ✓ 📈",
    "y",
    "<<",
    "=",
    "*a",
    "&a",
    "!t",
    "%p",
    "@at",
    "`tick`",
    "| pipe",
    "> fold",
]
DEPS = [
    "ref('fct_orders')",
    "ref('dim_customers', v=2)",
    "ref('pkg', 'm')",
    "source('stripe', 'charges')",
    "source('crm', 'customers')",
]
EMAILS = ["jane@acme.com", "bob@acme.com", "o'neil@acme.com", "a+b@x.io"]
TAGS = ["finance", "ops", "marketing", "yes", "null"]
TEXTS = st.sampled_from(ODD_TEXT) | st.text(max_size=15)
COMMENT_TEXT = st.text(alphabet="abc XYZ:#'\"-{}[]é✓", max_size=12)


def dq(text: str) -> str:
    """`text` as a YAML double-quoted scalar that PyYAML reads back exactly."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif (
            0x20 <= code <= 0x7E
            or (0xA0 <= code <= 0xFFFD and ch not in "\u2028\u2029\ufeff")
            or code >= 0x10000
        ):
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


# dbt reads with libyaml's loader when PyYAML has it (it allows a tab before a comment).
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)


def loads(scalar: str) -> Any:
    return yaml.safe_load("k: " + scalar)["k"]


class Managed(NamedTuple):
    """A managed exposure as written in the file."""

    pid: str
    name: str
    keep: tuple[str, ...]
    extras: tuple[tuple[str, ...], ...]  # paths of keys only a person added
    must_comments: tuple[str, ...]  # comment texts that must survive while it is kept


class Case(NamedTuple):
    text: str
    nl: str
    head: str  # text before the `exposures:` key line (or all of it when there is none)
    tail: str  # text after the last exposure
    hand_chunks: tuple[str, ...]  # each hand-written exposure, byte for byte
    gap_lines: tuple[str, ...]  # comment lines between exposures, byte for byte
    managed: tuple[Managed, ...]
    wanted: tuple[Exposure, ...]
    person_lines: tuple[str, ...]  # lines holding no tool value, in order: all must stay
    d: int  # the list's indent under `exposures:`
    classes: frozenset[str]  # which of CLASSES this file exercises


class _Writer:
    """Builds one file's text and remembers what must survive."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw
        self.n = 0

    def comment(self) -> str:
        self.n += 1
        return f"# c{self.n}: {self.draw(COMMENT_TEXT)}".rstrip()

    def maybe_eol(self, chance: bool) -> str:
        return "   " + self.comment() if chance else ""


def _scalar_text(draw: Any, value: str | None = None) -> str:
    """A YAML scalar for a managed field: the wanted value exactly, or something odd."""
    if value is not None and draw(st.booleans()):
        return dq(value) if draw(st.booleans()) or "\n" in value else _plainish(value)
    return draw(st.sampled_from(ODD_YAML) | st.text(max_size=10).map(dq))


def _plainish(value: str) -> str:
    """A plain scalar when PyYAML reads it back as `value`, else double quotes."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9 _.]*", value) and not value.endswith(" "):
        try:
            if loads(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return dq(value)


@st.composite
def exposure_for(draw: Any, pid: str, name: str) -> Exposure:
    return Exposure(
        name=name,
        label=draw(TEXTS),
        type=draw(st.sampled_from(["dashboard", "notebook"])),
        maturity=draw(st.sampled_from(["high", "medium", "low", None])),
        url=f"https://app.hex.tech/acme/hex/{pid}",
        description=draw(TEXTS),
        owner_name=draw(TEXTS),  # build_exposure always names an owner ("unknown" at worst)
        owner_email=draw(st.none() | st.sampled_from(EMAILS)),
        # An exposed project always resolves to at least one node (SPEC "What leaves").
        depends_on=tuple(sorted(draw(st.sets(st.sampled_from(DEPS), min_size=1, max_size=4)))),
        tags=("hex", *sorted(draw(st.sets(st.sampled_from(TAGS), max_size=2)))),
        project_id=pid,
        hex_meta={
            "status": draw(st.none() | TEXTS),
            "categories": draw(st.lists(TEXTS, max_size=2)),
            "published": draw(st.booleans()),
        },
    )


KEEPS = [
    (),
    ("description",),
    ("owner",),
    ("label", "owner.name"),
    ("name",),
    ("depends_on",),
    ("config.tags",),
    ("maturity", "type"),
    ("url",),
    ("config.meta.hex",),
    ("config.meta.hex.status",),  # a child path pins only that child
    ("Description",),  # names no tool field: a warning, nothing pinned
    ("description, owner",),  # one entry, not two: nothing pinned
]
# A person's values under meta, in YAML's many spellings: (first line, continuation lines).
PERSON_SPELLINGS: list[tuple[str, tuple[str, ...]]] = [
    ("+12", ()),
    ("~", ()),
    (".NaN", ()),
    ("-.inf", ()),
    ("2024-01-01", ()),
    ("2024-01-01 10:00:00", ()),
    ('"esc \\x41 \\t tab"', ()),
    ("'it''s'", ()),
    ("!!str 12", ()),
    ("0o17", ()),
    ("1_000", ()),
    ("{a: 1,   b: [x,  y]}", ()),
    ("|-", ("literal", "  kept")),
    (">+", ("folded", "text", "")),
    ("plain", ("continued plain",)),
    ("'single", ("quoted'",)),
    ('"double', ('quoted"',)),
    ("[a,  # c-first", ("b]",)),
]
CLASSES = (
    "comment between depends_on items",
    "comment under a deleted first key",
    "comment inside a flow collection",
    "person key spelling under meta",
    "maturity after a nested block",
    "keep child or unknown path",
    "tab before a comment",
    "dash with a comment",
    "anchor and alias in one exposure",
    "alias of a mapping the tool edits",
    "4-space indent",
    "indentless list",
    "crlf",
)


def _quote_keep(entry: str) -> str:
    return f"'{entry}'" if re.search(r"[ ,A-Z]", entry) else entry


def _managed_lines(
    draw: Any,
    w: _Writer,
    pid: str,
    name: str,
    want: Exposure | None,
    d: int,
    u: int,
    flags: set[str],
    shared: bool = False,
) -> tuple[list[tuple[str, bool]], Managed]:
    """One managed exposure in block style, its keys in any order, stale or current values.

    Each line comes with `person`: True when it holds no tool-owned value, so it must be in
    the output verbatim and in order while the exposure stays."""
    i = " " * (d + 2)
    s = " " * u  # one nesting level in this file's style
    keep = draw(st.sampled_from(KEEPS))
    if keep and keep[0] in ("config.meta.hex.status", "Description", "description, owner"):
        flags.add("keep child or unknown path")
    extras: list[tuple[str, ...]] = []
    must: list[str] = []

    def eol(must_survive: bool = True) -> str:
        if not draw(st.booleans()):
            return ""
        text = w.comment()
        if must_survive:
            must.append(text)
        if LOADER is not yaml.SafeLoader and draw(st.integers(0, 3)) == 0:
            flags.add("tab before a comment")  # libyaml (dbt's reader) allows it
            return draw(st.sampled_from(["\t", " \t"])) + text
        return "   " + text

    def full_comment(indent: str) -> tuple[str, bool]:
        text = w.comment()
        must.append(text)
        return indent + text, True

    T, P = False, True
    entries: list[list[tuple[str, bool]]] = [
        [(f"label: {_scalar_text(draw, want.label if want else None)}{eol()}", T)],
        [(f"type: {draw(st.sampled_from(['dashboard', 'notebook', 'application']))}", T)],
        [(f"url: https://app.hex.tech/acme/hex/{pid}", T)],
    ]
    if draw(st.booleans()):
        # Below it, a comment that belongs to the next key: it stays when maturity goes.
        entries.append(
            [(f"maturity: {draw(st.sampled_from(['high', 'low', 'medium']))}{eol(False)}", T)]
        )
    text_anchor = ""
    if draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            text_anchor = f"t{pid[:8]}"  # aliased on the exposure's last lines
        head = f"description: {'&' + text_anchor + ' ' if text_anchor else ''}|"
        entries.append([(head, T), (s + "A literal block", T), (s + "of two lines.", T)])
    else:
        entries.append(
            [(f"description: {_scalar_text(draw, want.description if want else None)}{eol()}", T)]
        )
    owner_name = _scalar_text(draw, want.owner_name if want and want.owner_name else None)
    email = dq(draw(st.sampled_from(EMAILS)))
    owner_anchor = ""
    if shared and draw(st.booleans()):
        # The tool edits through an alias of a mapping outside the list: it is written out.
        entries.append([("owner: *shared_owner", T)])
        flags.add("alias of a mapping the tool edits")
    elif draw(st.booleans()):
        pair = [(f"{s}name: {owner_name}", T), (f"{s}email: {email}", T)]
        if draw(st.booleans()):
            # The first key may be deleted (no email from Hex): the comment under it stays.
            pair = [pair[1], full_comment(s), pair[0]]
            flags.add("comment under a deleted first key")
        if draw(st.booleans()):
            owner_anchor = f"o{pid[:8]}"  # aliased below, on the exposure's last line
        owner = [(f"owner:{' &' + owner_anchor if owner_anchor else ''}", T), *pair]
        if draw(st.booleans()):
            owner.append((f"{s}slack: '#chan'{eol()}", P))
            extras.append(("owner", "slack"))
        entries.append(owner)
    else:
        entries.append([(f"owner: {{name: {dq(draw(TEXTS))}, email: {email}}}", T)])
    deps = draw(st.lists(st.sampled_from(DEPS), max_size=3, unique=True))
    if deps and draw(st.booleans()):
        lead = "" if d == 0 and draw(st.booleans()) else s
        if not lead:
            flags.add("indentless list")
        # An anchor nothing aliases: the list's items are still edited at their own column.
        dep_anchor = f" &d{pid[:8]}" if draw(st.integers(0, 3)) == 0 else ""
        block: list[tuple[str, bool]] = [(f"depends_on:{dep_anchor}", T)]
        for k, dep in enumerate(deps):
            if k and draw(st.booleans()):
                block.append(full_comment(lead))
                flags.add("comment between depends_on items")
            # A comment at the end of a dependency the tool drops goes with it.
            block.append((f"{lead}- {dep}{eol(False)}", T))
        entries.append(block)
    else:
        entries.append([(f"depends_on: [{', '.join(dq(dep) for dep in deps)}]", T)])
    marker = ["managed: true", f"project_id: {pid}"]
    keep_line = f"keep: [{', '.join(_quote_keep(k) for k in keep)}]" if keep else ""
    tag = draw(st.sampled_from(["", ", finance", ", yes"]))
    config: list[tuple[str, bool]] = [("config:", P), (f"{s}tags: [hex{tag}]", T), (f"{s}meta:", P)]
    anchor = ""
    m2, m3 = s * 2, s * 3
    if draw(st.booleans()):
        first, more = draw(st.sampled_from(PERSON_SPELLINGS))
        if "c-first" in first:
            flags.add("comment inside a flow collection")
        if draw(st.booleans()) and not more and not first.startswith(("!!", "{")):
            anchor = f"a{pid[:8]}"  # unique per file: PyYAML refuses a duplicate anchor
            first = f"&{anchor} {first}"
        config.append((f"{m2}team: {first}{eol() if not more else ''}", P))
        config += [(f"{m3}{line}" if line else "", P) for line in more]
        extras.append(("config", "meta", "team"))
        flags.add("person key spelling under meta")
    if draw(st.booleans()):
        if draw(st.booleans()):
            # A flow mapping over two lines with a comment inside it.
            text = w.comment()
            must.append(text)
            flags.add("comment inside a flow collection")
            config.append((f"{m2}hex_exposures: {{managed: true,  {text}", T))
            config.append((f"{m3}project_id: {pid}{', ' + keep_line if keep else ''}}}", T))
        else:
            config.append(
                (f"{m2}hex_exposures: {{{', '.join(marker + ([keep_line] if keep else []))}}}", T)
            )
    else:
        config += [(f"{m2}hex_exposures:", P), *((f"{m3}{m}", T) for m in marker)]
        if keep:
            config.append((f"{m3}{keep_line}", P))
        if draw(st.booleans()):
            config.append((f"{m3}note: {draw(st.sampled_from(ODD_YAML))}", P))
            extras.append(("config", "meta", "hex_exposures", "note"))
    status = draw(st.sampled_from(["Production", "null", "yes", "'12:30'"]))
    config.append((f"{m2}hex: {{status: {status}, categories: [], published: false}}", T))
    entries.append(config)
    if draw(st.booleans()):
        entries.append([(f"team_notes: {draw(st.sampled_from(ODD_YAML))}{eol()}", P)])
        extras.append(("team_notes",))
    rest = draw(st.permutations(entries))
    dash = draw(st.integers(0, 4)) == 0
    lines: list[tuple[str, bool]] = []
    if dash:
        flags.add("dash with a comment")
        text = w.comment()
        must.append(text)
        lines.append((" " * d + "- " + text, P))
        lines.append((i + f"name: {name}{eol()}", T))
    else:
        lines.append((" " * d + f"- name: {name}{eol()}", T))
    for n, entry in enumerate(rest):
        if n and draw(st.integers(0, 4)) == 0:
            lines.append(full_comment(i))
            if rest[n - 1][0][0].endswith(":") and entry[0][0].startswith("maturity:"):
                flags.add("maturity after a nested block")
        for line, person in entry:
            lines.append((i + line if line else "", person))
    if anchor and draw(st.booleans()):
        lines.append((i + f"person_alias: *{anchor}", P))  # an alias on the exposure's last line
        extras.append(("person_alias",))
        flags.add("anchor and alias in one exposure")
    if owner_anchor and draw(st.booleans()):
        lines.append((i + f"owner_copy: *{owner_anchor}", T))  # written out when owner changes
        extras.append(("owner_copy",))
        flags.add("alias of a mapping the tool edits")
    elif owner_anchor:
        lines += [(i + "owner_copies:", P), (i + s + f"- *{owner_anchor}{eol()}", T)]
        extras.append(("owner_copies",))
        flags.add("alias of a mapping the tool edits")
    if text_anchor:
        lines.append((i + f"summary_copy: *{text_anchor}{eol()}", T))
        extras.append(("summary_copy",))
        flags.add("alias of a mapping the tool edits")
    return lines, Managed(pid, name, keep, tuple(extras), tuple(must))


def _hand_lines(draw: Any, w: _Writer, name: str, d: int, lookalike_pid: str) -> list[str]:
    """A hand-written exposure: odd scalars, comments, maybe a `managed` marker that is not."""
    i = " " * (d + 2)
    lines = [f"{' ' * d}- name: {name}{w.maybe_eol(draw(st.booleans()))}"]
    lines.append(f"{i}type: {draw(st.sampled_from(['ml', 'application', 'analysis']))}")
    lines.append(f"{i}owner: {{name: {draw(st.sampled_from(ODD_YAML[6:12]))}}}")
    for key in draw(st.lists(st.sampled_from(["label", "maturity", "url", "extra"]), unique=True)):
        lines.append(f"{i}{key}: {draw(st.sampled_from(ODD_YAML))}{w.maybe_eol(draw(st.booleans()))}")  # fmt: skip
    if draw(st.booleans()):
        lines += [f"{i}description: >", f"{i}  Folded {draw(COMMENT_TEXT)!r}", f"{i}  text."]
    if draw(st.booleans()):
        lines.append(f"{i}# {draw(COMMENT_TEXT)} inside")
        lines += [f"{i}depends_on:", f"{i}  -   {draw(st.sampled_from(DEPS))}"]
    if draw(st.booleans()):
        marker = draw(
            st.sampled_from(
                [
                    f"{{managed: false, project_id: {lookalike_pid}}}",
                    f"{{managed: 'true', project_id: {lookalike_pid}}}",
                    "{managed: true}",
                    "{managed: true, project_id: ''}",
                    "{managed: true, project_id: 123}",
                ]
            )
        )
        lines += [f"{i}config:", f"{i}  meta:", f"{i}    hex_exposures: {marker}"]
    return lines


def _pid(n: int) -> str:
    return f"{n:08x}-1111-4aaa-8bbb-{n * 7919:012x}"


@st.composite
def cases(draw: Any) -> Case:
    w = _Writer(draw)
    d = draw(st.sampled_from([0, 2, 4]))
    u = draw(st.sampled_from([2, 2, 4]))
    nl = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    flags: set[str] = set()
    if u == 4:
        flags.add("4-space indent")
    if d == 0:
        flags.add("indentless list")
    if nl == "\r\n":
        flags.add("crlf")
    n_hand = draw(st.integers(0, 3))
    n_managed = draw(st.integers(0, 4))
    n_new = draw(st.integers(0, 2))
    pids = [_pid(k) for k in draw(st.permutations(range(1, n_managed + n_new + 2)))]
    file_pids, new_pids, lookalike = pids[:n_managed], pids[n_managed:-1], pids[-1]
    if new_pids and draw(st.booleans()):
        lookalike = new_pids[0]  # a hand-written exposure carries an id the tool now wants
    kept_pids = [p for p in file_pids if draw(st.booleans())]
    names = {p: f"hex_{'old' if p in file_pids else 'new'}_{p[:8]}" for p in pids}
    wanted = [draw(exposure_for(p, names[p])) for p in kept_pids + new_pids]
    by_pid = {e.project_id: e for e in wanted}

    head_lines = [w.comment() for _ in range(draw(st.integers(0, 2)))]
    shared = draw(st.booleans())
    if shared:
        head_lines += [
            "x-owner: &shared_owner",
            f"  name: {dq('Jane')}   # shared",
            "  slack: '#x'",
        ]
    if draw(st.booleans()):
        head_lines.append("version: 2" + w.maybe_eol(draw(st.booleans())))
    models = [
        "models:",
        f"  - name: m1{w.maybe_eol(True)}",
        f"    description: {draw(st.sampled_from(ODD_YAML))}",
    ]
    models_first = draw(st.booleans())
    if draw(st.booleans()) and models_first:
        head_lines += models

    items: list[tuple[str, list[tuple[str, bool]], bool]] = []  # (kind, lines, stays)
    managed: list[Managed] = []
    for p in file_pids:
        lines, m = _managed_lines(draw, w, p, names[p], by_pid.get(p), d, u, flags, shared)
        items.append(("managed", lines, p in kept_pids))
        managed.append(m)
    for k in range(n_hand):
        hand = _hand_lines(draw, w, f"hand_{k}", d, lookalike)
        items.append(("hand", [(line, True) for line in hand], True))
    items = draw(st.permutations(items))

    tail_lines = []
    if draw(st.booleans()) and not models_first:
        tail_lines += models
    tail_lines += [w.comment() for _ in range(draw(st.integers(0, 2)))]

    body: list[str] = []
    person: list[str] = list(head_lines)
    gap_lines: list[str] = []
    hand_chunks: list[str] = []
    if items:
        first = "exposures:" + w.maybe_eol(draw(st.booleans()))
        body.append(first)
        if wanted or any(stays for _, _, stays in items):
            person.append(first)  # with nothing left in it, it may become `exposures: []`
        for k, (kind, tagged, stays) in enumerate(items):
            gap = []
            for _ in range(draw(st.integers(0, 2))):
                gap.append(" " * draw(st.sampled_from([0, d, d + 2])) + w.comment())
            if k and draw(st.booleans()):
                gap.insert(0, draw(st.sampled_from(["", "  "])))
            gap_lines += [g for g in gap if g.strip()]
            # Comments above an exposure stay even when it goes; a blank line between two
            # exposures may go with either.
            person += [g for g in gap if g.strip() or (stays and items[k - 1][2])]
            lines = [line for line, _ in tagged]
            body += gap + lines
            if stays:
                person += [line for line, is_person in tagged if is_person]
            if kind == "hand":
                hand_chunks.append(nl.join(lines) + nl)
    else:
        form = draw(st.sampled_from(["exposures: []", "exposures:", "exposures: ~", None]))
        if form is not None:
            body.append(form + w.maybe_eol(draw(st.booleans())))
    person += tail_lines
    head = nl.join(head_lines) + nl if head_lines else ""
    tail = nl.join(tail_lines) + nl if tail_lines else ""
    text = head + (nl.join(body) + nl if body else "") + tail
    if not body:
        head, tail = text, ""
        person = []
    return Case(
        text=text,
        nl=nl,
        head=head,
        tail=tail,
        hand_chunks=tuple(hand_chunks),
        gap_lines=tuple(gap_lines),
        managed=tuple(managed),
        wanted=tuple(wanted),
        person_lines=tuple(person),
        d=d,
        classes=frozenset(
            flags if managed else flags & {"crlf", "indentless list", "4-space indent"}
        ),
    )


def _in_order(lines: list[str], want: tuple[str, ...]) -> str | None:
    """The first of `want` that is not in `lines` after the one before it, or None."""
    at = 0
    for line in want:
        try:
            at = lines.index(line, at) + 1
        except ValueError:
            return line
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal data, NaN equal to NaN (a person may write `.NaN`)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# --- what dbt reads ---------------------------------------------------------------------------


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
    return data


def _pid_of(item: Any) -> str | None:
    marker = _get(item, ("config", "meta", "hex_exposures"))
    if not isinstance(marker, dict) or marker.get("managed") is not True:
        return None
    pid = marker.get("project_id")
    return pid if isinstance(pid, str) and pid else None


def _fields(e: Exposure) -> list[tuple[tuple[str, ...], Any]]:
    """The tool-owned fields (SPEC "The exposures file") and what dbt must read for each."""
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
        (("config", "tags"), list(e.tags)),
        (("config", "meta", "hex_exposures", "managed"), True),
        (("config", "meta", "hex_exposures", "project_id"), e.project_id),
        # meta.hex is owned whole, but `keep` may pin one child (config.meta.hex.status).
        *((("config", "meta", "hex", str(k)), v) for k, v in e.hex_meta.items()),
    ]


def _kept(path: tuple[str, ...], keep: tuple[str, ...]) -> bool:
    dotted = ".".join(path)
    return any(dotted == k or dotted.startswith(k + ".") for k in keep)


def _reads_as(have: Any, want: Any) -> bool:
    if want is None:
        return have is None or have is MISSING
    return type(have) is type(want) and have == want


def _exposures(data: Any) -> list[Any]:
    items = data.get("exposures") if isinstance(data, dict) else None
    return items if isinstance(items, list) else []


def _others(data: Any) -> dict[str, Any]:
    return {k: v for k, v in (data or {}).items() if k != "exposures"}


def _check(case: Case, out: str) -> None:
    nl = case.nl
    before = load(case.text)
    after = load(out)
    if before is None:  # a new file (or comments only) gets `version: 2`
        assert _others(after) in ({}, {"version": 2})
    else:
        assert _others(after) == _others(before)

    # Bytes outside the managed exposures.
    assert out.startswith(case.head)
    assert out.endswith(case.tail)
    for chunk in case.hand_chunks:
        assert chunk in out, chunk
    lines = set(out.split(nl))
    for line in case.gap_lines:
        assert line in lines, line
    if "\r\n" in case.text:
        assert "\n" not in out.replace("\r\n", "")
    # The textual invariant: every line that holds no tool-owned value, verbatim and in order.
    missing = _in_order(out.split(nl), case.person_lines)
    assert missing is None, missing
    # New exposures follow the file's own list indentation.
    if case.managed or case.hand_chunks:
        for line in out.split(nl):
            if line.lstrip().startswith("- name: hex_new_"):
                assert line.startswith(" " * case.d + "- name: hex_new_"), line

    # Hand-written exposures: the same data, in the same order.
    hand_before = [e for e in _exposures(before) if _pid_of(e) is None]
    hand_after = [e for e in _exposures(after) if _pid_of(e) is None]
    assert _same(hand_after, hand_before)

    # Managed exposures: one per wanted project, each field as meant, pinned ones as they were.
    old = {_pid_of(e): e for e in _exposures(before) if _pid_of(e) is not None}
    new = [e for e in _exposures(after) if _pid_of(e) is not None]
    by_pid = {_pid_of(e): e for e in new}
    assert len(by_pid) == len(new)
    assert set(by_pid) == {e.project_id for e in case.wanted}
    in_file = {m.pid: m for m in case.managed}
    for e in case.wanted:
        data = by_pid[e.project_id]
        m = in_file.get(e.project_id)
        keep = m.keep if m else ()
        for path, value in _fields(e):
            have = _get(data, path)
            if _kept(path, keep):
                assert have == _get(old[e.project_id], path), (e.name, path)
            else:
                assert _reads_as(have, value), (e.name, path, have, value)
        hex_keys = _get(data, ("config", "meta", "hex"))
        if not _kept(("config", "meta", "hex"), keep):
            assert isinstance(hex_keys, dict) and set(hex_keys) == set(e.hex_meta), hex_keys
        if m is not None:
            for path in m.extras:
                assert _same(_get(data, path), _get(old[e.project_id], path)), (e.name, path)
            for comment in m.must_comments:
                assert comment in out, (e.name, comment)
    names = [str(e["name"]) for e in new]
    assert len(set(names)) == len(names)
    # Exposures keep their order (nothing is moved); new ones come sorted by name.
    order_before = [_pid_of(e) for e in _exposures(before)]
    staying = [p for p in (_pid_of(e) for e in new) if p in order_before]
    assert staying == [p for p in order_before if p in staying]
    added = [str(e["name"]) for e in new if _pid_of(e) not in old]
    assert added == sorted(added)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_merge_keeps_a_persons_work_writes_what_it_means_and_is_idempotent(case: Case) -> None:
    COUNTS["cases"] += 1
    for name in case.classes:
        COUNTS[name] += 1
    try:
        out = merge(case.text, list(case.wanted), path=PATH)
    except ExposuresFileError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(PATH + ": "), message
        assert "internal error" not in message, message
        COUNTS["refused"] += 1
        event(f"refused: {message.split(': ', 2)[1][:40]}")
        return
    _check(case, out)
    assert merge(out, list(case.wanted), path=PATH) == out
    COUNTS["merged"] += 1
    event(f"managed in file: {len(case.managed)}, wanted: {len(case.wanted)}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), data=st.data())
def test_a_second_sync_with_different_output_still_keeps_everything(
    case: Case, data: st.DataObject
) -> None:
    """Sync, then sync again with another tool output: the person's work is still there."""
    COUNTS["second sync cases"] += 1
    try:
        first = merge(case.text, list(case.wanted), path=PATH)
    except ExposuresFileError:
        COUNTS["second sync refused"] += 1
        return
    later = [
        data.draw(exposure_for(e.project_id, e.name))
        for e in case.wanted
        if data.draw(st.booleans())
    ]
    out = merge(first, later, path=PATH)
    # The first sync's text is the new "before"; the original hand work must still be there.
    for chunk in case.hand_chunks:
        assert chunk in out
    for line in case.gap_lines:
        assert line in set(out.split(case.nl))
    assert out.startswith(case.head) and out.endswith(case.tail)
    data_after = load(out)
    by_pid = {_pid_of(e): e for e in _exposures(data_after) if _pid_of(e) is not None}
    assert set(by_pid) == {e.project_id for e in later}
    keep = {m.pid: m.keep for m in case.managed}
    old = {_pid_of(e): e for e in _exposures(load(case.text)) if _pid_of(e)}
    for e in later:
        for path, value in _fields(e):
            if _kept(path, keep.get(e.project_id, ())):
                assert _get(by_pid[e.project_id], path) == _get(old[e.project_id], path)
            else:
                assert _reads_as(_get(by_pid[e.project_id], path), value), (path, value)
    assert merge(out, later, path=PATH) == out
    COUNTS["second sync merged"] += 1


@pytest.mark.parametrize("value", ["x?", "Bcn?", "a?b"])
@pytest.mark.parametrize("field", ["categories", "status"])
def test_values_added_to_an_empty_flow_list_read_back_with_pure_python_pyyaml(
    field: str, value: str
) -> None:
    """Found by the properties above: dbt reads with PyYAML's C loader when libyaml is built
    in and with the pure-Python one otherwise; the pure scanner ends a plain scalar at `?`
    inside flow collections, so `[x?]` is a syntax error there."""
    pid = _pid(1)
    text = (
        "exposures:\n"
        "  - name: hex_old\n"
        "    config:\n"
        "      meta:\n"
        f"        hex_exposures: {{managed: true, project_id: {pid}}}\n"
        "        hex: {status: null, categories: [], published: false}\n"
    )
    meta: dict[str, Any] = {"status": None, "categories": [], "published": True}
    meta[field] = value if field == "status" else [value]
    e = Exposure(
        name="hex_old",
        label="L",
        type="dashboard",
        maturity=None,
        url=f"https://app.hex.tech/acme/hex/{pid}",
        description="",
        owner_name=None,
        owner_email=None,
        depends_on=(),
        tags=("hex",),
        project_id=pid,
        hex_meta=meta,
    )
    out = merge(text, [e], path=PATH)
    data = yaml.load(out, Loader=yaml.SafeLoader)  # the pure-Python loader
    assert data["exposures"][0]["config"]["meta"]["hex"] == meta


def _one(pid: str, **fields: Any) -> Exposure:
    base: dict[str, Any] = {
        "name": "hex_one",
        "label": "L",
        "type": "dashboard",
        "maturity": "high",
        "url": f"https://app.hex.tech/acme/hex/{pid}",
        "description": "",
        "owner_name": "jane",
        "owner_email": "jane@acme.com",
        "depends_on": ("ref('fct_orders')",),
        "tags": ("hex",),
        "project_id": pid,
        "hex_meta": {"status": None, "categories": [], "published": True},
    }
    return Exposure(**{**base, **fields})


@pytest.mark.parametrize("text", ["\n", "\n\n", "x\n\n"])
def test_a_value_ending_in_newlines_replacing_one_above_a_comment_reads_back(text: str) -> None:
    """Found by the properties above: a `|+` block written before a full-line comment read
    back with one newline more, so the merge refused ("internal error") instead of syncing."""
    pid = _pid(2)
    before = merge(None, [_one(pid)], path=PATH).replace(
        "    label: L\n", "    label: yes\n    # about the type\n"
    )
    out = merge(before, [_one(pid, label=text)], path=PATH)
    assert load(out)["exposures"][0]["label"] == text
    assert "    # about the type\n" in out


@pytest.mark.parametrize("text", ["\tstarts with a tab\nline 2", "a\n\tb\n\tc", "\t\n"])
def test_multi_line_text_with_lines_starting_with_a_tab_reads_back(text: str) -> None:
    """Found by the properties above: a literal block whose first line starts with a tab is
    not valid YAML, so a new file with such a Hex description was refused."""
    pid = _pid(3)
    for before in (None, merge(None, [_one(pid)], path=PATH)):
        out = merge(before, [_one(pid, description=text)], path=PATH)
        assert load(out)["exposures"][0]["description"] == text


def test_zz_counts() -> None:
    """Runs last in this file: how many generated cases ran, and how many were refused."""
    if not COUNTS["cases"]:
        pytest.skip("run the whole file to count cases")
    print(f"\nmerge properties: {dict(COUNTS)}")
    assert COUNTS["cases"] >= 100
    assert COUNTS["merged"] >= COUNTS["cases"] * 0.8  # refusing is the exception
