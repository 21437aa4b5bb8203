from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import pytest

from hex_exposures import parallel, pipeline, sql_tables

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
