"""The token-shape memo of `sql_tables` (issue 17): its hit rate and what it saves.

    python -m benchmarks.memo_bench --corpus DIR [--warehouse snowflake|bigquery]

DIR is a corpus written by `benchmarks.generate` (its `hex_snapshot.json`). The distinct
texts, Hex comment stripped as the pipeline strips it, are parsed in one process three
ways: with the memo as it is (hits counted), with the memo bypassed (every text parsed),
and, as a check, each text alone after clearing the memo; the first and last must agree.
"""

from __future__ import annotations

import argparse
import os
import time

from hex_exposures import hex_comment, sql_tables
from hex_exposures.sources import snapshot


def _texts(path: str) -> list[str]:
    out = set()
    for q in snapshot.load(path).queries:
        comment = hex_comment.parse(q.query_text) if q.query_text else None
        if comment is not None:
            out.add(hex_comment.strip(q.query_text, comment))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--warehouse", default="snowflake")
    args = ap.parse_args()
    texts = _texts(os.path.join(args.corpus, "hex_snapshot.json"))
    wh = args.warehouse
    real_extract = sql_tables._extract
    calls = 0

    def counting(*a: object, **k: object) -> object:
        nonlocal calls
        calls += 1
        return real_extract(*a, **k)  # type: ignore[arg-type]

    sql_tables._extract = counting  # type: ignore[assignment]
    sql_tables._SHAPES.clear()
    t0 = time.perf_counter()
    warm = [sql_tables.parse_tables(t, wh) for t in texts]
    t_memo = time.perf_counter() - t0
    parsed_with_memo = calls
    calls = 0
    t0 = time.perf_counter()
    cold = []
    for t in texts:
        sql_tables._SHAPES.clear()
        cold.append(sql_tables.parse_tables(t, wh))
    t_cold = time.perf_counter() - t0
    sql_tables._extract = real_extract  # type: ignore[assignment]
    differ = sum(1 for a, b in zip(warm, cold, strict=True) if a != b)
    hits = len(texts) - parsed_with_memo
    print(
        f"{wh}: {len(texts)} distinct texts; memo hits {hits} ({hits / len(texts):.1%}); "
        f"with memo {t_memo:.2f} s ({len(texts) / t_memo:,.0f}/s), every text parsed "
        f"{t_cold:.2f} s ({len(texts) / t_cold:,.0f}/s); results differing {differ}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
