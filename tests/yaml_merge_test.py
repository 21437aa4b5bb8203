from __future__ import annotations

import difflib
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hex_exposures import yaml_merge, yaml_text
from hex_exposures.errors import ExposuresFileError
from hex_exposures.exposures import assign_names, build_exposure, project_url
from hex_exposures.records import Exposure, HexProject
from hex_exposures.yaml_merge import ManagedEntry, exposure_names, merge, read_managed
from tests.dbt_helpers import dbt_parse, exposures_by_name, make_project

PATH = "models/hex_exposures.yml"
PID_A = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
PID_B = "9f8e7d6c-2222-4aaa-8bbb-000000000002"
PID_GONE = "deadbeef-3333-4aaa-8bbb-000000000003"
DEPS = ("ref('dim_customers', v=2)", "ref('fct_orders')", "source('stripe', 'charges')")


def exposure(pid: str = PID_A, name: str = "hex_weekly_revenue", **kw: Any) -> Exposure:
    base: dict[str, Any] = {
        "name": name,
        "label": "Weekly Revenue",
        "type": "dashboard",
        "maturity": "high",
        "url": f"https://app.hex.tech/acme/hex/{pid}",
        "description": "Revenue by week.",
        "owner_name": "Jane Doe",
        "owner_email": "jane@acme.com",
        "depends_on": ("ref('fct_orders')",),
        "tags": ("hex", "finance"),
        "project_id": pid,
        "hex_meta": {"status": "Production", "categories": ["Finance"], "published": True},
    }
    base.update(kw)
    return Exposure(**base)


def managed_data(text: str) -> dict[str, dict[str, Any]]:
    """Managed exposures as dbt's YAML reader (PyYAML, YAML 1.1) sees them, by name."""
    data = yaml.safe_load(text)
    return {
        e["name"]: e
        for e in data["exposures"]
        if e.get("config", {}).get("meta", {}).get("hex_exposures", {}).get("managed") is True
    }


# A file a person has lived with: comments everywhere, a hand-written exposure, extra keys on
# a managed one, a pinned description, and a managed exposure whose project is gone.
PERSON = """\
# Exposures for the finance team.
# Hand-written ones are welcome.
version: 2

exposures:
  # --- Hex ---
  - name: hex_weekly_revenue   # stable name, do not rename
    label: Old title
    type: dashboard
    maturity: high
    url: https://app.hex.tech/acme/hex/0a1b2c3d-1111-4aaa-8bbb-000000000001
    description: Pinned by a person.   # keep this wording
    owner:
      name: Jane Doe
      email: jane@acme.com
      slack: '#finance'   # a key only a person adds
    depends_on:
      - ref('fct_orders')   # main fact
    config:
      tags: [hex, finance]
      meta:
        team: finance   # ours
        hex_exposures:
          managed: true
          project_id: 0a1b2c3d-1111-4aaa-8bbb-000000000001
          keep: [description]   # a person pins the description
        hex: {status: Production, categories: [Finance], published: true}

  # Retired soon, says Bob.
  - name: hex_old_report
    label: Old report
    type: notebook
    url: https://app.hex.tech/acme/hex/deadbeef-3333-4aaa-8bbb-000000000003
    owner:
      email: bob@acme.com
    depends_on:
      - ref('fct_orders')
    config:
      meta:
        hex_exposures: {managed: true, project_id: deadbeef-3333-4aaa-8bbb-000000000003}

  # Written by hand; the tool must not touch it.
  - name: board_deck
    label: "Board deck"     # double quotes on purpose
    type: application
    maturity: high
    owner: {name: CFO}
    depends_on:
      - ref('fct_orders')
      -   source('stripe', 'charges')
    description: >
      Folded text,
      kept as it is.

# The end of the file.
"""
BOARD_DECK = PERSON[PERSON.index("  # Written by hand") : PERSON.index("# The end")]
COMMENTS = [line.strip() for line in PERSON.splitlines() if "#" in line and "'#" not in line]

HOSTILE = [
    "{{ region }}",
    "{% if x %}yes{% endif %}",
    "{# not a comment",
    "a {% endraw %} b",
    "key: value",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "12:30",
    "# leading hash",
    "trailing #",
    "two\nlines",
    "ends with a newline\n",
    "📈 emoji",
    "Übersicht, naïve café",
    "  leading and trailing spaces  ",
    'it\'s "quoted"',
    "'single'",
    '"double"',
    "- dash",
    "[1, 2]",
    "{a: b}",
    "null",
    "~",
    "123",
    "1e3",
    "2024-01-01",
    "@at",
    "!tag",
    "*alias",
    "&anchor",
    "%percent",
    "| pipe",
    "> fold",
    "= equals",
    "<<",
    "tab\there",
    "\u2028separator",
]


def hostile_projects() -> list[HexProject]:
    return [
        HexProject(
            id=f"{n:08x}-aaaa-4aaa-8bbb-{n:012x}",
            title=text,
            description=f"{text}\n\nMore: {text}" if n % 2 else text,
            type="PROJECT",
            owner_email="jane@acme.com",
            creator_email=None,
            status=text,
            categories=(text, "Finance"),
            published=bool(n % 2),
            archived=False,
            trashed=False,
            raw={},
        )
        for n, text in enumerate(HOSTILE)
    ]


def build_all(projects: list[HexProject], existing: dict[str, str]) -> list[Exposure]:
    names = assign_names(projects, existing=existing, reserved={"board_deck"})
    return [
        build_exposure(
            p,
            DEPS,
            name=names[p.id],
            url=project_url("https://app.hex.tech/api/v1", "acme", p.id),
            maturity_map={},
            owner_map={"jane@acme.com": "Jane Doe"},
        )
        for p in projects
    ]


def person_wanted() -> list[Exposure]:
    """The person's file synced: A renamed in Hex and reading more, the old report gone."""
    a = HexProject(
        id=PID_A,
        title="Weekly Revenue",
        description="Now from Hex.",
        type="PROJECT",
        owner_email="jane@acme.com",
        creator_email=None,
        status="Production",
        categories=("Finance",),
        published=True,
        archived=False,
        trashed=False,
        raw={},
    )
    existing = {m.project_id: m.name for m in read_managed(PERSON, path=PATH).values()}
    return build_all([a, *hostile_projects()], existing)


@pytest.fixture(scope="module")
def synced() -> str:
    return merge(PERSON, person_wanted(), path=PATH)


@pytest.fixture(scope="module")
def manifest(synced: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real `dbt parse` of the synced file, shared by the tests that need dbt."""
    root = make_project(tmp_path_factory.mktemp("dbt"), exposures=synced)
    return dbt_parse(root)


# --- dbt reads what we meant -----------------------------------------------------------------


def test_dbt_parses_the_synced_file_and_resolves_every_dependency(
    manifest: dict[str, Any], synced: str
) -> None:
    by_name = exposures_by_name(manifest)
    wanted = person_wanted()
    assert set(by_name) == {e.name for e in wanted} | {"board_deck"}
    for e in wanted:
        assert sorted(by_name[e.name]["depends_on"]["nodes"]) == [
            "model.tiny.dim_customers.v2",
            "model.tiny.fct_orders",
            "source.tiny.stripe.charges",
        ]
    assert by_name["board_deck"]["description"] == "Folded text, kept as it is.\n"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_comes_back_from_dbt_parse_unchanged(
    manifest: dict[str, Any], text: str
) -> None:
    p = next(p for p in hostile_projects() if p.title == text)
    e = next(
        e
        for e in exposures_by_name(manifest).values()
        if e["meta"]["hex_exposures"]["project_id"] == p.id
    )
    assert e["label"] == text
    assert e["description"] == p.description
    assert e["meta"]["hex"] == {
        "status": text,
        "categories": [text, "Finance"],
        "published": p.published,
    }
    assert e["owner"] == {"name": "Jane Doe", "email": "jane@acme.com"}
    assert e["type"] == ("dashboard" if p.published else "notebook")


def test_names_dbt_sees_are_identifiers(manifest: dict[str, Any]) -> None:
    names = [e["name"] for e in manifest["exposures"].values()]
    assert all(n.isidentifier() and n.isascii() and n == n.lower() for n in names)
    assert len(names) == len(HOSTILE) + 2


# --- a person's work survives ----------------------------------------------------------------


def test_every_comment_and_the_hand_written_exposure_survive_byte_for_byte(synced: str) -> None:
    assert synced.startswith(PERSON[: PERSON.index("  - name: hex_weekly_revenue")])
    assert BOARD_DECK in synced
    assert synced.endswith("\n# The end of the file.\n")
    for comment in COMMENTS:
        assert comment in synced, comment


def test_keys_a_person_added_and_pinned_fields_survive(synced: str) -> None:
    a = managed_data(synced)["hex_weekly_revenue"]
    assert a["label"] == "Weekly Revenue"  # updated from Hex
    assert a["description"] == "Pinned by a person."  # pinned by keep
    assert a["owner"] == {"name": "Jane Doe", "email": "jane@acme.com", "slack": "#finance"}
    assert a["config"]["meta"]["team"] == "finance"
    assert a["config"]["meta"]["hex_exposures"]["keep"] == ["description"]
    assert a["depends_on"] == list(DEPS)
    assert "      - ref('fct_orders')   # main fact\n" in synced
    assert "  - name: hex_weekly_revenue   # stable name, do not rename\n" in synced


def test_a_managed_exposure_whose_project_left_is_removed_but_its_comment_stays(
    synced: str,
) -> None:
    assert "hex_old_report" not in synced
    assert "  # Retired soon, says Bob.\n" in synced


def test_a_second_merge_changes_no_byte(synced: str) -> None:
    assert merge(synced, person_wanted(), path=PATH) == synced


def test_managed_exposures_are_sorted_and_the_hand_written_one_follows_them(synced: str) -> None:
    names = [e["name"] for e in yaml.safe_load(synced)["exposures"]]
    assert names[-1] == "board_deck"
    assert names[:-1] == sorted(names[:-1])


def test_an_up_to_date_exposure_is_copied_byte_for_byte_even_oddly_formatted() -> None:
    # Double quotes where the tool would write none: dbt reads the same value, so no change.
    text = PERSON.replace("label: Old title", 'label:   "Weekly Revenue"')
    same = exposure(description="pinned anyway")
    old_report = PERSON[
        PERSON.index("  - name: hex_old_report") : PERSON.index("  # Written by hand")
    ]
    assert merge(text, [same], path=PATH) == text.replace(old_report, "")


# --- new files and odd shapes ----------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "\n  \n"])
def test_new_file_has_a_header_version_and_sorted_exposures(text: str | None) -> None:
    out = merge(text, [exposure(PID_B, "hex_zeta"), exposure()], path=PATH)
    assert out.startswith("# Managed by hex-exposures")
    assert "keep" in out.split("version: 2")[0]
    data = yaml.safe_load(out)
    assert data["version"] == 2
    assert [e["name"] for e in data["exposures"]] == ["hex_weekly_revenue", "hex_zeta"]
    assert merge(out, [exposure(PID_B, "hex_zeta"), exposure()], path=PATH) == out


@pytest.mark.parametrize(
    ("layout", "at"), [("config", "config.meta.hex_exposures"), ("top", "meta.hex_exposures")]
)
def test_a_new_files_header_names_the_marker_where_the_layout_puts_it(layout: str, at: str) -> None:
    out = merge(None, [exposure()], path=PATH, layout=layout)  # type: ignore[arg-type]
    head = out.split("version: 2")[0]
    assert f"`{at}.managed: true`" in head and f"`{at}.keep`" in head
    if layout == "top":
        assert "config.meta" not in head
        assert yaml.safe_load(out)["exposures"][0]["meta"]["hex_exposures"]["managed"] is True
    # When the layout changes the header, word for word the tool's, follows; an edited one stays.
    other = "top" if layout == "config" else "config"
    moved = merge(out, [exposure()], path=PATH, layout=other)  # type: ignore[arg-type]
    assert moved.startswith(yaml_merge.header(other))  # type: ignore[arg-type]
    edited = "# ours\n" + out
    assert merge(edited, [exposure()], path=PATH, layout=other).startswith("# ours\n" + head)  # type: ignore[arg-type]


def test_new_exposure_key_order_and_layout_follow_the_spec() -> None:
    out = merge(None, [exposure(depends_on=DEPS)], path=PATH)
    body = out[out.index("exposures:") :]
    assert body == (
        "exposures:\n"
        "  - name: hex_weekly_revenue\n"
        "    label: Weekly Revenue\n"
        "    type: dashboard\n"
        "    maturity: high\n"
        f"    url: https://app.hex.tech/acme/hex/{PID_A}\n"
        "    description: Revenue by week.\n"
        "    owner:\n"
        "      name: Jane Doe\n"
        "      email: jane@acme.com\n"
        "    depends_on:\n"
        "      - ref('dim_customers', v=2)\n"
        "      - ref('fct_orders')\n"
        "      - source('stripe', 'charges')\n"
        "    config:\n"
        "      tags: [hex, finance]\n"
        "      meta:\n"
        f"        hex_exposures: {{managed: true, project_id: {PID_A}}}\n"
        "        hex: {status: Production, categories: [Finance], published: true}\n"
    )


def test_no_maturity_means_no_maturity_key_and_an_empty_list_is_written() -> None:
    out = merge(None, [exposure(maturity=None, depends_on=())], path=PATH)
    data = managed_data(out)["hex_weekly_revenue"]
    assert "maturity" not in data
    assert data["depends_on"] == []


def test_a_comment_only_file_keeps_its_comments_on_top() -> None:
    text = "# my notes\n# more notes"
    out = merge(text, [exposure()], path=PATH)
    assert out.startswith("# my notes\n# more notes\nversion: 2\nexposures:\n  - name: ")
    assert merge(out, [exposure()], path=PATH) == out


def test_a_file_without_exposures_gets_them_appended_and_the_rest_untouched() -> None:
    text = "version: 2\nmodels:\n  - name: m   # hi\n    description: x"
    out = merge(text, [exposure()], path=PATH)
    assert out.startswith(text + "\nexposures:\n  - name: hex_weekly_revenue\n")
    assert merge(text, [], path=PATH) == text


@pytest.mark.parametrize("value", ["", " ~", " null", " []"])
def test_an_empty_exposures_value_is_filled_below_its_key(value: str) -> None:
    text = f"version: 2\nexposures:{value}   # ours\nmodels: []\n"
    out = merge(text, [exposure()], path=PATH)
    assert out.startswith("version: 2\nexposures:   # ours\n  - name: hex_weekly_revenue\n")
    assert out.endswith("models: []\n")
    assert merge(text, [], path=PATH) == text


def test_removing_every_managed_exposure_leaves_an_empty_list_and_the_comments() -> None:
    text = merge("version: 2\nexposures:  # list\n", [exposure()], path=PATH)
    text = text.replace("  - name: hex_weekly", "  # about it\n  - name: hex_weekly")
    text = text.replace("exposures:  # list\n", "exposures:  # list\n  # on top\n")
    out = merge(text, [], path=PATH)
    assert out == "version: 2\nexposures: []  # list\n  # on top\n  # about it\n"
    assert yaml.safe_load(out)["exposures"] == []


def test_existing_indentation_of_the_list_is_followed() -> None:
    text = "exposures:\n- name: mine\n  type: ml\n  owner: {name: me}\n"
    out = merge(text, [exposure()], path=PATH)
    # No managed exposure yet: the block goes after the hand-written ones; the file's lists
    # are indentless, so the new one's are too.
    assert out.startswith(text + "\n- name: hex_weekly_revenue\n  label: Weekly Revenue\n")
    assert "\n  depends_on:\n  - ref('fct_orders')\n  config:\n" in out


def test_crlf_and_a_byte_order_mark_are_kept() -> None:
    text = "\ufeffversion: 2\r\nexposures:\r\n  - name: mine  # x\r\n    type: ml\r\n"
    text += "    owner: {name: me}\r\n"
    out = merge(text, [exposure(description="a\nb")], path=PATH)
    assert out.startswith("\ufeffversion: 2\r\nexposures:\r\n")
    assert "\n" not in out.replace("\r\n", "")
    assert managed_data(out[1:])["hex_weekly_revenue"]["description"] == "a\nb"
    changed = exposure(label="New", description="a\nb")
    assert merge(out, [changed], path=PATH).count("\r\n") == out.count("\r\n")


# --- in-place updates ------------------------------------------------------------------------


def test_a_value_dbt_would_misread_is_rewritten_even_if_ruamel_reads_it_right() -> None:
    text = merge(None, [exposure(label="yes")], path=PATH)
    text = text.replace("label: 'yes'", "label: yes").replace('label: "yes"', "label: yes")
    assert managed_data(text)["hex_weekly_revenue"]["label"] is True  # what dbt would see
    out = merge(text, [exposure(label="yes")], path=PATH)
    assert managed_data(out)["hex_weekly_revenue"]["label"] == "yes"


def test_dependencies_are_updated_in_place_keeping_comments_of_those_that_stay() -> None:
    text = merge(None, [exposure(depends_on=("ref('b')", "ref('c')"))], path=PATH)
    text = text.replace("- ref('b')\n", "- ref('b')  # bee\n").replace(
        "- ref('c')\n", "- ref('c')  # sea\n    # after the list\n"
    )
    out = merge(text, [exposure(depends_on=("ref('a')", "ref('b')"))], path=PATH)
    assert "      - ref('a')\n      - ref('b')  # bee\n    # after the list\n    config:" in out
    assert "sea" not in out
    assert merge(out, [exposure(depends_on=("ref('a')", "ref('b')"))], path=PATH) == out


def test_keep_pins_fields_and_parents_and_may_be_a_single_string() -> None:
    text = merge(None, [exposure()], path=PATH).replace(
        "managed: true,", "managed: true, keep: owner,"
    )
    out = merge(text, [exposure(owner_name="X", owner_email="x@y.z", label="New")], path=PATH)
    data = managed_data(out)["hex_weekly_revenue"]
    assert data["owner"] == {"name": "Jane Doe", "email": "jane@acme.com"}
    assert data["label"] == "New"
    assert read_managed(out, path=PATH)[PID_A].keep == ("owner",)


def test_status_gone_drops_maturity_and_keeps_comments_around_it() -> None:
    text = merge(None, [exposure()], path=PATH).replace(
        "    maturity: high\n", "    maturity: high  # mat\n    # about the url\n"
    )
    out = merge(text, [exposure(maturity=None)], path=PATH)
    assert "maturity" not in out
    assert "    type: dashboard\n    # about the url\n    url:" in out


def test_a_new_managed_exposure_joins_the_block_and_unmanaged_ones_keep_their_places() -> None:
    text = (
        "exposures:\n"
        "  - name: first_by_hand\n    type: ml\n    owner: {name: me}\n"
        + merge(None, [exposure(PID_B, "hex_zeta")], path=PATH).split("exposures:\n")[1]
        + "  - name: last_by_hand\n    type: ml\n    owner: {name: me}\n"
    )
    out = merge(text, [exposure(PID_B, "hex_zeta"), exposure()], path=PATH)
    names = [e["name"] for e in yaml.safe_load(out)["exposures"]]
    assert names == ["first_by_hand", "hex_weekly_revenue", "hex_zeta", "last_by_hand"]
    assert merge(out, [exposure(PID_B, "hex_zeta"), exposure()], path=PATH) == out


def test_a_kept_name_is_kept_and_sorted_by() -> None:
    text = (
        merge(None, [exposure()], path=PATH)
        .replace("name: hex_weekly_revenue", "name: aaa_mine")
        .replace("managed: true,", "managed: true, keep: [name],")
    )
    out = merge(text, [exposure(PID_B, "hex_b"), exposure(label="L")], path=PATH)
    assert [e["name"] for e in yaml.safe_load(out)["exposures"]] == ["aaa_mine", "hex_b"]


def test_odd_item_layouts_are_edited_and_the_keys_after_the_list_kept() -> None:
    text = (
        "exposures:\n"
        "  -\n"
        "    name: hex_weekly_revenue\n"
        "    type: notebook\n"
        "    owner: {name: x}\n"
        "# a comment at column 0 inside the item\n"
        "    config:\n"
        f"      meta: {{hex_exposures: {{managed: true, project_id: {PID_A}}}}}\n"
        f"  - {{name: flow, type: ml, owner: {{name: x}}, config: {{meta: {{hex_exposures: "
        f"{{managed: true, project_id: {PID_B}}}}}}}}}\n"
        "models:\n"
        "  - name: m\n"
    )
    wanted = [exposure(), exposure(PID_B, "hex_b", label="L, with [flow] chars: yes")]
    out = merge(text, wanted, path=PATH)
    assert out.endswith("}\nmodels:\n  - name: m\n")
    assert "\n# a comment at column 0 inside the item\n    config:\n" in out  # byte for byte
    assert "    owner: {name: Jane Doe, email: jane@acme.com}\n" in out
    assert managed_data(out)["hex_b"]["label"] == "L, with [flow] chars: yes"
    assert merge(out, wanted, path=PATH) == out


SIMPLE_EXPOSURES = [
    exposure(),
    exposure(maturity=None, owner_name=None, description="", depends_on=()),
    exposure(
        owner_email=None,
        tags=("hex",),
        hex_meta={"status": None, "categories": [], "published": False},
    ),
    exposure(
        label="Revenue (EU), it's fine = ok",
        description="Mix of, things/here @ 3.5 = 100% a#b ~ok?",
    ),
    exposure(depends_on=DEPS, url="https://eu.hex.tech/a-b/hex/x?y=1"),
]


def _fresh_data(e: Exposure) -> dict[str, Any]:
    """What dbt must read for a new exposure (SPEC's shape), built here independently."""
    out: dict[str, Any] = {"name": e.name, "label": e.label, "type": e.type}
    if e.maturity is not None:
        out["maturity"] = e.maturity
    out |= {"url": e.url, "description": e.description}
    owner = {k: v for k, v in (("name", e.owner_name), ("email", e.owner_email)) if v is not None}
    if owner:
        out["owner"] = owner
    out["depends_on"] = list(e.depends_on)
    meta = {"hex_exposures": {"managed": True, "project_id": e.project_id}, "hex": e.hex_meta}
    out["config"] = {"tags": list(e.tags), "meta": meta}
    return out


@pytest.mark.parametrize("e", SIMPLE_EXPOSURES)
def test_plain_words_are_written_bare_and_read_back_in_yaml_1_1_and_1_2(e: Exposure) -> None:
    from ruamel.yaml import YAML

    out = merge(None, [e], path=PATH)
    body = out[out.index("  - name:") :]
    assert '"' not in body.replace('"Revenue', "").replace('"Mix', "")  # only odd text quoted
    assert yaml.safe_load(out)["exposures"] == [_fresh_data(e)]
    assert YAML(typ="safe", pure=True).load(out)["exposures"] == [_fresh_data(e)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet="aZ09_-.,:'()= @/#\"yn\n?&%~!{}[]*|>", max_size=12), min_size=4, max_size=4
    )
)
def test_new_exposures_read_back_the_same_in_yaml_1_1_and_1_2(texts: list[str]) -> None:
    from ruamel.yaml import YAML

    label, description, owner, category = texts
    e = exposure(label=label or "x", description=description, owner_name=owner or None)
    e = e._replace(hex_meta={"status": category, "categories": [category], "published": True})
    out = merge(None, [e], path=PATH)
    assert yaml.safe_load(out)["exposures"] == [_fresh_data(e)]
    assert YAML(typ="safe", pure=True).load(out)["exposures"] == [_fresh_data(e)]


# --- reading ---------------------------------------------------------------------------------


def test_read_managed_and_exposure_names() -> None:
    assert read_managed(PERSON, path=PATH) == {
        PID_A: ManagedEntry(
            "hex_weekly_revenue", PID_A, ("ref('fct_orders')",), ("description",), personal=True
        ),
        PID_GONE: ManagedEntry("hex_old_report", PID_GONE, ("ref('fct_orders')",), ()),
    }
    assert exposure_names(PERSON, path=PATH) == {
        "hex_weekly_revenue",
        "hex_old_report",
        "board_deck",
    }
    assert read_managed(None, path=PATH) == {}
    assert exposure_names("version: 2\n", path=PATH) == set()


def test_an_exposure_marked_managed_without_a_project_id_is_not_managed() -> None:
    text = "exposures:\n  - name: x\n    config: {meta: {hex_exposures: {managed: true}}}\n"
    assert read_managed(text, path=PATH) == {}
    out = merge(text, [], path=PATH)
    assert out == text


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("exposures: [\n", "not valid YAML"),
        ("exposures:\n  - a\n - b\n", "not valid YAML"),
        ("- a\n", "top level is not a mapping"),
        ("exposures: {a: 1}\n", "`exposures:` is not a list"),
        ("exposures:\n  - just a string\n", "exposure 1 under `exposures:` is not a mapping"),
        ("exposures: []\nexposures: []\n", "appears more than once"),
        ("---\na: 1\n---\nb: 2\n", "not valid YAML"),
        (
            "exposures:\n"
            "  - {name: a, config: {meta: {hex_exposures: {managed: true, project_id: p}}}}\n"
            "  - {name: b, config: {meta: {hex_exposures: {managed: true, project_id: p}}}}\n",
            "both managed for Hex project p",
        ),
    ],
)
def test_a_file_that_cannot_be_merged_names_the_file_and_the_problem(
    text: str, problem: str
) -> None:
    for call in (
        lambda: merge(text, [exposure()], path=PATH),
        lambda: read_managed(text, path=PATH),
        lambda: exposure_names(text, path=PATH),
    ):
        with pytest.raises(ExposuresFileError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{PATH}: ")
        assert problem in message
        assert "\n" not in message


def test_a_flow_style_list_is_refused_by_merge_but_readable() -> None:
    text = "exposures: [{name: a, type: ml, owner: {name: me}}]\n"
    assert exposure_names(text, path=PATH) == {"a"}
    with pytest.raises(ExposuresFileError, match="flow style"):
        merge(text, [exposure()], path=PATH)


def test_the_read_back_guard_refuses_to_write_what_dbt_would_misread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Simulate a quoting bug: every string left plain. YAML 1.1 then reads `yes` as True.
    monkeypatch.setattr(yaml_text, "simple", lambda text, flow=False: True)
    with pytest.raises(ExposuresFileError, match=r"internal error.*label reads True"):
        merge(None, [exposure(label="yes")], path=PATH)


# --- properties ------------------------------------------------------------------------------

TEXTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.sampled_from(HOSTILE)


@settings(max_examples=100, deadline=None)
@given(label=TEXTS, description=TEXTS, category=TEXTS, owner=TEXTS)
def test_any_text_reads_back_exactly_and_merging_again_changes_nothing(
    label: str, description: str, category: str, owner: str
) -> None:
    e = exposure(label=label, description=description, owner_name=owner)
    e = e._replace(hex_meta={"status": category, "categories": [category], "published": False})
    fresh = merge(None, [e._replace(description=description)], path=PATH)
    assert managed_data(fresh)["hex_weekly_revenue"]["description"] == description
    out = merge(PERSON, [e], path=PATH)  # raises if PyYAML would read anything else
    data = managed_data(out)["hex_weekly_revenue"]
    assert data["label"] == label
    assert data["owner"]["name"] == owner
    assert data["config"]["meta"]["hex"]["categories"] == [category]
    assert merge(out, [e], path=PATH) == out
    assert BOARD_DECK in out


def test_scale_smoke() -> None:
    # 200 new exposures, then an unchanged re-merge returns the same bytes.
    many = [exposure(f"{n:08x}-uuid", f"hex_{n:04d}") for n in range(200)]
    out = merge(None, many, path=PATH)
    assert len(managed_data(out)) == 200
    assert merge(out, many, path=PATH) == out


def test_a_value_set_inside_an_existing_flow_mapping_is_quoted_for_flow() -> None:
    # Found by hypothesis: `?` is plain in block context but not inside `{...}`.
    e = exposure()._replace(hex_meta={"status": "0?", "categories": ["0?"], "published": False})
    out = merge(PERSON, [e], path=PATH)
    assert managed_data(out)["hex_weekly_revenue"]["config"]["meta"]["hex"]["status"] == "0?"
    assert merge(out, [e], path=PATH) == out


# --- issue 11: hand edits survive byte for byte ----------------------------------------------


def changed_lines(before: str, after: str) -> list[str]:
    """The lines a merge removed (-) and added (+), in order."""
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


THREE = ("ref('a')", "ref('b')", "ref('c')")
BASE = merge(None, [exposure(depends_on=THREE)], path=PATH)


def test_a_comment_between_list_items_stays_when_the_item_above_it_goes() -> None:
    text = BASE.replace("      - ref('b')\n", "      # about b\n      - ref('b')\n")
    out = merge(text, [exposure(depends_on=THREE[1:])], path=PATH)
    assert changed_lines(text, out) == ["-      - ref('a')"]
    gone = merge(text, [exposure(depends_on=())], path=PATH)
    assert "    depends_on: []\n      # about b\n    config:\n" in gone
    assert managed_data(gone)["hex_weekly_revenue"]["depends_on"] == []


def test_a_comment_below_a_deleted_first_key_stays() -> None:
    text = BASE.replace(
        "      name: Jane Doe\n      email: jane@acme.com\n",
        "      email: jane@acme.com\n      # who owns it\n      name: Jane Doe\n",
    )
    out = merge(text, [exposure(depends_on=THREE, owner_email=None)], path=PATH)
    assert changed_lines(text, out) == ["-      email: jane@acme.com"]
    assert "    owner:\n      # who owns it\n      name: Jane Doe\n" in out


def test_comments_inside_flow_collections_stay() -> None:
    text = BASE.replace(
        f"hex_exposures: {{managed: true, project_id: {PID_A}}}",
        f"hex_exposures: {{managed: true,  # note\n          project_id: {PID_A}}}",
    ).replace("tags: [hex, finance]", "tags: [hex,  # first\n        finance]")
    out = merge(text, [exposure(depends_on=THREE, tags=("hex", "ops"), label="New")], path=PATH)
    assert "hex_exposures: {managed: true,  # note\n" in out
    assert "tags: [hex, ops  # first\n" in out
    data = managed_data(out)["hex_weekly_revenue"]
    assert data["config"]["tags"] == ["hex", "ops"]
    assert data["label"] == "New"


PERSON_META = """\
        team: +12
        when: 2024-01-01
        ratio: .NaN
        empty: ~
        escaped: "a\\tb\\u00e9"
        quoted: 'it''s'
        spaced:    {a:   1,b: [x,   y]}
        folded: >-
          two
          lines
        literal: |
          keep
            this
"""


@pytest.mark.parametrize("layout", ["config", "top"])
def test_a_persons_keys_under_meta_are_never_written_again(layout: str) -> None:
    text = merge(None, [exposure(depends_on=THREE)], path=PATH, layout=layout)  # type: ignore[arg-type]
    where = "      meta:\n" if layout == "config" else "    meta:\n"
    meta = (
        PERSON_META
        if layout == "config"
        else "".join(line[2:] + "\n" for line in PERSON_META.splitlines())
    )
    text = text.replace(where, where + meta)
    hex_meta = {"status": "Draft", "categories": ["Finance"], "published": True}
    wanted = exposure(label="New", depends_on=("ref('z')",), hex_meta=hex_meta)
    out = merge(text, [wanted], path=PATH, layout=layout)  # type: ignore[arg-type]
    assert meta in out
    hex_line = next(line for line in text.splitlines() if "hex: {" in line)
    assert changed_lines(text, out) == [
        "-    label: Weekly Revenue",
        "+    label: New",
        "-      - ref('a')",
        "-      - ref('b')",
        "-      - ref('c')",
        "+      - ref('z')",
        "-" + hex_line,
        "+" + hex_line.replace("Production", "Draft"),
    ]


def test_a_comment_under_maturity_after_a_nested_block_stays_in_place() -> None:
    text = BASE.replace("    maturity: high\n", "").replace(
        "      email: jane@acme.com\n",
        "      email: jane@acme.com\n    maturity: high\n    # about the dependencies\n",
    )
    out = merge(text, [exposure(depends_on=THREE, maturity=None)], path=PATH)
    assert changed_lines(text, out) == ["-    maturity: high"]
    assert "      email: jane@acme.com\n    # about the dependencies\n    depends_on:\n" in out


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("Description", "'Description'"),
        ("description, owner", "'description, owner'"),
        ("config.meta.hex.nope", "'config.meta.hex.nope'"),
    ],
)
def test_a_keep_entry_naming_no_tool_field_is_a_warning(entry: str, problem: str) -> None:
    text = BASE.replace("managed: true,", f"managed: true, keep: ['{entry}'],")
    warnings = yaml_merge.keep_warnings(text, path=PATH)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{PATH}: exposure 'hex_weekly_revenue': keep entry {problem}")
    out = merge(text, [exposure(depends_on=THREE, description="New")], path=PATH)
    assert managed_data(out)["hex_weekly_revenue"]["description"] == "New"  # pins nothing


def test_a_child_keep_path_pins_only_that_child() -> None:
    text = BASE.replace("managed: true,", "managed: true, keep: [config.meta.hex.status],")
    assert yaml_merge.keep_warnings(text, path=PATH) == []
    meta = {"status": "Draft", "categories": ["Ops"], "published": False}
    out = merge(text, [exposure(depends_on=THREE, hex_meta=meta)], path=PATH)
    hex_meta = managed_data(out)["hex_weekly_revenue"]["config"]["meta"]["hex"]
    assert hex_meta == {"status": "Production", "categories": ["Ops"], "published": False}
    assert merge(out, [exposure(depends_on=THREE, hex_meta=meta)], path=PATH) == out


def test_two_managed_exposures_named_alike_by_hand_are_one_clear_error() -> None:
    two = merge(None, [exposure(), exposure(PID_B, "hex_zeta")], path=PATH)
    clash = two.replace("name: hex_zeta", "name: hex_weekly_revenue")
    for call in (
        lambda: read_managed(clash, path=PATH),
        lambda: merge(clash, [exposure(), exposure(PID_B, "hex_zeta")], path=PATH),
    ):
        with pytest.raises(ExposuresFileError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and "internal error" not in message
        assert PID_A in message and PID_B in message and "'hex_weekly_revenue'" in message
    with pytest.raises(ExposuresFileError, match="named alike"):
        merge(None, [exposure(), exposure(PID_B)], path=PATH)  # never a ValueError


def test_a_tab_before_a_comment_and_a_dash_with_a_comment_are_edited_in_place() -> None:
    text = BASE.replace("    label: Weekly Revenue\n", "    label: Weekly Revenue\t# tab\n")
    text = text.replace(
        "  - name: hex_weekly_revenue\n", "  - # ours\n    name: hex_weekly_revenue\n"
    )
    out = merge(text, [exposure(depends_on=THREE, label="New", maturity=None)], path=PATH)
    assert changed_lines(text, out) == [
        "-    label: Weekly Revenue\t# tab",
        "+    label: New\t# tab",
        "-    maturity: high",
    ]


def test_an_anchor_and_its_alias_in_one_exposure_are_edited_in_place() -> None:
    text = BASE.replace("    label: Weekly Revenue\n", "    label: &title Weekly Revenue\n")
    text = text.replace("      meta:\n", "      meta:\n        title: *title\n")
    out = merge(text, [exposure(depends_on=THREE, label="New")], path=PATH)
    assert changed_lines(text, out) == [
        "-    label: &title Weekly Revenue",
        "+    label: New",
        "-        title: *title",
        "+        title: Weekly Revenue",
    ]
    assert managed_data(out)["hex_weekly_revenue"]["config"]["meta"]["title"] == "Weekly Revenue"


def test_an_alias_on_the_last_line_of_an_exposure_is_kept() -> None:
    text = BASE.replace("version: 2\n", "version: 2\nx-defaults: &status Production\n")
    text = text.replace("{status: Production,", "{status: *status,")
    out = merge(text, [exposure(depends_on=THREE[:1], label="New")], path=PATH)
    assert "{status: *status," in out
    assert changed_lines(text, out) == [
        "-    label: Weekly Revenue",
        "+    label: New",
        "-      - ref('b')",
        "-      - ref('c')",
    ]


def test_an_anchor_another_exposure_aliases_is_refused_at_its_own_line() -> None:
    text = BASE.replace("    description: Revenue by week.\n", "    description: &d Revenue.\n")
    text += "  - name: mine\n    type: ml\n    owner: {name: x}\n    description: *d\n"
    line = text.splitlines().index("    description: &d Revenue.") + 1
    with pytest.raises(ExposuresFileError) as info:
        merge(text, [exposure(depends_on=THREE, description="Other")], path=PATH)
    assert str(info.value).startswith(f"{PATH}: line {line}, column 18: ")
    assert "internal error" not in str(info.value)
    # Nothing to change under the anchor: merged as usual.
    out = merge(text, [exposure(depends_on=THREE, description="Revenue.", label="L")], path=PATH)
    assert out.endswith("    description: *d\n") and "label: L\n" in out


def test_an_alias_the_tool_must_edit_through_is_written_out_in_block_style() -> None:
    """`owner: *jane` and Hex has another email: the anchored mapping's own bytes (comment
    included) take the alias's place in the file's indentation, then the email changes."""
    text = BASE.replace(
        "version: 2\n",
        "version: 2\nx-owner: &jane\n  name: Jane Doe   # the lead\n  email: jane@acme.com\n",
    ).replace(
        "    owner:\n      name: Jane Doe\n      email: jane@acme.com\n",
        "    owner: *jane   # shared\n",
    )
    out = merge(text, [exposure(depends_on=THREE, owner_email="j@x.io")], path=PATH)
    assert changed_lines(text, out) == [
        "-    owner: *jane   # shared",
        "+    owner:   # shared",
        "+      name: Jane Doe   # the lead",
        "+      email: j@x.io",
    ]
    assert yaml.safe_load(out)["x-owner"] == {"name": "Jane Doe", "email": "jane@acme.com"}
    assert merge(out, [exposure(depends_on=THREE, owner_email="j@x.io")], path=PATH) == out


@pytest.mark.parametrize(
    ("alias", "written"),
    [
        (
            "        copy: *o\n",
            "        copy:\n          name: Jane Doe\n          email: jane@acme.com\n",
        ),
        (
            "        copies:\n          - *o   # first\n",
            "        copies:\n          - name: Jane Doe   # first\n            email: jane@acme.com\n",
        ),
        ("        copies: [*o]\n", "        copies: [{name: Jane Doe, email: jane@acme.com}]\n"),
    ],
)
def test_an_alias_of_a_block_mapping_the_tool_edits_keeps_the_old_value(
    alias: str, written: str
) -> None:
    text = BASE.replace("    owner:\n", "    owner: &o\n").replace(
        "      meta:\n", "      meta:\n" + alias
    )
    out = merge(text, [exposure(depends_on=THREE, owner_email="j@x.io")], path=PATH)
    assert written in out
    data = managed_data(out)["hex_weekly_revenue"]
    assert data["owner"]["email"] == "j@x.io"
    copied = data["config"]["meta"].get("copy") or data["config"]["meta"]["copies"][0]
    assert copied == {"name": "Jane Doe", "email": "jane@acme.com"}


def test_an_alias_of_a_multi_line_description_keeps_its_literal_block() -> None:
    text = BASE.replace(
        "    description: Revenue by week.\n",
        "    description: &d |\n      Revenue\n      by week.\n",
    ).replace("      meta:\n", "      meta:\n        summary: *d   # the same\n")
    out = merge(text, [exposure(depends_on=THREE, description="Other")], path=PATH)
    assert "        summary: |   # the same\n          Revenue\n          by week.\n" in out
    data = managed_data(out)["hex_weekly_revenue"]
    assert data["description"] == "Other"
    assert data["config"]["meta"]["summary"] == "Revenue\nby week.\n"


def test_an_alias_in_a_managed_exposure_of_a_hand_written_anchor_is_written_out() -> None:
    hand = "  - name: mine\n    type: ml\n    owner: &mine\n      name: Jane Doe\n      email: jane@acme.com\n"
    text = BASE.replace("exposures:\n", "exposures:\n" + hand).replace(
        "    owner:\n      name: Jane Doe\n      email: jane@acme.com\n    depends_on",
        "    owner: *mine\n    depends_on",
    )
    out = merge(text, [exposure(depends_on=THREE, owner_email="j@x.io")], path=PATH)
    assert hand in out  # the hand-written exposure keeps its bytes, anchor included
    assert managed_data(out)["hex_weekly_revenue"]["owner"]["email"] == "j@x.io"
    # The other way round: writing the alias out would change the hand-written exposure.
    other = BASE.replace("    owner:\n", "    owner: &o\n") + "  - name: mine\n    owner: *o\n"
    line = other.splitlines().index("    owner: &o") + 1
    with pytest.raises(ExposuresFileError) as info:
        merge(other, [exposure(depends_on=THREE, owner_email="j@x.io")], path=PATH)
    assert str(info.value).startswith(f"{PATH}: line {line}, column 12: this anchor is used")
    assert "internal error" not in str(info.value)


def test_keys_and_items_of_an_anchored_block_collection_are_edited_at_its_indentation() -> None:
    """Found by the property test: the composer marks an anchored block collection at its
    `&anchor`, so an `email` added under `owner: &o` went to the anchor's column, and
    removing the first item of `depends_on: &d` took the key's line."""
    text = (
        BASE.replace("    owner:\n", "    owner: &o\n")
        .replace("      email: jane@acme.com\n", "")
        .replace("    depends_on:\n", "    depends_on: &d   # ours\n")
    )
    out = merge(text, [exposure(depends_on=THREE[1:])], path=PATH)
    assert changed_lines(text, out) == ["+      email: jane@acme.com", "-      - ref('a')"]
    data = managed_data(out)["hex_weekly_revenue"]
    assert data["owner"] == {"name": "Jane Doe", "email": "jane@acme.com"}
    assert data["depends_on"] == list(THREE[1:])


FOUR_SPACES = """\
version: 2
exposures:
    -   name: mine
        type: ml
        owner:
            name: me
        depends_on:
            - ref('a')
"""
INDENTLESS = """\
version: 2
exposures:
- name: mine
  type: ml
  owner:
    name: me
  depends_on:
  - ref('a')
"""


@pytest.mark.parametrize("text", [FOUR_SPACES, INDENTLESS, INDENTLESS.replace("\n", "\r\n")])
def test_new_exposures_follow_the_files_indentation_and_line_ending(text: str) -> None:
    out = merge(text, [exposure(depends_on=THREE)], path=PATH)
    assert out.startswith(text)
    new = out[len(text) :]
    nl = "\r\n" if "\r\n" in text else "\n"
    assert "\n" not in new.replace("\r\n", "") if nl == "\r\n" else "\r" not in new
    mine = text.split(nl)[2]  # the first exposure's dash line
    dash = mine[: mine.index("name")]
    nested = text.split(nl)[5][: -len("name: me")]  # owner's keys
    items = text.split(nl)[7][: -len("- ref('a')")]  # depends_on's dashes
    lines = new.split(nl)
    assert f"{dash}name: hex_weekly_revenue" in lines
    assert f"{nested}name: Jane Doe" in lines
    assert f"{items}- ref('a')" in lines
    assert managed_data(out.replace("\r\n", "\n"))["hex_weekly_revenue"]["depends_on"] == list(
        THREE
    )
    assert merge(out, [exposure(depends_on=THREE)], path=PATH) == out


def test_one_crlf_line_does_not_make_new_lines_crlf() -> None:
    text = INDENTLESS.replace("  type: ml\n", "  type: ml\r\n")
    out = merge(text, [exposure()], path=PATH)
    assert out.count("\r\n") == 1


def test_an_exposure_ending_in_an_alias_ends_at_the_alias_not_at_its_anchor() -> None:
    """Found by the second-sync property: the composer gives an alias its anchor's marks, so
    an exposure whose last line was `x: *anchor` seemed to end on the anchor's line; removing
    it left its tail behind, and a new exposure went into the middle of it."""
    text = BASE.replace("      meta:\n", "      meta:\n        team: &t finance\n")
    text += "    person_alias: *t\n"
    gone = merge(text, [], path=PATH)
    assert "*t" not in gone and "&t" not in gone
    assert yaml.safe_load(gone)["exposures"] == []
    both = merge(text, [exposure(depends_on=THREE), exposure(PID_B, "hex_zeta")], path=PATH)
    assert both.startswith(text)
    assert managed_data(both)["hex_weekly_revenue"]["person_alias"] == "finance"
    assert set(managed_data(both)) == {"hex_weekly_revenue", "hex_zeta"}
