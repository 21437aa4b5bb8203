"""The read-back guard (`yaml_verify`): a wrong edit never reaches the disk, and the fast proof
never waves one through (it either proves the result or hands it to the whole read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from hex_exposures import yaml_merge, yaml_text, yaml_verify
from hex_exposures.errors import ExposuresFileError
from hex_exposures.yaml_edit import Edit
from hex_exposures.yaml_merge import exposure_names, merge, read_managed, unmanaged_names
from tests.yaml_merge_test import PATH, PERSON, PID_A, PID_B, exposure

WANTED = [exposure(label="Weekly Revenue (EUR)", depends_on=("ref('a')", "ref('b')"))]
BOTH = [*WANTED, exposure(PID_B, "hex_churn", label="Churn")]


@pytest.fixture
def proofs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What the fast proof decided, call by call."""
    seen: list[bool] = []
    real = yaml_verify._proof

    def spy(*args: Any) -> bool:
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(yaml_verify, "_proof", spy)
    return seen


def test_a_right_merge_is_proven_without_reading_the_whole_file(
    proofs: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    def whole(*args: Any) -> None:
        raise AssertionError("read whole")

    monkeypatch.setattr(yaml_verify, "verify_whole", whole)
    fresh = merge(None, BOTH, path=PATH)
    edited = merge(PERSON, BOTH, path=PATH)
    again = merge(fresh, [BOTH[0]._replace(label="Other"), BOTH[1]], path=PATH)
    assert proofs == [True, True, True]
    assert "label: Other" in again and "label: Churn" in again
    assert "Pinned by a person." in edited and "hex_old_report" not in edited


def _with_edit(monkeypatch: pytest.MonkeyPatch, make: Callable[[str], list[Edit]]) -> None:
    """Every merge also applies `make(text)`: a bug in the edit step, simulated."""
    real = yaml_merge._edits

    def edits(doc: Any, plans: Any, path: str) -> tuple[list[Edit], list[Edit]]:
        out, first = real(doc, plans, path)
        return (out + make(doc.text), first) if not first else (out, first)

    monkeypatch.setattr(yaml_merge, "_edits", edits)


def _replace(old: str, new: str, after: str = "") -> Callable[[str], list[Edit]]:
    def make(text: str) -> list[Edit]:
        at = text.index(old, text.index(after))
        return [Edit(at, at + len(old), new)]

    return make


CASES = {
    # a person's value lost: their key under config.meta
    "lost person's value": (_replace("        team: finance   # ours\n", ""), "a person wrote"),
    # an exposure the tool does not manage, edited
    "unmanaged changed": (_replace('"Board deck"', '"Board"'), "does not manage changed"),
    # the result is not YAML
    "invalid YAML": (_replace("description: Pinned", 'description: "Pinned'), "not valid YAML"),
    # a key lands in the wrong exposure: after the lines of one the tool did not touch
    "key in the wrong item": (
        _replace("      kept as it is.\n", "      kept as it is.\n    maturity: low\n"),
        "does not manage changed",
    ),
    # a top-level key other than `exposures`
    "other top-level key": (_replace("version: 2", "version: 3"), "top-level key"),
    # the list's indentation broken: the managed exposure's line falls out of its mapping
    "indentation": (_replace("    type: dashboard", "   type: dashboard"), "internal error"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_wrong_edit_is_refused_and_not_proven(
    case: str, proofs: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    make, problem = CASES[case]
    _with_edit(monkeypatch, make)
    with pytest.raises(ExposuresFileError, match="internal error") as info:
        merge(PERSON, WANTED, path=PATH)
    assert problem in str(info.value)
    assert proofs == [False]


def test_a_value_the_writer_misquotes_is_refused_fresh_or_edited(
    proofs: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A quoting bug: every string left plain. YAML 1.1 then reads `yes` as True.
    monkeypatch.setattr(yaml_text, "simple", lambda text, flow=False: True)
    for text in (None, PERSON):
        with pytest.raises(ExposuresFileError, match=r"internal error.*label reads True"):
            merge(text, [exposure(label="yes")], path=PATH)
    assert proofs == [False, False]


def test_a_fresh_exposure_written_wrong_is_refused(
    proofs: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = yaml_merge._fresh

    def nested(*args: Any) -> str:  # `owner`'s keys one column too deep: still YAML, other data
        return real(*args).replace("    description:", "      description:")

    monkeypatch.setattr(yaml_merge, "_fresh", nested)
    for text in (None, PERSON):
        with pytest.raises(ExposuresFileError, match="internal error"):
            merge(text, BOTH, path=PATH)
    assert proofs == [False, False]


def test_a_lost_fresh_exposure_and_a_duplicated_one_are_refused(
    proofs: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = yaml_merge._fresh
    monkeypatch.setattr(
        yaml_merge, "_fresh", lambda e, *rest: "" if e.project_id == PID_B else real(e, *rest)
    )
    with pytest.raises(ExposuresFileError, match="set of managed exposures differs"):
        merge(None, BOTH, path=PATH)
    monkeypatch.setattr(yaml_merge, "_fresh", lambda *args: real(*args) * 2)
    with pytest.raises(ExposuresFileError, match="internal error"):
        merge(None, BOTH, path=PATH)
    assert proofs == [False, False]


def test_an_anchor_near_an_edit_sends_the_result_to_the_whole_read(proofs: list[bool]) -> None:
    text = PERSON.replace("label: Old title", "label: &title Old title").replace(
        'label: "Board deck"', "label: *title"
    )
    with pytest.raises(ExposuresFileError) as info:
        merge(text, WANTED, path=PATH)
    assert "anchor" in str(info.value) and "internal error" not in str(info.value)
    out = merge(text.replace("label: *title", 'label: "Board deck"'), WANTED, path=PATH)
    assert proofs == [False]
    assert yaml.safe_load(out)["exposures"][0]["label"] == "Weekly Revenue (EUR)"


def test_unchanged_items_are_taken_from_the_first_read_only_when_copied_whole(
    proofs: list[bool],
) -> None:
    # The managed exposure changes, the hand-written one is copied: both read as meant.
    out = merge(PERSON, [exposure(PID_A, label="New")], path=PATH)
    data = yaml.safe_load(out)["exposures"]
    assert [e["name"] for e in data] == ["hex_weekly_revenue", "board_deck"]
    assert data[1]["description"] == "Folded text, kept as it is.\n"
    assert proofs == [True]


def test_a_file_just_written_reads_as_a_fresh_read_of_it_says(proofs: list[bool]) -> None:
    # The proof's items stand in for a second parse (names, managed entries, `personal`).
    for text in (None, PERSON, PERSON.replace("  - name: board_deck", "  - name: deck  # mine")):
        out = merge(text, BOTH, path=PATH)
        seen = (
            read_managed(out, path=PATH),
            exposure_names(out, path=PATH),
            unmanaged_names(out, path=PATH),
        )
        yaml_merge._parse.cache_clear()
        yaml_verify._READ.clear()
        assert seen == (
            read_managed(out, path=PATH),
            exposure_names(out, path=PATH),
            unmanaged_names(out, path=PATH),
        )
        assert seen[0][PID_A].personal is (text is not None) and not seen[0][PID_B].personal
    assert proofs == [True, True, True]


@pytest.mark.parametrize(
    "shape",
    [
        lambda t: t.replace("\n", "\r\n"),  # CRLF line endings
        lambda t: t.replace("\n  ", "\n"),  # an indentless list at column 0
        lambda t: t.replace("\n  ", "\n    ").replace("\n    # Written", "\n  # Written"),
    ],
)
def test_other_layouts_are_proven_too(proofs: list[bool], shape: Callable[[str], str]) -> None:
    text = shape(PERSON)
    out = merge(text, BOTH, path=PATH)
    data = yaml.safe_load(out)
    assert [e["name"] for e in data["exposures"]] == [
        "hex_churn",
        "hex_weekly_revenue",
        "board_deck",
    ]
    assert data["exposures"][2] == yaml.safe_load(text)["exposures"][2]
    assert proofs == [True]
