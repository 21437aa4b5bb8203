from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hex_exposures import sql_tables
from hex_exposures.errors import ConfigError
from hex_exposures.records import TableRef
from hex_exposures.sql_tables import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_SUBSCRIPTS,
    Extraction,
    cache_key,
    extract_tables,
    parse_tables,
    qualify,
)

FIXTURES = Path(__file__).parent / "fixtures" / "sql"


class Case(NamedTuple):
    warehouse: str
    title: str
    sql: str
    context: dict[str, str] | None
    tables: frozenset[TableRef]
    error: str | None
    temps: frozenset[TableRef] = frozenset()


def _split(text: str, sep: str, *, unquote: bool) -> list[str]:
    """Split on `sep` outside double quotes; strip unquoted pieces, unquote quoted ones."""
    pieces, buf, quoted, was_quoted = [], "", False, False
    for ch in text + sep:
        if ch == '"':
            quoted, was_quoted = not quoted, True
            if not unquote:
                buf += ch
        elif ch == sep and not quoted:
            pieces.append(buf if was_quoted and unquote else buf.strip())
            buf, was_quoted = "", False
        else:
            buf += ch
    return pieces


def _expected(text: str) -> frozenset[TableRef]:
    refs = set()
    for name in _split(text, ",", unquote=False):
        if name:
            parts: list[str | None] = [None, None, *_split(name, ".", unquote=True)]
            refs.add(TableRef(parts[-3], parts[-2], str(parts[-1])))
    return frozenset(refs)


def test_expectation_format() -> None:
    got = _expected(' "my db".S."a,b" , x.y, "d.o.t".s.t, t ')
    assert got == {
        TableRef("my db", "S", "a,b"),
        TableRef(None, "x", "y"),
        TableRef("d.o.t", "s", "t"),
        TableRef(None, None, "t"),
    }
    assert _expected("") == frozenset()


def load_cases(warehouse: str) -> list[Case]:
    """Read the titled fixture format documented at the top of each fixture file."""
    cases: list[Case] = []
    current: dict[str, Any] | None = None
    for line in (FIXTURES / f"{warehouse}.sql").read_text().splitlines(keepends=True):
        if line.startswith("-- title:"):
            assert current is None, f"case without an expectation before {line!r}"
            current = {"title": line[9:].strip(), "lines": [], "context": None, "temps": ""}
        elif current is None:
            continue
        elif line.startswith("-- context:") and not current["lines"]:
            pairs = (item.split("=", 1) for item in line[11:].split())
            current["context"] = {k: v for k, v in pairs}
        elif line.startswith("-- temps:"):
            current["temps"] = line[9:]
        elif line.startswith(("-- expect:", "-- expect-error:")):
            error = line[16:].strip() if line.startswith("-- expect-error:") else None
            tables = frozenset() if error else _expected(line[10:])
            sql = "".join(current["lines"]).rstrip("\n")
            temps = _expected(current["temps"])
            cases.append(
                Case(warehouse, current["title"], sql, current["context"], tables, error, temps)
            )
            current = None
        else:
            current["lines"].append(line)
    assert current is None, "last case has no expectation"
    return cases


ALL_CASES = load_cases("snowflake") + load_cases("bigquery")


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    sql_tables._SHAPES.clear()


def test_fixture_files_hold_enough_cases() -> None:
    counts = {w: sum(c.warehouse == w for c in ALL_CASES) for w in ("snowflake", "bigquery")}
    assert counts["snowflake"] >= 30
    assert counts["bigquery"] >= 20
    assert len({(c.warehouse, c.title) for c in ALL_CASES}) == len(ALL_CASES)


@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c.warehouse}: {c.title}" for c in ALL_CASES])
def test_fixture(case: Case) -> None:
    if case.context is None:
        got = parse_tables(case.sql, case.warehouse)
    else:
        got = extract_tables(
            case.sql,
            warehouse=case.warehouse,
            database=case.context.get("database"),
            schema=case.context.get("schema"),
        )
    if case.error is not None:
        assert got.tables == ()
        assert got.error is not None and got.error.startswith(case.error), got.error
        assert "\n" not in got.error
    else:
        assert got.error is None, got.error
        assert set(got.tables) == case.tables
        assert len(got.tables) == len(case.tables)  # unique
        assert list(got.tables) == sorted(got.tables, key=_order)
    if case.context is None:
        assert set(got.temps) == case.temps
    else:
        assert got.temps == parse_tables(case.sql, case.warehouse).temps


def _corpus(order: list[Case], *, cold: bool) -> dict[tuple[str, str], Extraction]:
    sql_tables._SHAPES.clear()
    out = {}
    for case in order:
        if cold:
            sql_tables._SHAPES.clear()
        out[(case.warehouse, case.title)] = parse_tables(case.sql, case.warehouse)
    return out


def test_the_corpus_reads_the_same_cold_in_order_and_reversed() -> None:
    """A result is a function of the text alone (issue 17): the memo never changes one."""
    cold = _corpus(ALL_CASES, cold=True)
    forward = _corpus(ALL_CASES, cold=False)
    backward = _corpus(ALL_CASES[::-1], cold=False)
    assert forward == cold
    assert backward == cold
    # and the corpus does exercise the memo: some texts share a shape
    sql_tables._SHAPES.clear()
    for case in ALL_CASES:
        parse_tables(case.sql, case.warehouse)
    parsed = sum(1 for c in ALL_CASES if cold[(c.warehouse, c.title)].error is None)
    assert len(sql_tables._SHAPES) < parsed


def _masked_variants(sql: str, warehouse: str) -> list[str]:
    """`sql` with each literal the memo masks given another value of the same kind."""
    dialect = sql_tables._dialect(warehouse)
    tokens = dialect.tokenize(sql)
    kinds = [t.token_type for t in tokens]
    in_list: set[int] = set()
    out = []
    for i, tok in enumerate(tokens):
        if kinds[i] in sql_tables._LITERALS and sql_tables._value_literal(kinds, i, in_list):
            new = "7" if tok.token_type.name == "NUMBER" else "'zz.yy'"
            if tok.token_type.name == "STRING" or tok.token_type.name == "NUMBER":
                out.append(sql[: tok.start] + new + sql[tok.end + 1 :])
    return out


def test_a_masked_literal_never_changes_the_answer() -> None:
    """What the memo masks is exactly what cannot change a result: any other value gives the
    same answer when parsed cold."""
    checked = 0
    for case in ALL_CASES:
        want = parse_tables(case.sql, case.warehouse)
        for variant in _masked_variants(case.sql, case.warehouse):
            sql_tables._SHAPES.clear()
            got = parse_tables(variant, case.warehouse)
            assert (got.tables, got.temps, got.error is None) == (
                want.tables,
                want.temps,
                want.error is None,
            ), (case.title, variant)
            checked += 1
    assert checked >= 20


def _order(t: TableRef) -> tuple[str, str, str]:
    return (t.database or "", t.schema or "", t.name)


# --- qualify -----------------------------------------------------------------------------


def test_qualify_fills_missing_parts_from_context() -> None:
    refs = [TableRef(None, None, "T"), TableRef(None, "S", "U"), TableRef("D2", "S2", "V")]
    got = qualify(refs, warehouse="snowflake", database="DB", schema="SCH")
    assert got == (TableRef("D2", "S2", "V"), TableRef("DB", "S", "U"), TableRef("DB", "SCH", "T"))


def test_qualify_adds_no_database_without_a_schema() -> None:
    refs = [TableRef(None, None, "t"), TableRef(None, "ds", "u")]
    got = qualify(refs, warehouse="bigquery", database="proj", schema=None)
    assert got == (TableRef(None, None, "t"), TableRef("proj", "ds", "u"))


def test_qualify_without_context_keeps_names_and_dedupes() -> None:
    refs = [TableRef(None, "S", "T"), TableRef(None, "S", "T"), TableRef(None, None, "A")]
    got = qualify(refs, warehouse="snowflake", database=None, schema=None)
    assert got == (TableRef(None, None, "A"), TableRef(None, "S", "T"))


def test_qualify_does_not_fold_context_values() -> None:
    got = qualify([TableRef(None, None, "T")], warehouse="snowflake", database="db", schema="Sch")
    assert got == (TableRef("db", "Sch", "T"),)


def test_qualify_merges_names_that_become_equal() -> None:
    refs = [TableRef(None, None, "T"), TableRef("DB", "SCH", "T")]
    assert qualify(refs, warehouse="snowflake", database="DB", schema="SCH") == (
        TableRef("DB", "SCH", "T"),
    )


def test_unknown_warehouse_is_a_usage_error() -> None:
    with pytest.raises(ConfigError):
        parse_tables("select 1", "redshift")
    with pytest.raises(ConfigError):
        qualify([], warehouse="redshift", database=None, schema=None)


# --- cache --------------------------------------------------------------------------------


class CountingDict(dict[str, Any]):
    def __init__(self) -> None:
        super().__init__()
        self.reads = self.hits = self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.reads += 1
        self.hits += key in self
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        self.hits += key in self
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_second_call_hits_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = CountingDict()
    sql = "select * from a join s.b using (id)"
    first = extract_tables(sql, warehouse="snowflake", database="DB", schema="SCH", cache=cache)
    assert (cache.hits, cache.writes) == (0, 1)
    assert cache[cache_key(sql, "snowflake")] == Extraction(
        (TableRef(None, None, "A"), TableRef(None, "S", "B"))
    )  # stored as written, so another context can reuse it

    def no_parse(sql: str, warehouse: str) -> Extraction:
        raise AssertionError("parsed again")

    monkeypatch.setattr(sql_tables, "parse_tables", no_parse)
    cache.hits = 0
    second = extract_tables(sql, warehouse="snowflake", database="DB", schema="SCH", cache=cache)
    other = extract_tables(sql, warehouse="snowflake", database="X", schema="Y", cache=cache)
    assert second == first == Extraction((TableRef("DB", "S", "B"), TableRef("DB", "SCH", "A")))
    assert other.tables == (TableRef("X", "S", "B"), TableRef("X", "Y", "A"))
    assert (cache.hits, cache.writes) == (2, 1)


def test_cache_keeps_errors_and_accepts_the_json_form() -> None:
    cache = CountingDict()
    bad = extract_tables("select * from (", warehouse="bigquery", cache=cache)
    assert bad.error is not None and bad.tables == ()
    assert extract_tables("select * from (", warehouse="bigquery", cache=cache) == bad
    assert (cache.hits, cache.writes) == (1, 1)
    # A cache loaded from JSON holds lists; they are used as they are.
    cache[cache_key("select 1", "bigquery")] = [[["p", "d", "t"]], None]
    got = extract_tables("select 1", warehouse="bigquery", cache=cache)
    assert got == Extraction((TableRef("p", "d", "t"),))


def test_a_malformed_cache_entry_is_parsed_again() -> None:
    cache: dict[str, Any] = {cache_key("select * from t", "snowflake"): "garbage"}
    got = extract_tables("select * from t", warehouse="snowflake", cache=cache)
    assert got == Extraction((TableRef(None, None, "T"),))
    assert cache[cache_key("select * from t", "snowflake")] == got


def test_cache_key_is_stable_and_separates_dialect_and_text() -> None:
    key = cache_key("select 1", "snowflake")
    assert key == cache_key("select 1", "snowflake")
    assert len(key) == 32 and int(key, 16) >= 0
    assert key != cache_key("select 1", "bigquery")
    assert key != cache_key("select 1 ", "snowflake")
    assert cache_key("\ud800 lone surrogate", "snowflake")  # any str hashes


# --- shape memo -----------------------------------------------------------------------------


def test_texts_differing_in_literals_and_comments_share_one_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real = sql_tables._extract

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(sql_tables, "_extract", counting)
    texts = [
        f"select * from raw.t where d >= '2024-01-{i:02d}' and n > {i}\n-- Hex query metadata: "
        f'{{"trace_id": "{i}"}}'
        for i in range(1, 6)
    ]
    results = {parse_tables(t, "snowflake") for t in texts}
    assert results == {Extraction((TableRef(None, "RAW", "T"),))}
    assert len(calls) == 1


def test_memo_keeps_quoting_and_table_literals_apart() -> None:
    assert parse_tables("select * from t", "snowflake").tables == (TableRef(None, None, "T"),)
    assert parse_tables('select * from "t"', "snowflake").tables == (TableRef(None, None, "t"),)
    one = parse_tables("select * from identifier('a.b.c')", "snowflake")
    two = parse_tables("select * from identifier('x.y.z')", "snowflake")
    assert one.tables == (TableRef("A", "B", "C"),)
    assert two.tables == (TableRef("X", "Y", "Z"),)


def test_memo_never_shares_a_literal_that_can_name_a_table() -> None:
    """Issue 17: a string in table position, a routine body and a number inside a BigQuery
    name are part of the memo key, so texts differing there never share an answer."""
    pairs = [
        ("snowflake", "copy into t from 's3://a/'", "copy into t from @s/a/"),
        ("bigquery", "select * from p-1.d.t", "select * from p-2.d.t"),
        (
            "snowflake",
            "create function f() returns table (a int) as 'select * from raw.a'",
            "create function f() returns table (a int) as 'select * from raw.b'",
        ),
        ("snowflake", "select * from table('raw.a')", "select * from table('raw.b')"),
    ]
    for warehouse, first, second in pairs:
        sql_tables._SHAPES.clear()
        cold = parse_tables(second, warehouse)
        sql_tables._SHAPES.clear()
        parse_tables(first, warehouse)
        assert parse_tables(second, warehouse) == cold, second
    assert parse_tables("select * from p-2.d.t", "bigquery").tables == (TableRef("p-2", "d", "t"),)


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_tables, "_SHAPES_MAX", 3)
    for i in range(10):
        parse_tables(f"select * from t{i}", "snowflake")
    assert len(sql_tables._SHAPES) == 3


# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize("warehouse", ["snowflake", "bigquery"])
def test_a_50000_term_expression_parses(warehouse: str) -> None:
    sql = "select " + " + ".join(f"c{i}" for i in range(50_000)) + " as total from big.t"
    got = parse_tables(sql, warehouse)
    assert got.error is None
    assert got.tables == parse_tables("select 1 from big.t", warehouse).tables
    assert len(got.tables) == 1


@pytest.mark.parametrize("warehouse", ["snowflake", "bigquery"])
def test_nested_subqueries_under_the_depth_bound_are_read(warehouse: str) -> None:
    depth = 60
    sql = "select * from " + "(select * from " * depth + "deep.t" + ") x" * depth
    got = parse_tables(sql, warehouse)
    assert got.error is None
    assert [t.name.lower() for t in got.tables] == ["t"]


@pytest.mark.parametrize("warehouse", ["snowflake", "bigquery"])
def test_nesting_past_the_bound_is_refused(warehouse: str) -> None:
    deep_parens = "select " + "(" * 50_000 + "1" + ")" * 50_000 + " from t"
    got = parse_tables(deep_parens, warehouse)
    assert got.tables == () and got.error is not None and got.error.startswith("too deep")
    n = MAX_DEPTH + 1
    subqueries = "select * from " + "(select * from " * n + "t" + ")" * n
    assert parse_tables(subqueries, warehouse).error.startswith("too deep")  # type: ignore[union-attr]


@pytest.mark.parametrize("warehouse", ["snowflake", "bigquery"])
def test_long_subscript_chains_are_refused_before_they_crash_the_parser(warehouse: str) -> None:
    ok = parse_tables("select x" + "[1]" * 1_000 + " from s.t", warehouse)
    assert ok.error is None and [t.name.lower() for t in ok.tables] == ["t"]
    n = MAX_SUBSCRIPTS + 2  # n subscripts chain n - 1 times; sqlglotc crashes near 80,000
    got = parse_tables("select x" + "[1]" * n + " from s.t", warehouse)
    assert got == Extraction((), f"too deep: over {MAX_SUBSCRIPTS} chained subscripts")


def test_a_long_chain_of_ctes_resolves_every_reference() -> None:
    n = 5_000
    ctes = ", ".join(f"c{i} as (select * from c{i - 1})" for i in range(1, n))
    got = parse_tables(f"with {ctes} select * from c{n - 1} join c{n // 2} using (id)", "snowflake")
    assert got == Extraction((TableRef(None, None, "C0"),))


def test_deep_recursion_without_parentheses_is_an_error_not_a_crash() -> None:
    sql = "select " + "case when a then " * 3000 + "1" + " end" * 3000 + " from t"
    got = parse_tables(sql, "snowflake")
    # Today sqlglot recurses once per CASE; should it stop, the table must be found.
    assert got in (Extraction((), "recursion"), Extraction((TableRef(None, None, "T"),)))


def test_texts_over_the_size_bound_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> Any:
        raise AssertionError("tokenized")

    monkeypatch.setattr(sql_tables, "_parse", fail)
    sql = "select * from t where x = '" + "a" * MAX_CHARS + "'"
    assert parse_tables(sql, "snowflake") == Extraction((), "too long")


@pytest.mark.parametrize("text", ["", "   \n\t ", "-- just a comment", "/* block */"])
def test_empty_texts(text: str) -> None:
    assert parse_tables(text, "snowflake") == Extraction((), "empty")


def test_any_exception_becomes_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(sql_tables, "_extract", broken)
    got = parse_tables("select * from t", "snowflake")
    assert got == Extraction((), "parse error: RuntimeError: boom second line")


def test_recursion_error_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def deep(*args: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(sql_tables, "_extract", deep)
    assert parse_tables("select * from t", "bigquery") == Extraction((), "recursion")


def test_collector_state_is_restored() -> None:
    assert gc.isenabled()
    parse_tables("select * from t", "snowflake")
    assert gc.isenabled()
    gc.disable()
    try:
        parse_tables("select * from u", "snowflake")
        assert not gc.isenabled()
    finally:
        gc.enable()


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("select from join with as (),.;'\"`$@:{}*-/\n ab1")),
        max_size=120,
    ),
    warehouse=st.sampled_from(["snowflake", "bigquery"]),
)
def test_arbitrary_text_never_raises(text: str, warehouse: str) -> None:
    got = parse_tables(text, warehouse)
    assert isinstance(got, Extraction)
    assert got.error is None or (got.tables == () and "\n" not in got.error)
    assert all(isinstance(t, TableRef) and t.name for t in got.tables)
