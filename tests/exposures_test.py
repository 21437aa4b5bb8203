from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hex_exposures.exposures import (
    assign_names,
    build_exposure,
    jinja_safe,
    maturity,
    project_url,
    slug,
)
from hex_exposures.records import HexProject

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
UUID_A = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
UUID_B = "9f8e7d6c-2222-4aaa-8bbb-000000000002"


def project(pid: str = UUID_A, title: str = "Weekly Revenue", **kw: Any) -> HexProject:
    base: dict[str, Any] = {
        "id": pid,
        "title": title,
        "description": None,
        "type": "PROJECT",
        "owner_email": "jane@acme.com",
        "creator_email": "carl@acme.com",
        "status": "Production",
        "categories": ("Finance",),
        "published": True,
        "archived": False,
        "trashed": False,
        "raw": {},
    }
    base.update(kw)
    return HexProject(**base)


# --- slug ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Weekly Revenue", "weekly_revenue"),
        ("  Weekly -- Revenue (v2)!  ", "weekly_revenue_v2"),
        ("Übersicht Straße Ærø", "ubersicht_strasse_aero"),
        ("📈 Revenue 🚀", "revenue"),
        ("📈🚀", "project"),
        ("", "project"),
        ("2024 Plan", "_2024_plan"),
        ("CamelCase", "camelcase"),
        ("日本語", "project"),
    ],
)
def test_slug(title: str, expected: str) -> None:
    assert slug(title) == expected


def test_slug_is_capped_without_a_trailing_underscore() -> None:
    s = slug("word " * 40)
    assert len(s) <= 60
    assert not s.endswith("_")


@given(st.text())
def test_slug_is_always_an_identifier(title: str) -> None:
    s = slug(title)
    assert NAME.match(s)
    assert s.isascii()


# --- names -----------------------------------------------------------------------------------


def test_new_projects_get_hex_and_the_slug() -> None:
    names = assign_names([project()], existing={}, reserved=())
    assert names == {UUID_A: "hex_weekly_revenue"}


def test_a_leading_digit_needs_no_underscore_behind_the_prefix() -> None:
    names = assign_names([project(title="2024 Plan")], existing={}, reserved=())
    assert names == {UUID_A: "hex_2024_plan"}


def test_existing_managed_exposure_keeps_its_name_when_the_title_changes() -> None:
    names = assign_names(
        [project(title="Brand New Title")], existing={UUID_A: "hex_weekly_revenue"}, reserved=()
    )
    assert names == {UUID_A: "hex_weekly_revenue"}


def test_colliding_new_projects_all_get_the_id_suffix_in_any_order() -> None:
    a, b = project(UUID_A, "Revenue!"), project(UUID_B, "revenue")
    for order in ([a, b], [b, a]):
        names = assign_names(order, existing={}, reserved=())
        assert names == {UUID_A: "hex_revenue_0a1b2c3d", UUID_B: "hex_revenue_9f8e7d6c"}


def test_a_new_project_yields_to_an_existing_name() -> None:
    old, new = project(UUID_A, "Old title"), project(UUID_B, "Weekly Revenue")
    names = assign_names([new, old], existing={UUID_A: "hex_weekly_revenue"}, reserved=())
    assert names == {UUID_A: "hex_weekly_revenue", UUID_B: "hex_weekly_revenue_9f8e7d6c"}


def test_a_name_of_a_managed_exposure_that_is_leaving_is_still_taken() -> None:
    # The project behind hex_weekly_revenue is gone this run; a newcomer must not inherit the
    # name (it would flip back and forth as the old project comes and goes).
    names = assign_names([project(UUID_B)], existing={UUID_A: "hex_weekly_revenue"}, reserved=())
    assert names == {UUID_B: "hex_weekly_revenue_9f8e7d6c"}


def test_a_new_project_yields_to_a_hand_written_exposure() -> None:
    names = assign_names([project()], existing={}, reserved={"hex_weekly_revenue"})
    assert names == {UUID_A: "hex_weekly_revenue_0a1b2c3d"}


def test_when_the_short_suffix_clashes_too_the_whole_id_is_used() -> None:
    a = project("abcdef01-0000-0000-0000-00000000000a", "Sales")
    b = project("abcdef01-0000-0000-0000-00000000000b", "Sales")
    names = assign_names([a, b], existing={}, reserved=())
    assert names == {
        a.id: "hex_sales_abcdef0100000000000000000000000a",
        b.id: "hex_sales_abcdef0100000000000000000000000b",
    }


def test_a_suffixed_name_never_takes_a_name_another_project_holds() -> None:
    # "Sales 0a1b2c3d" slugs to what "Sales" becomes once suffixed.
    projects = [
        project(UUID_A, "Sales"),
        project(UUID_B, "Sales"),
        project("c0ffee00", "Sales 0a1b2c3d"),
    ]
    for order in itertools.permutations(projects):
        names = assign_names(list(order), existing={}, reserved=())
        assert len(set(names.values())) == 3
        assert names["c0ffee00"] == "hex_sales_0a1b2c3d"
        assert names[UUID_A] == "hex_sales_0a1b2c3d11114aaa8bbb000000000001"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="0123456789abcdefg-", min_size=1, max_size=10),
            st.sampled_from(["Sales", "sales!", "Sales abc", "Sales 1", "", "📈", "1"]),
        ),
        max_size=8,
        unique_by=lambda t: t[0],
    ),
    st.sets(st.sampled_from(["hex_sales", "hex_project", "hex_sales_1", "hex_1"]), max_size=3),
    st.randoms(use_true_random=False),
)
def test_names_are_unique_valid_and_order_independent(
    pairs: list[tuple[str, str]], reserved: set[str], rnd: Any
) -> None:
    projects = [project(pid, title) for pid, title in pairs]
    names = assign_names(projects, existing={}, reserved=reserved)
    assert set(names) == {p.id for p in projects}
    assert len(set(names.values())) == len(projects)
    assert not set(names.values()) & reserved
    assert all(NAME.match(n) for n in names.values())
    shuffled = list(projects)
    rnd.shuffle(shuffled)
    assert assign_names(shuffled, existing={}, reserved=reserved) == names


# --- Jinja -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Weekly Revenue", "", "50% {of} it", "a # b", "x\ny"])
def test_text_dbt_would_not_render_is_returned_unchanged(text: str) -> None:
    assert jinja_safe(text) == text


@pytest.mark.parametrize("text", ["{{ region }}", "{% if x %}", "{# c", "x }}", "end\n"])
def test_text_dbt_would_render_is_wrapped_in_raw(text: str) -> None:
    assert jinja_safe(text) == "{% raw %}" + text + "{% endraw %}"


def _dbt_render(text: str, *, native: bool) -> Any:
    from dbt.clients.jinja import get_rendered

    return get_rendered(text, {}, native=native)


HOSTILE = [
    "{{ region }}",
    "{% if x %}",
    "{#",
    "{# c #}",
    "a {% endraw %} b",
    "{%- endraw -%}",
    "{%+endraw%}",
    "{% raw %}",
    "{{ '{%' }}",
    "%}{%",
    "end\n",
    "two\nlines\n\n",
    '{"a": "{{"}',
    "'{{ x }}'",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_dbt_renders_jinja_safe_text_back_to_itself(text: str) -> None:
    # `label` and `config.meta` render natively at parse time; `description` as text later.
    assert _dbt_render(jinja_safe(text), native=True) == text
    assert _dbt_render(jinja_safe(text), native=False) == text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["{", "}", "%", "#", "-", "+", " ", "\n", "raw", "endraw", "x", "'", "é"]),
        max_size=14,
    ).map("".join)
)
def test_any_brace_soup_renders_back_to_itself(text: str) -> None:
    assert _dbt_render(jinja_safe(text), native=True) == text
    assert _dbt_render(jinja_safe(text), native=False) == text


# --- URL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hex_url",
    [
        "https://app.hex.tech",
        "https://app.hex.tech/",
        "https://app.hex.tech/api/v1",
        "https://app.hex.tech/api/v1/",
        "https://app.hex.tech/api",
        "app.hex.tech",
    ],
)
def test_project_url_tolerates_api_paths_and_slashes(hex_url: str) -> None:
    assert project_url(hex_url, "acme", UUID_A) == f"https://app.hex.tech/acme/hex/{UUID_A}"


def test_project_url_on_another_host_and_without_a_workspace() -> None:
    assert (
        project_url("https://eu.hex.tech/api/v1", None, UUID_A)
        == f"https://eu.hex.tech/hex/{UUID_A}"
    )


def test_project_url_escapes_the_workspace() -> None:
    assert (
        project_url("https://app.hex.tech", "a b/c", "p1")
        == "https://app.hex.tech/a%20b%2Fc/hex/p1"
    )


# --- build_exposure --------------------------------------------------------------------------


def build(p: HexProject, deps: list[str] | None = None, **kw: Any) -> Any:
    return build_exposure(
        p,
        deps if deps is not None else ["ref('b')", "ref('a')", "ref('b')"],
        name="hex_x",
        url="https://app.hex.tech/acme/hex/x",
        maturity_map=kw.get("maturity_map", {}),
        owner_map=kw.get("owner_map", {}),
    )


def test_build_exposure_fills_every_field() -> None:
    e = build(
        project(description="Revenue by week", categories=("Finance", "Data Science", "finance"))
    )
    assert e.name == "hex_x"
    assert e.label == "Weekly Revenue"
    assert e.type == "dashboard"
    assert e.maturity == "high"
    assert e.url == "https://app.hex.tech/acme/hex/x"
    assert e.description == "Revenue by week"
    assert (e.owner_name, e.owner_email) == ("jane", "jane@acme.com")
    assert e.depends_on == ("ref('a')", "ref('b')")
    assert e.tags == ("hex", "data_science", "finance")
    assert e.project_id == UUID_A
    assert e.hex_meta == {
        "status": "Production",
        "categories": ["Finance", "Data Science", "finance"],
        "published": True,
    }


def test_unpublished_project_is_a_notebook_and_no_status_means_no_maturity() -> None:
    e = build(project(published=False, status=None, description=None))
    assert (e.type, e.maturity, e.description) == ("notebook", None, "")
    assert e.hex_meta["status"] is None


@pytest.mark.parametrize(
    ("status", "mapping", "expected"),
    [
        ("Production", {}, "high"),
        ("Approved", {}, "high"),
        ("In development", {}, "low"),
        ("IN DEVELOPMENT", {}, "low"),
        ("Exploratory", {}, "low"),
        ("Needs review", {}, "medium"),
        ("Needs review", {"needs review": "low"}, "low"),
        ("Production", {"Production": "medium"}, "medium"),
        (None, {"x": "high"}, None),
    ],
)
def test_maturity_from_status(
    status: str | None, mapping: dict[str, str], expected: str | None
) -> None:
    assert maturity(status, mapping) == expected
    assert build(project(status=status), maturity_map=mapping).maturity == expected


def test_owner_falls_back_to_creator_and_uses_the_owner_map() -> None:
    p = project(owner_email=None, creator_email="Carl.Smith@Acme.com")
    assert build(p).owner_name == "Carl.Smith"
    assert build(p).owner_email == "Carl.Smith@Acme.com"
    named = build(p, owner_map={"carl.smith@acme.com": "Carl Smith"})
    assert named.owner_name == "Carl Smith"


def test_no_email_at_all_still_gives_dbt_an_owner_name() -> None:
    e = build(project(owner_email=None, creator_email=None))
    assert e.owner_email is None
    assert e.owner_name


def test_text_is_made_jinja_safe_and_line_breaks_normalised() -> None:
    p = project(
        title="{{ region }} sales",
        description="a\r\nb {% if %}",
        status="{#x",
        categories=("{{c}}",),
    )
    e = build(p)
    assert e.label == "{% raw %}{{ region }} sales{% endraw %}"
    assert e.description == "{% raw %}a\nb {% if %}{% endraw %}"
    assert e.hex_meta["status"] == "{% raw %}{#x{% endraw %}"
    assert e.hex_meta["categories"] == ["{% raw %}{{c}}{% endraw %}"]
    assert e.tags == ("hex", "c")


def test_empty_title_falls_back_to_the_name() -> None:
    assert build(project(title="")).label == "hex_x"


def test_a_category_called_hex_is_not_tagged_twice() -> None:
    assert build(project(categories=("HEX", "🚀"))).tags == ("hex",)
