"""What column extraction (`referenced_columns`, issue 15) costs, in distinct texts per second.

    python -m benchmarks.columns_bench [--factor 0.01] [--warehouse snowflake]

On the corpus of `benchmarks.run` (its manifest documents columns, so `SELECT *` expands and
columns are placed through joins): table extraction alone, then the pipeline on one core with
and without columns, cold (no parse cache) and warm (the cache of the first run). Prints
figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from benchmarks import run as bench
from hex_exposures import pipeline, sql_tables
from hex_exposures.records import Settings


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--factor", type=float, default=0.01, help="corpus size, share of SPEC's")
    ap.add_argument("--warehouse", default="snowflake", choices=["snowflake", "bigquery"])
    args = ap.parse_args()
    folder = bench.corpus(args.factor, args.warehouse, pathological=0)
    data = bench.load(folder, args.warehouse, truth=False)
    texts = data.distinct
    n = len(texts)
    print(
        f"corpus {os.path.basename(folder)}: {n} distinct texts, {len(data.snap.queries)} records"
    )
    print(f"load average {os.getloadavg()[0]:.2f}")

    bench._cold_memo()
    seconds, _ = _timed(lambda: [sql_tables.parse_tables(t, args.warehouse) for t in texts])
    print(f"{'table extraction alone':40} {seconds:7.2f} s  {n / seconds:7.0f} texts/s")

    rows = []
    for columns in (False, True):
        settings = Settings(warehouse=args.warehouse, columns=columns)
        cache: dict[str, Any] = {}
        bench._cold_memo()

        def once(cache: dict[str, Any] = cache, settings: Settings = settings) -> Any:
            return pipeline.run(
                data.manifest, data.snap.projects, data.snap.queries, settings=settings, cache=cache
            )

        cold, result = _timed(once)
        warm, _ = _timed(once)
        listed = sum(len(e.referenced_columns) for e in result.exposures)
        label = "pipeline, columns " + ("on" if columns else "off")
        rows.append((label, cold, warm, listed))
    for label, cold, warm, listed in rows:
        print(
            f"{label + ' (cold)':40} {cold:7.2f} s  {n / cold:7.0f} texts/s"
            f"   warm {warm:6.2f} s   referenced_columns listed: {listed}"
        )
    extra = rows[1][1] - rows[0][1]
    print(f"{'column extraction (difference, cold)':40} {extra:7.2f} s  {n / extra:7.0f} texts/s")


if __name__ == "__main__":
    main()
