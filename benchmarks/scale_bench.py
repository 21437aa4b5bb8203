"""Issue 16: the CLI at 1x against the two-core parse floor measured in the same run.

    python -m benchmarks.scale_bench [--warehouse snowflake] [--repeat 1]

For a corpus made by `benchmarks.run` (benchmarks/out/<warehouse>-1):
1. the floor: `sqlglot.parse` of every distinct text (Hex comment stripped), nothing else,
   in two worker processes (the two-core parse floor);
2. `sync --from-snapshot` with the version-2 snapshot: first run (no parse cache, no
   exposures file), second run (nothing changed), each a fresh process, with wall time,
   CPU and the peak PSS of the whole process tree (workers included) sampled from
   /proc/<pid>/smaps_rollup every 20 ms;
3. the second run again from the version-1 snapshot, for the format's share.
The load average is printed beside each figure: on a shared machine only the ratios to the
floor and the memory mean much.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor

from benchmarks.run import OUT, _mib, run_cli
from hex_exposures import parallel
from hex_exposures.identifiers import RULES


def _plain(texts: list[str], dialect: str) -> int:
    import sqlglot

    for text in texts:
        if len(text) > 1_000_000:  # refused unparsed by sql_tables too
            continue
        with contextlib.suppress(Exception, RecursionError):  # pathological: the attempt counts
            sqlglot.parse(text, read=dialect)
    return len(texts)


def floor(distinct: list[str], warehouse: str) -> float:
    dialect = RULES[warehouse].dialect
    chunks = [distinct[i : i + 250] for i in range(0, len(distinct), 250)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2, mp_context=parallel._context()) as pool:
        done = sum(pool.map(_plain, chunks, [dialect] * len(chunks)))
    assert done == len(distinct)
    return time.perf_counter() - t0


def distinct_texts(snapshot_path: str) -> list[str]:
    from hex_exposures import hex_comment
    from hex_exposures.sources import snapshot

    snap = snapshot.load(snapshot_path)
    out = set()
    for q in snap.queries:
        comment = hex_comment.parse(q.query_text) if q.query_text.strip() else None
        if comment is not None:
            out.add(hex_comment.strip(q.query_text, comment))
    return sorted(t for t in out if t)


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", default="snowflake", choices=("snowflake", "bigquery"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-floor", action="store_true", help="CLI runs only (a busy machine)")
    ap.add_argument("--factor", type=float, default=1, help="corpus size (benchmarks.run's)")
    a = ap.parse_args()
    folder = os.path.join(OUT, f"{a.warehouse}-{a.factor:g}")
    v1 = os.path.join(folder, "hex_snapshot.json")
    v2 = os.path.join(folder, "hex_snapshot.v2.jsonl")
    if not os.path.exists(v2):
        from hex_exposures.sources import snapshot

        snap = snapshot.load(v1)
        with open(v2, "w", encoding="utf-8") as f:
            f.writelines(
                snapshot.dump_lines(
                    snap.projects,
                    snap.queries,
                    warehouse=snap.warehouse or a.warehouse,
                    workspace=snap.workspace,
                    hex_url=snap.hex_url or "https://app.hex.tech",
                    captured_at="bench",
                )
            )
        del snap
    print(
        f"# {a.warehouse} {a.factor:g}x: v1 {os.path.getsize(v1) / 1e6:.0f} MB, v2 {os.path.getsize(v2) / 1e6:.0f} MB"
    )
    texts = [] if a.no_floor else distinct_texts(v2)
    cache_dir = os.path.join(folder, "target", "hex_exposures_parse_cache")
    output = os.path.join(folder, "models", "hex_exposures.yml")
    print("| run | wall s | CPU s | / floor | peak PSS, process tree | exit | load |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for _ in range(a.repeat):
        before = load()
        f = float("nan") if a.no_floor else floor(texts, a.warehouse)
        print(
            f"| floor: sqlglot.parse of {len(texts):,} texts, 2 processes | {f:.1f} | | 1.00 | | | {before} |",
            flush=True,
        )
        shutil.rmtree(cache_dir, ignore_errors=True)
        if os.path.exists(output):
            os.unlink(output)
        for name, snap in (
            ("first run (v2)", v2),
            ("second run (v2)", v2),
            ("second run (v1)", v1),
        ):
            before = load()
            r = run_cli(
                [
                    "sync",
                    "--project-dir",
                    folder,
                    "--from-snapshot",
                    snap,
                    "--warehouse",
                    a.warehouse,
                    "--quiet",
                ]
            )
            print(
                f"| {name} | {r.seconds:.1f} | {r.cpu:.1f} | {r.seconds / f:.2f} | {_mib(r.tree_peak)} | {r.code} | {before} |",
                flush=True,
            )
            if r.code:
                print(r.stderr[-2000:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
