from __future__ import annotations

import functools
import json
from concurrent.futures.process import BrokenProcessPool

import pytest

from hex_exposures import parallel, pipeline, sql_columns, sql_tables
from hex_exposures.records import HexProject, HexQuery, Settings, TableRef
from tests.manifest_factory import manifest, model

TEXTS = [
    *(
        f"select a, b from analytics.marts.t{i} x join raw.s.u{i % 3} y on x.id = y.id"
        for i in range(40)
    ),
    "with c as (select * from db.s.base) select * from c",
    "select * from",  # does not parse
    "select * from db.s.t where id in (1, 2, 3)",
    "select * from db.s.t where id in (4, 5)",  # same shape as the text above
]


def test_workers_give_what_the_serial_extractor_gives() -> None:
    serial = pipeline.extract_distinct(TEXTS, "snowflake", {})
    cache: dict[str, sql_tables.Extraction] = {}
    got = parallel.parallel_extractor(TEXTS, "snowflake", cache, workers=2, min_batch=0)
    assert got == serial
    assert got[-3].error and not got[-3].tables
    assert cache == {
        sql_tables.cache_key(t, "snowflake"): e for t, e in zip(TEXTS, serial, strict=True)
    }


def test_cache_hits_are_served_without_parsing(monkeypatch) -> None:
    cache: dict[str, sql_tables.Extraction] = {}
    first = parallel.parallel_extractor(TEXTS[:5], "snowflake", cache, workers=1)

    def boom(*_a: object) -> None:
        raise AssertionError("parsed a cached text")

    monkeypatch.setattr(sql_tables, "parse_tables", boom)
    assert (
        parallel.parallel_extractor(TEXTS[:5], "snowflake", cache, workers=2, min_batch=0) == first
    )


def test_a_repeated_text_is_parsed_once(monkeypatch) -> None:
    calls: list[str] = []
    real = sql_tables.parse_tables

    def counting(text: str, warehouse: str) -> sql_tables.Extraction:
        calls.append(text)
        return real(text, warehouse)

    monkeypatch.setattr(sql_tables, "parse_tables", counting)
    got = parallel.parallel_extractor([TEXTS[0], TEXTS[1], TEXTS[0]], "snowflake", None, workers=1)
    assert calls == [TEXTS[0], TEXTS[1]]
    assert got[0] == got[2]


def test_small_batches_never_start_processes(monkeypatch) -> None:
    def no_pool(*_a: object, **_k: object) -> None:
        raise AssertionError("started a process pool for a small batch")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    got = parallel.parallel_extractor(TEXTS, "snowflake", {}, workers=2, min_batch=len(TEXTS) + 1)
    assert got == pipeline.extract_distinct(TEXTS, "snowflake", {})


@pytest.mark.parametrize(
    "error", [OSError("no processes here"), BrokenProcessPool("a worker died")]
)
def test_when_workers_fail_the_rest_is_parsed_here(monkeypatch, error) -> None:
    class FailingPool:
        """Returns the first chunk, then fails the way a real pool does."""

        def __init__(self, *_a: object, **_k: object) -> None:
            pass

        def __enter__(self) -> FailingPool:
            return self

        def __exit__(self, *_exc: object) -> None:
            return None

        def map(self, fn, chunks, warehouses):  # type: ignore[no-untyped-def]
            chunks = list(chunks)
            yield fn(chunks[0], warehouses[0])
            raise error

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", FailingPool)
    monkeypatch.setattr(parallel, "CHUNK", 10)
    got = parallel.parallel_extractor(TEXTS, "snowflake", {}, workers=2, min_batch=0)
    assert got == pipeline.extract_distinct(TEXTS, "snowflake", {})


def test_cpus_counts_at_least_one() -> None:
    assert parallel.cpus() >= 1


def _column_tasks() -> list[sql_columns.ColumnTask]:
    orders = TableRef("DB", "S", "BASE")
    known = {orders: sql_columns.TableColumns({"ID": "", "AMOUNT": "", "STATUS": ""}, True)}
    digest = sql_columns.schema_digest([orders], known)
    texts = [
        "with c as (select * from db.s.base) select id, amount from c",
        "select * from base where status = 'x'",
        "select b.* from s.base b",
        "select * from",  # does not parse
        *(f"select id from db.s.base where amount > {i}" for i in range(30)),  # one shape
    ]
    return [
        sql_columns.ColumnTask(text, database, schema, known, digest)
        for text in texts
        for database, schema in (("DB", "S"), (None, None))
    ]


def test_workers_read_the_columns_the_serial_extractor_reads() -> None:
    tasks = _column_tasks()
    here = pipeline.extract_columns_here(tasks, "snowflake")
    got = parallel.parallel_columns(tasks, "snowflake", workers=2, min_batch=0)
    assert got == here
    assert any(c.columns for c in got) and got[6].error


def test_a_run_with_workers_equals_a_run_in_this_process() -> None:
    """Tables and columns from worker processes: the same exposures, report and cache."""
    pid = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
    comment = "\n-- Hex query metadata: " + json.dumps({"project_id": pid, "context": "APP_VIEW"})
    queries = [
        HexQuery(pid, text + comment, database, schema)
        for text in (
            "select id, amount from analytics.marts.fct_orders",
            "select o.status, c.name from fct_orders o join dim_customers c on o.id = c.id",
            *(f"select * from fct_orders where amount > {i}" for i in range(20)),
        )
        for database, schema in (("ANALYTICS", "MARTS"), ("OTHER", "MARTS"))
    ]
    orders, customers = model("fct_orders"), model("dim_customers")
    orders[1]["columns"] = {n: {"name": n} for n in ("id", "amount", "status")}
    customers[1]["columns"] = {n: {"name": n} for n in ("id", "name")}
    project = HexProject.from_api({"id": pid, "title": "Orders", "lastPublishedAt": "2026-01-01"})
    runs = []
    for extractor, column_extractor in (
        (pipeline.extract_distinct, pipeline.extract_columns_here),
        (
            functools.partial(parallel.parallel_extractor, workers=2, min_batch=0),
            functools.partial(parallel.parallel_columns, workers=2, min_batch=0),
        ),
    ):
        cache: dict[str, object] = {}
        result = pipeline.run(
            manifest(orders, customers),
            [project],
            queries,
            settings=Settings(),
            cache=cache,
            extractor=extractor,
            column_extractor=column_extractor,
        )
        runs.append((result, cache))
    (serial, serial_cache), (workers, workers_cache) = runs
    assert workers.text == serial.text and workers.report == serial.report
    assert workers_cache == serial_cache
    assert len(serial.exposures[0].referenced_columns) == 5
