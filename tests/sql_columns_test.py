from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest

from hex_exposures import sql_columns
from hex_exposures.records import TableRef
from hex_exposures.sql_columns import (
    ColumnRef,
    Columns,
    TableColumns,
    cache_key,
    column_key,
    extract_columns,
    schema_digest,
)

FIXTURES = Path(__file__).parent / "fixtures" / "columns"


class Case(NamedTuple):
    warehouse: str
    title: str
    sql: str
    context: dict[str, str]
    tables: dict[TableRef, TableColumns]
    columns: frozenset[ColumnRef]
    error: str | None


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes; strip and unquote the pieces."""
    pieces, buf, quoted, was_quoted = [], "", False, False
    for ch in text + sep:
        if ch == '"':
            quoted, was_quoted = not quoted, True
        elif ch == sep and not quoted:
            pieces.append(buf if was_quoted else buf.strip())
            buf, was_quoted = "", False
        else:
            buf += ch
    return pieces


def _table(name: str) -> TableRef:
    parts: list[str | None] = [None, None, *_split(name.strip(), ".")]
    return TableRef(parts[-3], parts[-2], str(parts[-1]))


def _expected(text: str) -> frozenset[ColumnRef]:
    out = set()
    for name in _split(text, ","):
        if name:
            *table, column = _split(name, ".")
            parts: list[str | None] = [None, None, *table]
            out.add(ColumnRef(TableRef(parts[-3], parts[-2], str(parts[-1])), column))
    return frozenset(out)


def test_expectation_format() -> None:
    assert _expected(' A."m s".T.c, t.x ') == {
        ColumnRef(TableRef("A", "m s", "T"), "c"),
        ColumnRef(TableRef(None, None, "t"), "x"),
    }
    assert _expected("") == frozenset()


def load_cases(warehouse: str) -> list[Case]:
    cases: list[Case] = []
    current: dict[str, Any] | None = None
    for line in (FIXTURES / f"{warehouse}.sql").read_text().splitlines(keepends=True):
        if line.startswith("-- title:"):
            assert current is None, f"case without an expectation before {line!r}"
            current = {"title": line[9:].strip(), "lines": [], "context": {}, "tables": {}}
        elif current is None:
            continue
        elif line.startswith("-- context:") and not current["lines"]:
            current["context"] = dict(item.split("=", 1) for item in line[11:].split())
        elif line.startswith(("-- docs:", "-- catalog:")) and not current["lines"]:
            kind, rest = line[3:].split(":", 1)
            name, cols = rest.strip().rstrip(")").split("(", 1)
            names = {c.strip(): "" for c in cols.split(",") if c.strip()}
            current["tables"][_table(name)] = TableColumns(names, complete=kind == "catalog")
        elif line.startswith(("-- expect:", "-- expect-error:")):
            error = line[16:].strip() if line.startswith("-- expect-error:") else None
            columns = frozenset() if error else _expected(line[10:])
            sql = "".join(current["lines"]).rstrip("\n")
            cases.append(
                Case(
                    warehouse,
                    current["title"],
                    sql,
                    current["context"],
                    current["tables"],
                    columns,
                    error,
                )
            )
            current = None
        else:
            current["lines"].append(line)
    assert current is None, "last case has no expectation"
    return cases


ALL_CASES = load_cases("snowflake") + load_cases("bigquery")


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    sql_columns._SHAPES.clear()


def _run(case: Case) -> Columns:
    return extract_columns(
        case.sql,
        warehouse=case.warehouse,
        database=case.context.get("database"),
        schema=case.context.get("schema"),
        tables=case.tables,
    )


def test_fixture_files_hold_enough_cases() -> None:
    counts = {w: sum(c.warehouse == w for c in ALL_CASES) for w in ("snowflake", "bigquery")}
    assert counts["snowflake"] >= 35
    assert counts["bigquery"] >= 15
    assert len({(c.warehouse, c.title) for c in ALL_CASES}) == len(ALL_CASES)


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.warehouse}: {c.title}" for c in ALL_CASES])
def test_fixture(case: Case) -> None:
    got = _run(case)
    if case.error is not None:
        assert got.columns == ()
        assert got.error is not None and got.error.startswith(case.error), got.error
    else:
        assert got.error is None, got.error
        assert set(got.columns) == case.columns
        assert len(got.columns) == len(case.columns)


def test_precision_and_recall_over_the_labels() -> None:
    """Every labelled column found and nothing else: the figure the report quotes."""
    hits = found = labelled = 0
    for case in ALL_CASES:
        got = set(_run(case).columns)
        hits += len(got & case.columns)
        found += len(got)
        labelled += len(case.columns)
    assert labelled >= 130
    assert hits / found == 1.0
    assert hits / labelled == 1.0


def test_columns_come_out_sorted() -> None:
    got = extract_columns(
        "select z, a from t1 join t2 using (k)",
        warehouse="snowflake",
        database="D",
        schema="S",
        tables={
            TableRef("D", "S", "T1"): TableColumns({"Z": "", "K": ""}, True),
            TableRef("D", "S", "T2"): TableColumns({"A": "", "K": ""}, True),
        },
    )
    assert [f"{c.table}.{c.column}" for c in got.columns] == [
        "D.S.T1.K",
        "D.S.T1.Z",
        "D.S.T2.A",
        "D.S.T2.K",
    ]


def test_column_key_folds_only_where_the_warehouse_ignores_case() -> None:
    assert column_key("Amount", "bigquery") == "amount"
    assert column_key("Amount", "snowflake") == "Amount"


def test_schema_digest_depends_only_on_the_tables_asked_for() -> None:
    t1, t2 = TableRef("D", "S", "T1"), TableRef("D", "S", "T2")
    schema = {t1: TableColumns({"A": ""}, True), t2: TableColumns({"B": ""}, False)}
    changed = {**schema, t2: TableColumns({"B": "", "C": ""}, False)}
    assert schema_digest([t1], schema) == schema_digest([t1], changed)
    assert schema_digest([t2], schema) != schema_digest([t2], changed)
    assert schema_digest([t1, t2], schema) == schema_digest([t2, t1, t1], schema)
    docs_only = {**schema, t1: TableColumns({"A": ""}, False)}
    assert schema_digest([t1], schema) != schema_digest([t1], docs_only)


def test_cache_key_separates_text_context_and_schema() -> None:
    base = cache_key("select 1", "snowflake", "D", "S", "x")
    assert base == cache_key("select 1", "snowflake", "D", "S", "x")
    assert (
        len(
            {
                base,
                cache_key("select 2", "snowflake", "D", "S", "x"),
                cache_key("select 1", "bigquery", "D", "S", "x"),
                cache_key("select 1", "snowflake", "E", "S", "x"),
                cache_key("select 1", "snowflake", "D", "T", "x"),
                cache_key("select 1", "snowflake", "D", "S", "y"),
            }
        )
        == 6
    )


@pytest.mark.parametrize(
    ("sql", "error"),
    [("", "empty"), ("   ", "empty"), ("select (" * 200 + "1", "too deep")],
)
def test_refusals_are_results(sql: str, error: str) -> None:
    got = extract_columns(sql, warehouse="snowflake")
    assert got.columns == ()
    assert got.error is not None and got.error.startswith(error)


def test_texts_differing_in_literals_share_one_result_per_context_and_schema() -> None:
    t = TableRef("D", "S", "T")
    schema = {t: TableColumns({"A": "", "B": ""}, True)}
    digest = schema_digest([t], schema)

    def run(sql: str, **kw: object) -> Columns:
        args: dict[str, object] = {"database": "D", "schema": "S", "tables": schema}
        args.update(kw)
        return extract_columns(sql, warehouse="snowflake", digest=digest, **args)  # type: ignore[arg-type]

    first = run("select a from t where b = 1")
    assert run("select a from t where b = 2 -- another value") == first
    assert len(sql_columns._SHAPES) == 1
    assert run('select "a" from t where b = 1').columns != first.columns  # quoting is kept
    assert run("select a from t where b = 1", schema="OTHER").columns != first.columns
    assert len(sql_columns._SHAPES) == 3
