"""Table extraction spread over the machine's cores when a batch is large.

`parallel_extractor` keeps `pipeline.extract_distinct`'s contract (same texts in, the same
Extractions out, in order, the cache filled): cache hits are served first, and only the
misses of a large batch go to worker processes, in chunks. Small batches, one-core machines
and machines where processes cannot start parse in this process, as the serial default does.

Workers come from a fork server, so, as with any `multiprocessing` start method but `fork`,
a script that calls this at import time must guard its entry point with
``if __name__ == "__main__":`` (the CLI's entry points do).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import MutableMapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from . import sql_tables
from .bulk import gc_paused

log = logging.getLogger(__name__)

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
            parsed = _in_workers(missing, warehouse, workers)
    # In this process parse trees hold cycles, so the collector stays as it is here.
    parsed += [sql_tables.parse_tables(t, warehouse) for t in missing[len(parsed) :]]
    with gc_paused():
        for (key, where), ext in zip(todo.items(), parsed, strict=True):
            for i in where:
                out[i] = ext
            if cache is not None:
                cache[key] = ext
    return out  # type: ignore[return-value]  # every position is filled above


def _parse_chunk(texts: Sequence[str], warehouse: str) -> list[sql_tables.Extraction]:
    return [sql_tables.parse_tables(t, warehouse) for t in texts]


def _context() -> Any:
    """A fork server: workers start small and fast, without a copy of this process's heap."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["hex_exposures.sql_tables"])
    return ctx


def _in_workers(texts: Sequence[str], warehouse: str, workers: int) -> list[sql_tables.Extraction]:
    """The Extractions of a prefix of `texts` (all of them unless the workers failed).

    Whatever the pool could not do (processes cannot start here, a worker died) is left for
    the caller to parse in this process, so a run never fails for want of parallelism.
    """
    chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
    done: list[sql_tables.Extraction] = []
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(chunks)), mp_context=_context()
        ) as pool:
            for result in pool.map(_parse_chunk, chunks, [warehouse] * len(chunks)):
                done += result
    except Exception as err:  # BrokenProcessPool, OSError, ...: this process carries on
        log.debug("parsing in this process after %d texts: workers failed (%r)", len(done), err)
    return done
