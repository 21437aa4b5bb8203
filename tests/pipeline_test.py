"""pipeline stages with plain values: a project's temporary tables shadow its reads (issue 17)."""

from __future__ import annotations

import json
from typing import Any

from hex_exposures import pipeline, report, temp_tables
from hex_exposures.records import HexProject, HexQuery, Settings, TableRef
from tests.manifest_factory import manifest, model

A = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
B = "0a1b2c3d-1111-4aaa-8bbb-000000000002"
CREATE = "create or replace temporary table orders as select * from raw.shop.orders_src"


def _sql(pid: str, text: str) -> str:
    return (
        f"{text}\n-- Hex query metadata: {json.dumps({'project_id': pid, 'context': 'APP_VIEW'})}"
    )


def _project(pid: str, title: str) -> HexProject:
    return HexProject.from_api({"id": pid, "title": title, "lastPublishedAt": "2026-01-01"})


def _run(
    queries: list[HexQuery], *, adapter: str = "snowflake", nodes: Any = None
) -> pipeline.RunResult:
    if nodes is None:
        nodes = [model("orders"), model("customers"), model("orders", package="proj", schema="x")]
        nodes[2] = ("model.proj.x_orders", {**nodes[2][1], "name": "x_orders", "alias": "orders"})
    return pipeline.run(
        manifest(*nodes, adapter=adapter),
        [_project(A, "Alpha"), _project(B, "Beta")],
        queries,
        settings=Settings(columns=False),
    )


def _deps(result: pipeline.RunResult) -> dict[str, tuple[str, ...]]:
    return {p.project_id: p.depends_on for p in result.report.projects}


def _q(pid: str, text: str, db: str | None = "ANALYTICS", schema: str | None = "MARTS") -> HexQuery:
    return HexQuery(pid, _sql(pid, text), db, schema)


def test_a_temp_table_shadows_the_projects_reads_in_other_texts() -> None:
    result = _run(
        [
            _q(A, CREATE),
            _q(A, "select * from orders join customers using (id)"),
            _q(A, "select * from analytics.marts.orders"),  # the session's own db and schema
            _q(A, "select * from marts.orders"),  # completed to the same: shadowed
        ]
    )
    (alpha,) = [p for p in result.report.projects if p.project_id == A]
    assert alpha.depends_on == ("ref('customers')",)
    assert "analytics.marts.orders" not in {t.lower() for t in alpha.unmatched}
    assert [s["table"] for s in alpha.shadowed] == ["ANALYTICS.MARTS.ORDERS"]
    (note,) = alpha.shadowed
    assert note["temp_table"] == "ANALYTICS.MARTS.ORDERS"
    assert note["created_in"] == temp_tables.text_hash(CREATE)
    text = report.report_text(result.report)
    assert (
        "temp table      ANALYTICS.MARTS.ORDERS (the project's temporary table "
        f"ANALYTICS.MARTS.ORDERS, created in text {note['created_in']}; not a dependency)"
    ) in text
    assert json.loads(report.report_json(result.report))["projects"][0]["shadowed"] == [note]


def test_another_projects_temp_table_shadows_nothing() -> None:
    result = _run([_q(A, CREATE), _q(B, "select * from orders")])
    deps = _deps(result)
    assert deps[B] == ("ref('orders')",)
    assert A not in {p.project_id for p in result.report.projects if p.shadowed}


def test_a_read_of_another_schema_is_not_shadowed() -> None:
    result = _run([_q(A, CREATE), _q(A, "select * from analytics.x.orders")])
    assert _deps(result)[A] == ("ref('x_orders')",)


def test_without_a_session_context_only_unqualified_reads_are_shadowed() -> None:
    result = _run(
        [
            _q(A, CREATE, None, None),
            _q(A, "select * from orders", None, None),
            _q(A, "select * from analytics.marts.orders", None, None),
        ]
    )
    (alpha,) = [p for p in result.report.projects if p.project_id == A]
    assert alpha.depends_on == ("ref('orders')",)
    assert [s["table"] for s in alpha.shadowed] == ["ORDERS"]


def test_a_temp_table_made_in_another_schema_shadows_reads_of_it() -> None:
    create = "create temp table analytics.x.orders as select 1 as id"
    result = _run([_q(A, create), _q(A, "select * from analytics.x.orders", "OTHER", "PLACE")])
    assert _deps(result)[A] == ()


def test_the_creating_text_keeps_its_own_order() -> None:
    """A read before the CREATE in the same text is the permanent table (sql_tables)."""
    text = f"select count(*) from orders; {CREATE}; select * from orders"
    assert _deps(_run([_q(A, text)]))[A] == ("ref('orders')",)


def test_other_evidence_of_a_temp_table_is_shadowed_too() -> None:
    q = HexQuery(A, "", "ANALYTICS", "MARTS", tables=("ANALYTICS.MARTS.ORDERS",))
    result = _run([_q(A, CREATE), q])
    assert _deps(result)[A] == ()


def test_bigquery_shadows_bare_reads_only() -> None:
    nodes = [
        model("tmp", database="proj-1", schema="ds"),
        model("orders", database="proj-1", schema="ds"),
    ]
    result = _run(
        [
            _q(A, "CREATE TEMP TABLE tmp AS SELECT 1 AS id", "proj-1", "ds"),
            _q(A, "SELECT * FROM tmp", "proj-1", "ds"),
            _q(A, "SELECT * FROM ds.tmp JOIN _SESSION.orders USING (id)", "proj-1", "ds"),
        ],
        adapter="bigquery",
        nodes=nodes,
    )
    (alpha,) = [p for p in result.report.projects if p.project_id == A]
    assert alpha.depends_on == ("ref('tmp')",)  # ds.tmp is the dataset's table
    assert [s["table"] for s in alpha.shadowed] == ["proj-1.ds.tmp"]


def test_session_temps_collects_per_project() -> None:
    kept = [
        (_q(A, CREATE), A, CREATE),
        (_q(B, "select 1"), B, "select 1"),
    ]
    parsed = pipeline.extract_tables(kept, "snowflake", None, pipeline.extract_distinct)
    temps = temp_tables.session_temps(kept, parsed, "snowflake")
    assert list(temps) == [A]
    (temp,) = temps[A]
    assert temp == temp_tables.SessionTemp(
        "ORDERS", TableRef("ANALYTICS", "MARTS", "ORDERS"), CREATE
    )


def test_report_quotes_names_that_would_not_fold_and_says_why_a_node_is_no_target() -> None:
    """Issue 17, class 7: quoted identifiers print quoted; ephemeral and disabled models are
    named, not left as 'not a dbt node'."""
    nodes = [
        model("orders"),
        model("int_orders", materialized="ephemeral"),
        model("legacy", enabled=False),
    ]
    result = _run(
        [
            _q(
                A,
                'select * from hex_writeback."server_segments", int_orders, marts.legacy, orders',
            )
        ],
        nodes=nodes,
    )
    (alpha,) = [p for p in result.report.projects if p.project_id == A]
    assert alpha.depends_on == ("ref('orders')",)
    assert alpha.unmatched == ('ANALYTICS.HEX_WRITEBACK."server_segments"',)
    assert alpha.inactive == (
        {
            "table": "ANALYTICS.MARTS.INT_ORDERS",
            "node": "model.proj.int_orders",
            "state": "ephemeral",
        },
        {"table": "ANALYTICS.MARTS.LEGACY", "node": "model.proj.legacy", "state": "disabled"},
    )
    assert alpha.notes == ()
    lines = report.report_text(result.report).splitlines()
    assert '    not a dbt node  ANALYTICS.HEX_WRITEBACK."server_segments"' in lines
    assert (
        "    inactive node   ANALYTICS.MARTS.INT_ORDERS (model.proj.int_orders is ephemeral: "
        "dbt builds no relation for it)"
    ) in lines
    assert (
        "                    ANALYTICS.MARTS.LEGACY (model.proj.legacy is disabled in dbt)" in lines
    )


def test_other_evidence_of_a_temp_tables_columns_is_dropped() -> None:
    evidence = HexQuery(
        A,
        "",
        "ANALYTICS",
        "MARTS",
        columns=("ANALYTICS.MARTS.ORDERS.ID", "ANALYTICS.MARTS.CUSTOMERS.ID"),
    )
    kept = [(_q(A, CREATE), A, CREATE), (evidence, A, "")]
    parsed = pipeline.extract_tables(kept, "snowflake", None, pipeline.extract_distinct)
    qualified = pipeline.qualify_reads(kept, parsed, "snowflake")
    temps = temp_tables.session_temps(kept, parsed, "snowflake")
    gathered = pipeline.gather_evidence(kept, parsed, "snowflake", qualified, temps, columns=True)
    assert {c.table.name for c in gathered.evidence[A].columns} == {"CUSTOMERS"}
    without = pipeline.gather_evidence(kept, parsed, "snowflake", qualified, {}, columns=True)
    assert {c.table.name for c in without.evidence[A].columns} == {"CUSTOMERS", "ORDERS"}


def test_texts_reading_no_dbt_node_cost_no_column_extraction() -> None:
    """Columns are kept only for tables that are dbt nodes (`_referenced`), so a text whose
    tables are none of them is not sent to column extraction at all; the others still are."""
    seen: list[str] = []

    def extractor(tasks: Any, warehouse: str) -> Any:
        seen.extend(t.sql for t in tasks)
        return pipeline.extract_columns_here(tasks, warehouse)

    orders = model("orders")
    orders[1]["columns"] = {n: {"name": n} for n in ("id", "amount")}
    queries = [
        HexQuery(A, _sql(A, "select id, amount from analytics.marts.orders"), "ANALYTICS", "MARTS"),
        HexQuery(A, _sql(A, "select a, b from raw.elsewhere.events"), "ANALYTICS", "MARTS"),
    ]
    result = pipeline.run(
        manifest(orders),
        [_project(A, "Alpha")],
        queries,
        settings=Settings(),
        column_extractor=extractor,
    )
    assert seen == ["select id, amount from analytics.marts.orders"]
    (exposure,) = result.exposures
    assert {c["column_name"] for c in exposure.referenced_columns} == {"id", "amount"}
