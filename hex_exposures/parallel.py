"""Table and column extraction spread over the machine's cores when a batch is large.

`parallel_extractor` keeps `pipeline.extract_distinct`'s contract (same texts in, the same
Extractions out, in order, the cache filled): cache hits are served first, and only the
misses of a large batch go to worker processes, in chunks. `parallel_columns` does the same
for `column_stages.extract_columns_here` (the pipeline serves column cache hits itself). Small
batches, one-core machines and machines where processes cannot start parse in this process,
as the serial defaults do. Workers are handed texts (and, for columns, the few tables each
text reads), never the manifest or the query records.

Workers come from a fork server, so, as with any `multiprocessing` start method but `fork`,
a script that calls this at import time must guard its entry point with
``if __name__ == "__main__":`` (the CLI's entry points do).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, MutableMapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from . import sql_columns, sql_tables
from .bulk import gc_paused

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

MIN_BATCH = 1_000
"""Misses below which workers cost more to start than they save: on 2 cores, 500 texts
parse in about the same time either way and 1,000 in 25-30% less with workers
(benchmarks/README.md)."""
CHUNK = 250
"""Texts per task: large enough to amortise pickling, small enough to balance two cores."""


def cpus() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parallel_extractor(
    texts: Sequence[str],
    warehouse: str,
    cache: MutableMapping[str, Any] | None,
    *,
    workers: int | None = None,
    min_batch: int = MIN_BATCH,
) -> list[sql_tables.Extraction]:
    """Each text's Extraction, in order; cache hits first, misses parsed once each."""
    out: list[sql_tables.Extraction | None] = [None] * len(texts)
    todo: dict[str, list[int]] = {}  # key -> positions, so a repeated text is parsed once
    with gc_paused():
        for i, text in enumerate(texts):
            key = sql_tables.cache_key(text, warehouse)
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                out[i] = hit
            else:
                todo.setdefault(key, []).append(i)
    missing = [texts[where[0]] for where in todo.values()]
    workers = cpus() if workers is None else workers
    parsed: list[sql_tables.Extraction] = []
    if workers > 1 and len(missing) >= min_batch:
        with gc_paused():
            parsed = _in_workers(_parse_chunk, missing, warehouse, workers)
    # In this process parse trees hold cycles, so the collector stays as it is here.
    parsed += [sql_tables.parse_tables(t, warehouse) for t in missing[len(parsed) :]]
    with gc_paused():
        for (key, where), ext in zip(todo.items(), parsed, strict=True):
            for i in where:
                out[i] = ext
            if cache is not None:
                cache[key] = ext
    return out  # type: ignore[return-value]  # every position is filled above


def parallel_columns(
    tasks: Sequence[sql_columns.ColumnTask],
    warehouse: str,
    *,
    workers: int | None = None,
    min_batch: int = MIN_BATCH,
) -> list[sql_columns.Columns]:
    """Each task's Columns, in order: in worker processes when the batch is large."""
    workers = cpus() if workers is None else workers
    done: list[sql_columns.Columns] = []
    if workers > 1 and len(tasks) >= min_batch:
        with gc_paused():
            done = _in_workers(_columns_chunk, tasks, warehouse, workers)
    return done + [sql_columns.extract_task(t, warehouse) for t in tasks[len(done) :]]


def _parse_chunk(texts: Sequence[str], warehouse: str) -> list[sql_tables.Extraction]:
    return [sql_tables.parse_tables(t, warehouse) for t in texts]


def _columns_chunk(
    tasks: Sequence[sql_columns.ColumnTask], warehouse: str
) -> list[sql_columns.Columns]:
    return [sql_columns.extract_task(t, warehouse) for t in tasks]


def _context() -> Any:
    """A fork server: workers start small and fast, without a copy of this process's heap."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["hex_exposures.sql_tables", "hex_exposures.sql_columns"])
    return ctx


def _in_workers(
    work: Callable[[Sequence[T], str], list[R]], items: Sequence[T], warehouse: str, workers: int
) -> list[R]:
    """`work`'s results for a prefix of `items` (all of them unless the workers failed).

    Whatever the pool could not do (processes cannot start here, a worker died) is left for
    the caller to do in this process, so a run never fails for want of parallelism.
    """
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    done: list[R] = []
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(chunks)), mp_context=_context()
        ) as pool:
            for result in pool.map(work, chunks, [warehouse] * len(chunks)):
                done += result
    except Exception as err:  # BrokenProcessPool, OSError, ...: this process carries on
        log.debug("working in this process after %d items: workers failed (%r)", len(done), err)
    return done
