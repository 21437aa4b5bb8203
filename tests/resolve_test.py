"""One test per rule in SPEC "Resolving", on normalised names (SQL-level cases: pipeline_test)."""

from __future__ import annotations

from hex_exposures.manifest import build_index
from hex_exposures.records import TableRef
from hex_exposures.resolve import dependency, resolve
from tests.manifest_factory import manifest, model, seed, source


def _dep(m: dict, table: TableRef, warehouse: str = "snowflake") -> str | None:
    idx = build_index(m, warehouse)
    match = resolve(table, idx)
    return dependency(match.relation, idx) if match.relation else None


def test_full_name_matches_model() -> None:
    assert (
        _dep(manifest(model("fct_orders")), TableRef("ANALYTICS", "MARTS", "FCT_ORDERS"))
        == "ref('fct_orders')"
    )


def test_schema_and_name_match_when_unique() -> None:
    assert (
        _dep(manifest(model("fct_orders")), TableRef(None, "MARTS", "FCT_ORDERS"))
        == "ref('fct_orders')"
    )


def test_partial_name_fitting_two_relations_is_ambiguous_not_guessed() -> None:
    m = manifest(model("orders", schema="a"), model("orders2", schema="b", alias="orders"))
    idx = build_index(m, "snowflake")
    match = resolve(TableRef(None, None, "ORDERS"), idx)
    assert match.relation is None
    assert match.note is not None and "ambiguous" in match.note


def test_versioned_model_pinned_to_the_version_queried() -> None:
    m = manifest(
        model("dim_customers", version=1, latest=2), model("dim_customers", version=2, latest=2)
    )
    assert (
        _dep(m, TableRef("ANALYTICS", "MARTS", "DIM_CUSTOMERS_V1")) == "ref('dim_customers', v=1)"
    )
    assert (
        _dep(m, TableRef("ANALYTICS", "MARTS", "DIM_CUSTOMERS_V2")) == "ref('dim_customers', v=2)"
    )


def test_source_by_identifier() -> None:
    m = manifest(source("stripe", "charges", identifier="stripe_charges"))
    assert _dep(m, TableRef("RAW", "STRIPE", "STRIPE_CHARGES")) == "source('stripe', 'charges')"


def test_seed_preferred_over_source_and_the_choice_is_noted() -> None:
    m = manifest(
        source("ref", "country_codes", database="analytics", schema="marts"), seed("country_codes")
    )
    idx = build_index(m, "snowflake")
    match = resolve(TableRef("ANALYTICS", "MARTS", "COUNTRY_CODES"), idx)
    assert match.relation is not None and match.relation.resource_type == "seed"
    assert match.note == "chose seed.proj.country_codes over source.proj.ref.country_codes"


def test_name_in_two_packages_gets_its_package() -> None:
    m = manifest(model("fct_orders"), model("fct_orders", package="other", schema="other"))
    assert _dep(m, TableRef("ANALYTICS", "OTHER", "FCT_ORDERS")) == "ref('other', 'fct_orders')"


def test_disabled_match_says_why() -> None:
    idx = build_index(manifest(model("old", enabled=False)), "snowflake")
    match = resolve(TableRef("ANALYTICS", "MARTS", "OLD"), idx)
    assert match.relation is None and match.note == "model.proj.old is disabled"


def test_bigquery_case_matters() -> None:
    m = manifest(model("Orders", database="p", schema="D"), adapter="bigquery")
    assert _dep(m, TableRef("p", "D", "Orders"), "bigquery") == "ref('Orders')"
    assert _dep(m, TableRef("p", "D", "orders"), "bigquery") is None


def test_quotes_in_names_are_escaped_in_depends_on() -> None:
    m = manifest(source("o'src", "t"))
    assert _dep(m, TableRef("RAW", "O'SRC", "T")) == "source('o\\'src', 't')"


def test_a_table_matching_an_ephemeral_or_disabled_model_says_which(  # issue 17
) -> None:
    m = manifest(
        model("int_x", materialized="ephemeral"),
        model("fct_orders"),
        disabled=[model("old_orders")],
    )
    idx = build_index(m, "snowflake")
    for table, uid, state in (
        (TableRef("ANALYTICS", "MARTS", "INT_X"), "model.proj.int_x", "ephemeral"),
        (TableRef(None, "MARTS", "INT_X"), "model.proj.int_x", "ephemeral"),
        (TableRef(None, None, "OLD_ORDERS"), "model.proj.old_orders", "disabled"),
    ):
        match = resolve(table, idx)
        assert match.relation is None
        assert match.inactive is not None
        assert (match.inactive.unique_id, match.inactive.state) == (uid, state)
    assert resolve(TableRef("OTHER", "MARTS", "INT_X"), idx).inactive is None
    assert resolve(TableRef("ANALYTICS", "MARTS", "FCT_ORDERS"), idx).inactive is None


def test_an_active_relation_beats_a_disabled_one_at_the_same_name() -> None:
    m = manifest(model("orders"), disabled=[model("orders_old", alias="orders")])
    match = resolve(TableRef("ANALYTICS", "MARTS", "ORDERS"), build_index(m, "snowflake"))
    assert match.relation is not None and match.relation.unique_id == "model.proj.orders"
