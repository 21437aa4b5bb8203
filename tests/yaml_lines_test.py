"""`yaml_lines.read_item` reads what it accepts exactly as PyYAML (dbt's reader) does."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hex_exposures import yaml_merge, yaml_read
from hex_exposures.yaml_lines import read_item, surely_uncommented
from hex_exposures.yaml_spans import Loader
from hex_exposures.yaml_text import Style
from tests.yaml_merge_test import TEXTS, exposure

VALUES = [
    *("x", "yes", "no", "y", "1", "1.5", "~", "null", "true", "''", "'q'", '"d"', '"e\\n"'),
    *("[a, b]", "{a: 1}", '{a: x, b: "y"}', "{column_name: ID, node: \"ref('m')\"}", "{a: [b]}"),
    *("{a: b", "[a,", "'open", '"open', "a # c", "#c", "", " ", "|", "|-", ">", "&a x", "*a"),
    *("!!str 1", "a: b", "- x", "ref('m')", "source('a', 'b')", "x   ", "2024-01-01", "0x1F"),
    *("+12", ".NaN", "a,b", "? x", "a #b", "a#b", "{yes: 1}", '{a: "x", a: y}', "-", ":x"),
    *('"a # b"', "'a # b'", '{a: "#"}', "x #", "[a] # c"),
]
KEYS = ["a", "b", "name", "yes", "on", "k_1", "'q'", "<<", "a b", "-x"]


def _line(indent: int, dash: int, key: str | None, value: str | None) -> str:
    pad = " " * indent + ("-" + " " * dash if dash else "")
    if key is None:
        return pad + (value or "")
    return f"{pad}{key}:" + (f" {value}" if value is not None else "")


LINES = st.one_of(
    st.builds(
        _line,
        st.integers(0, 8),
        st.sampled_from([0, 0, 1, 2, 3]),
        st.none() | st.sampled_from(KEYS),
        st.none() | st.sampled_from(VALUES),
    ),
    st.sampled_from(["", "   ", "  # a comment", "#", "\t- x", "  - x\r"]),
)


def _pyyaml(text: str) -> Any:
    loader = Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError:
        return "refused"
    finally:
        loader.dispose()


@settings(max_examples=3000, deadline=None)
@given(
    first=st.sampled_from(["  - a: x", "- name: y", "  -   k_1: [a]", "    - b:"]),
    rest=st.lists(LINES, max_size=10),
)
def test_what_it_accepts_reads_as_pyyaml_reads_it(first: str, rest: list[str]) -> None:
    text = "\n".join([first, *rest]) + "\n"
    dash = len(first) - len(first.lstrip(" "))
    memo: dict[str, Any] = {}
    mine = read_item(text, dash, memo)
    if mine is not None:
        theirs = _pyyaml(text)
        assert isinstance(theirs, list) and len(theirs) == 1
        assert repr(theirs[0]) == repr(mine), text
        if surely_uncommented(text, memo):
            assert not yaml_read.parse("exposures:\n" + text, "").items[0].commented, text


def test_it_accepts_the_writers_shapes_and_refuses_others() -> None:
    chunk = "  - a: 1\n    b:\n      - ref('x')\n    c:\n    - x\n\n    # note\n    d: {e: f}\n"
    assert read_item(chunk, 2, {}) == {"a": 1, "b": ["ref('x')"], "c": ["x"], "d": {"e": "f"}}
    fresh = yaml_merge._fresh(exposure(), 2, Style(), "config")  # the writer's own: accepted
    assert [read_item(fresh, 2, {})] == _pyyaml(fresh)
    for refused in (
        "  - a: |\n      text\n",  # a block scalar
        "  - a: b\n      c\n",  # a plain value running on
        "  - a: &x b\n    c: *x\n",  # an anchor
        "  - a: 1\n    a: 2\n",  # a duplicate key
        "  - a: 1\n  - b: 2\n",  # two items
        "  - yes: 1\n",  # a key YAML 1.1 reads as a boolean
    ):
        assert read_item(refused, 2, {}) is None, refused
    for chunk, sure in (
        ('  - a: "x # y"\n', True),
        ("  - a: x # c\n", False),
        ("  - a: x\n    # c\n", False),
        ('  - a: {b: "#"}\n', True),
    ):
        memo: dict[str, Any] = {}
        assert read_item(chunk, 2, memo) is not None
        assert surely_uncommented(chunk, memo) is sure, chunk


@settings(max_examples=200, deadline=None)
@given(label=TEXTS, description=TEXTS, owner=TEXTS, category=TEXTS)
def test_every_exposure_the_writer_makes_reads_as_pyyaml_reads_it(
    label: str, description: str, owner: str, category: str
) -> None:
    e = exposure(label=label, description=description, owner_name=owner)
    e = e._replace(
        hex_meta={"status": category, "categories": [category], "published": False},
        referenced_columns=({"column_name": "ID", "node": "ref('fct_orders')"},),
    )
    for dash, style in ((2, Style()), (0, Style(seq=0)), (4, Style(indent=4, seq=4, dash=4))):
        chunk = yaml_merge._fresh(e, dash, style, "config")
        mine = read_item(chunk, dash, {})
        theirs = _pyyaml(chunk)
        assert mine is None or [mine] == theirs
        assert repr([mine]) == repr(theirs) or mine is None
