from __future__ import annotations

import pytest

from hex_exposures.errors import ManifestError
from hex_exposures.manifest import build_index, check_shape
from hex_exposures.records import TableRef
from tests.manifest_factory import manifest, model, seed, source


def test_snowflake_keys_fold_unquoted_parts_to_upper_case() -> None:
    idx = build_index(
        manifest(model("fct_orders", database="Analytics", schema="Marts")), "snowflake"
    )
    assert list(idx.by_key) == [TableRef("ANALYTICS", "MARTS", "FCT_ORDERS")]


def test_project_quoting_keeps_case_exact_on_snowflake() -> None:
    m = manifest(
        model("fct_orders"), quoting={"database": False, "schema": False, "identifier": True}
    )
    assert list(build_index(m, "snowflake").by_key) == [
        TableRef("ANALYTICS", "MARTS", "fct_orders")
    ]


def test_source_quoting_overrides_project_default_per_part() -> None:
    src = source("shop", "raw_orders", identifier="Raw Orders", quoting={"identifier": True})
    idx = build_index(manifest(src), "snowflake")
    assert list(idx.by_key) == [TableRef("RAW", "SHOP", "Raw Orders")]


def test_bigquery_keys_are_case_sensitive() -> None:
    m = manifest(model("Fct_Orders", database="My-Proj", schema="Dbt_Marts"), adapter="bigquery")
    assert list(build_index(m, "bigquery").by_key) == [
        TableRef("My-Proj", "Dbt_Marts", "Fct_Orders")
    ]


def test_alias_and_identifier_are_the_table_name_not_the_node_name() -> None:
    m = manifest(
        model("orders_final", alias="orders"), source("s", "users", identifier="app_users")
    )
    names = sorted(k.name for k in build_index(m, "snowflake").by_key)
    assert names == ["APP_USERS", "ORDERS"]


def test_ephemeral_and_disabled_nodes_are_never_targets() -> None:
    m = manifest(
        model("int_x", materialized="ephemeral"),
        model("off", enabled=False),
        disabled=[model("old_model")],
    )
    idx = build_index(m, "snowflake")
    assert idx.by_key == {}
    assert set(idx.excluded) == {
        TableRef("ANALYTICS", "MARTS", "OFF"),
        TableRef("ANALYTICS", "MARTS", "OLD_MODEL"),
    }
    # kept apart for the report only (issue 17): which node a table would have been
    assert {k.name: (v.unique_id, v.state) for k, v in idx.inactive.items()} == {
        "INT_X": ("model.proj.int_x", "ephemeral"),
        "OFF": ("model.proj.off", "disabled"),
        "OLD_MODEL": ("model.proj.old_model", "disabled"),
    }


def test_seed_beats_source_on_the_same_relation_and_root_beats_package() -> None:
    m = manifest(
        source("ref", "country_codes", database="analytics", schema="marts"),
        seed("country_codes"),
    )
    rels = build_index(m, "snowflake").by_key[TableRef("ANALYTICS", "MARTS", "COUNTRY_CODES")]
    assert [r.resource_type for r in rels] == ["seed", "source"]


def test_names_in_two_packages_are_ambiguous() -> None:
    m = manifest(model("fct_orders"), model("fct_orders", package="other", schema="other"))
    assert build_index(m, "snowflake").ambiguous_names == {"fct_orders"}


@pytest.mark.parametrize("version", [10, 11, 12, 20])
def test_supported_schema_versions(version: int) -> None:
    assert check_shape(manifest(schema_version=version), path="m.json")


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ([], "top level is not an object"),
        ({"nodes": {}}, "no metadata.dbt_schema_version"),
        (manifest(schema_version=7), "v7 is not supported"),
        ({**manifest(), "nodes": []}, "'nodes'"),
    ],
)
def test_bad_manifests_name_the_file_and_the_fix(doc: object, needle: str) -> None:
    with pytest.raises(ManifestError) as err:
        check_shape(doc, path="target/manifest.json")
    assert needle in str(err.value)
    assert str(err.value).startswith("target/manifest.json:")
