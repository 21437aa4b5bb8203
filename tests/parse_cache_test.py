from __future__ import annotations

import os
import pickle
import sqlite3

import pytest

from hex_exposures import parse_cache, pipeline, sql_tables
from hex_exposures.parse_cache import ParseCache
from hex_exposures.records import TableRef

SQL = "select * from analytics.marts.fct_orders o join raw.shop.customers c on c.id = o.cid"


def _filled(path: str, *texts: str) -> ParseCache:
    cache = ParseCache(path)
    pipeline.extract_distinct(list(texts), "snowflake", cache)
    assert cache.save()
    return cache


def test_a_saved_cache_serves_every_text_without_parsing(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "c" / "parse_cache.sqlite3")
    first = pipeline.extract_distinct([SQL, "select 1 from t"], "snowflake", ParseCache(path))
    _filled(path, SQL, "select 1 from t")

    def boom(*_a: object) -> None:
        raise AssertionError("parsed a cached text")

    monkeypatch.setattr(sql_tables, "parse_tables", boom)
    again = pipeline.extract_distinct([SQL, "select 1 from t"], "snowflake", ParseCache(path))
    assert again == first
    assert TableRef("ANALYTICS", "MARTS", "FCT_ORDERS") in again[0].tables


def test_for_project_lives_under_the_target_path(tmp_path) -> None:
    cache = ParseCache.for_project(str(tmp_path), "target")
    cache[sql_tables.cache_key(SQL, "snowflake")] = sql_tables.parse_tables(SQL, "snowflake")
    assert cache.save()
    assert (tmp_path / "target" / "hex_exposures_parse_cache" / "parse_cache.sqlite3").is_file()


def test_another_version_stamp_discards_the_file(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "parse_cache.sqlite3")
    _filled(path, SQL)
    assert len(ParseCache(path)) == 1
    monkeypatch.setattr(parse_cache, "stamp", lambda: "1:other-sqlglot:0.0.0:x")
    assert len(ParseCache(path)) == 0


def test_the_stamp_names_sqlglot_and_our_version() -> None:
    import sqlglot

    from hex_exposures import __version__

    fmt, glot, ours, _digest = parse_cache.stamp().split(":")
    assert (fmt, glot, ours) == (str(parse_cache.FORMAT), sqlglot.__version__, __version__)


@pytest.mark.parametrize(
    "content", [b"", b"not a database at all" * 100, b"SQLite format 3\x00junk"]
)
def test_a_corrupt_file_is_ignored_then_replaced(tmp_path, content, caplog) -> None:
    path = tmp_path / "parse_cache.sqlite3"
    path.write_bytes(content)
    caplog.set_level("DEBUG", logger="hex_exposures.parse_cache")
    cache = ParseCache(str(path))
    assert len(cache) == 0
    cache[sql_tables.cache_key(SQL, "snowflake")] = sql_tables.parse_tables(SQL, "snowflake")
    assert cache.save()
    assert len(ParseCache(str(path))) == 1


def test_a_planted_pickle_is_a_miss_and_never_runs(tmp_path) -> None:
    path = str(tmp_path / "parse_cache.sqlite3")
    _filled(path, SQL)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    key = sql_tables.cache_key(SQL, "snowflake")
    con = sqlite3.connect(path)
    con.execute("UPDATE entries SET value = ? WHERE key = ?", (pickle.dumps(Evil()), key))
    con.commit()
    con.close()
    cache = ParseCache(path)
    assert cache.get(key) is None
    assert not marker.exists()


def test_entries_unused_for_several_saves_are_dropped(tmp_path) -> None:
    path = str(tmp_path / "parse_cache.sqlite3")
    _filled(path, "select a from old_table")
    old = sql_tables.cache_key("select a from old_table", "snowflake")
    for i in range(parse_cache.KEEP_SAVES - 1):
        _filled(path, f"select {i} from t")
        assert old in ParseCache(path)
    _filled(path, "select 99 from t")
    assert old not in ParseCache(path)


def test_a_run_that_parsed_nothing_new_writes_nothing(tmp_path) -> None:
    path = tmp_path / "parse_cache.sqlite3"
    _filled(str(path), SQL)
    before = path.stat().st_mtime_ns
    cache = ParseCache(str(path))
    pipeline.extract_distinct([SQL], "snowflake", cache)
    assert cache.save() is False
    assert path.stat().st_mtime_ns == before


def test_an_unwritable_place_is_not_an_error(tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    cache = ParseCache(str(blocker / "sub" / "parse_cache.sqlite3"))
    cache[sql_tables.cache_key(SQL, "snowflake")] = sql_tables.parse_tables(SQL, "snowflake")
    assert cache.save() is False
    assert list(tmp_path.iterdir()) == [blocker]


def test_it_behaves_as_a_mapping(tmp_path) -> None:
    path = str(tmp_path / "parse_cache.sqlite3")
    _filled(path, SQL, "select 2 from u")
    cache = ParseCache(path)
    ext = sql_tables.Extraction((), "parse error: x")
    cache["k"] = ext
    assert len(cache) == 3
    assert set(cache) >= {"k", sql_tables.cache_key(SQL, "snowflake")}
    assert cache["k"] is ext
    del cache["k"]
    with pytest.raises(KeyError):
        cache["k"]
    with pytest.raises(KeyError):
        del cache["k"]


def test_columns_and_temps_come_back_as_they_went_in(tmp_path) -> None:
    from hex_exposures import sql_columns

    path = str(tmp_path / "parse_cache.sqlite3")
    orders = TableRef("ANALYTICS", "MARTS", "FCT_ORDERS")
    values = {
        "e": sql_tables.Extraction((orders,), None, (TableRef("", "", "TMP"),)),
        "u": sql_tables.Extraction((), "unparsed: x"),
        "c": sql_columns.Columns((sql_columns.ColumnRef(orders, "AMOUNT"),), None),
    }
    cache = ParseCache(path)
    cache.update(values)
    assert cache.save()
    again = ParseCache(path)
    assert {k: again[k] for k in values} == values
    assert type(again["c"]) is sql_columns.Columns and type(again["e"]) is sql_tables.Extraction
    other = ParseCache(path)["c"]
    assert other == again["c"] and other.columns[0].table is again["c"].columns[0].table


@pytest.mark.parametrize("value", [b"", b"E", b"X\x90", b"E\x92\xa1a\xc0", b"C\xc1"])
def test_a_value_that_does_not_fit_its_type_is_a_miss(tmp_path, value) -> None:
    path = str(tmp_path / "parse_cache.sqlite3")
    _filled(path, SQL)
    key = sql_tables.cache_key(SQL, "snowflake")
    con = sqlite3.connect(path)
    con.execute("UPDATE entries SET value = ? WHERE key = ?", (value, key))
    con.commit()
    con.close()
    cache = ParseCache(path)
    assert key in cache and cache.get(key) is None and key not in cache
