"""referenced_columns through the pipeline: schema from docs and catalog, cache, evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hex_exposures import pipeline, sql_columns
from hex_exposures.columns import elementary_type, parse_column_name
from hex_exposures.records import HexProject, HexQuery, Settings, TableRef
from hex_exposures.sql_columns import ColumnRef
from tests.manifest_factory import manifest, model, source

PID = "0a1b2c3d-1111-4aaa-8bbb-000000000001"


def _sql(text: str) -> str:
    comment = json.dumps({"project_id": PID, "context": "APP_VIEW"})
    return f"{text}\n-- Hex query metadata: {comment}"


def _manifest() -> dict[str, Any]:
    orders = model("fct_orders")
    orders[1]["columns"] = {
        "order_id": {"name": "order_id", "data_type": "int"},
        "amount": {"name": "amount"},
    }
    users = source("app", "users", database="raw", schema="app")
    return manifest(orders, users, model("dim_customers"))


CATALOG = {
    "nodes": {
        "model.proj.fct_orders": {
            "columns": {
                "ORDER_ID": {"name": "ORDER_ID", "type": "NUMBER(38,0)"},
                "AMOUNT": {"name": "AMOUNT", "type": "FLOAT"},
                "STATUS": {"name": "STATUS", "type": "TEXT"},
                "ORDERED_AT": {"name": "ORDERED_AT", "type": "TIMESTAMP_NTZ"},
            }
        }
    },
    "sources": {},
}


def _run(
    texts: list[str], *, catalog: Any = None, cache: Any = None, **settings: Any
) -> pipeline.RunResult:
    project = HexProject.from_api(
        {"id": PID, "title": "Orders", "lastPublishedAt": "2026-01-01T00:00:00Z"}
    )
    queries = [
        HexQuery(PID, _sql(t) if t else "", "ANALYTICS", "MARTS", columns=tuple(cols))
        for t, cols in texts
    ]
    return pipeline.run(
        _manifest(),
        [project],
        queries,
        settings=Settings(**settings),
        catalog=catalog,
        cache=cache,
    )


def test_columns_from_docs_named_as_documented_and_without_types() -> None:
    result = _run([("select order_id, amount, o.status from fct_orders o", [])])
    (exposure,) = result.exposures
    assert exposure.referenced_columns == (
        {"column_name": "STATUS", "node": "ref('fct_orders')"},
        {"column_name": "amount", "node": "ref('fct_orders')"},
        {"column_name": "order_id", "node": "ref('fct_orders')"},
    )
    assert "referenced_columns:" in result.text


def test_catalog_gives_star_columns_and_elementary_types() -> None:
    result = _run([("select * from fct_orders", [])], catalog=CATALOG)
    (exposure,) = result.exposures
    assert exposure.referenced_columns == (
        {"column_name": "ORDERED_AT", "data_type": "timestamp", "node": "ref('fct_orders')"},
        {"column_name": "STATUS", "data_type": "string", "node": "ref('fct_orders')"},
        {"column_name": "amount", "data_type": "numeric", "node": "ref('fct_orders')"},
        {"column_name": "order_id", "data_type": "numeric", "node": "ref('fct_orders')"},
    )


def test_star_without_known_columns_adds_none() -> None:
    result = _run([("select * from dim_customers", [])])
    (exposure,) = result.exposures
    assert exposure.depends_on == ("ref('dim_customers')",)
    assert exposure.referenced_columns == ()
    assert "referenced_columns" not in result.text


def test_no_columns_leaves_them_out() -> None:
    result = _run([("select order_id from fct_orders", [])], columns=False)
    assert result.exposures[0].referenced_columns == ()
    assert "referenced_columns" not in result.text


def test_evidence_columns_union_with_the_sql_and_resolve_like_tables() -> None:
    result = _run(
        [
            ("select order_id from fct_orders", ["ANALYTICS.MARTS.FCT_ORDERS.AMOUNT"]),
            ("", ["RAW.APP.USERS.EMAIL", "RAW.APP.NOT_A_NODE.X"]),
        ]
    )
    assert [(c["node"], c["column_name"]) for c in result.exposures[0].referenced_columns] == [
        ("ref('fct_orders')", "amount"),
        ("ref('fct_orders')", "order_id"),
    ]
    # evidence columns count only for tables the project is known to read
    with_table = _run(
        [("select order_id from fct_orders join raw.app.users u on true", ["RAW.APP.USERS.EMAIL"])]
    )
    assert {"column_name": "EMAIL", "node": "source('app', 'users')"} in (
        with_table.exposures[0].referenced_columns
    )


def test_a_temp_table_s_columns_are_not_a_node_s() -> None:
    result = _run(
        [
            (
                "create temporary table fct_orders as select order_id from analytics.marts.fct_orders;"
                " select amount from fct_orders",
                [],
            )
        ]
    )
    assert [c["column_name"] for c in result.exposures[0].referenced_columns] == ["order_id"]


def test_second_run_reads_columns_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: dict[str, Any] = {}
    first = _run([("select order_id from fct_orders", [])], cache=cache)
    assert any(isinstance(v, sql_columns.Columns) for v in cache.values())

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed again")

    monkeypatch.setattr(sql_columns, "extract_columns", refuse)
    second = _run([("select order_id from fct_orders", [])], cache=cache)
    assert second.exposures == first.exposures


def test_a_schema_change_of_a_read_table_re_reads_the_text() -> None:
    cache: dict[str, Any] = {}
    _run([("select * from fct_orders", [])], cache=cache)
    again = _run([("select * from fct_orders", [])], cache=cache, catalog=CATALOG)
    assert len(again.exposures[0].referenced_columns) == 4


@pytest.mark.parametrize(
    ("raw", "warehouse", "want"),
    [
        ("NUMBER(38,0)", "snowflake", "numeric"),
        ("TEXT", "snowflake", "string"),
        ("TIMESTAMP_NTZ", "snowflake", "timestamp"),
        ("BOOLEAN", "snowflake", "boolean"),
        ("VARIANT", "snowflake", "other"),
        ("INT64", "bigquery", "numeric"),
        ("STRING", "bigquery", "string"),
        ("BOOL", "bigquery", "boolean"),
        ("STRUCT<a INT64>", "bigquery", "other"),
    ],
)
def test_elementary_type(raw: str, warehouse: str, want: str) -> None:
    assert elementary_type(raw, warehouse) == want


def test_parse_column_name() -> None:
    assert parse_column_name("db.s.t.c", "snowflake") == ColumnRef(TableRef("DB", "S", "T"), "C")
    assert parse_column_name('DB.S.T."Mixed"', "snowflake") == ColumnRef(
        TableRef("DB", "S", "T"), "Mixed"
    )
    assert parse_column_name("p.d.t.Col", "bigquery") == ColumnRef(TableRef("p", "d", "t"), "col")
    assert parse_column_name("nodots", "snowflake") is None


def test_a_project_that_did_not_run_keeps_its_columns() -> None:
    first = _run([("select order_id from fct_orders", [])])
    project = HexProject.from_api(
        {"id": PID, "title": "Orders", "lastPublishedAt": "2026-01-01T00:00:00Z"}
    )
    again = pipeline.run(_manifest(), [project], [], settings=Settings(), existing=first.text)
    assert again.exposures[0].referenced_columns == first.exposures[0].referenced_columns
    assert again.text == first.text
