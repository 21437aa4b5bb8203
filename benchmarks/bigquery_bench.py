"""100,000 grouped Hex queries through the real google-cloud-bigquery client.

    /work/venv/bin/python benchmarks/bigquery_bench.py [--rows 100000] [--page-sizes 1000,10000]

The loopback jobs API (tests/servers/bigquery_server.py) runs in a child process holding
`--rows` distinct Hex jobs (~1.2 KB of SQL each); it executes the source's SQL on DuckDB and
serves the result in the REST f/v encoding. Each measurement runs in a fresh client process,
so peak RSS belongs to that measurement alone:

- ``list``: ``list(source.queries(14))``, what the CLI does (every record kept);
- ``stream``: the records counted and dropped, to show the paging itself stays bounded;
- ``heap``: ``list`` again under tracemalloc, for the Python heap peak (slower; time not shown).

The server runs the SQL once, in a warm-up (DuckDB is slow at BigQuery's per-group ARRAY
subquery); the measured runs reuse that result, so wall time is the client's: HTTP, JSON
decoding, row conversion, our records, plus the server encoding and sending pages. "first
row" is the time until the first record arrives.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SQL = """SELECT
  o.order_date,
  c.region,
  c.segment,
  COUNT(DISTINCT o.order_id) AS orders,
  SUM(o.amount) AS revenue,
  SUM(o.amount) / NULLIF(COUNT(DISTINCT o.customer_id), 0) AS revenue_per_customer
FROM `Dbt_Marts`.`Orders` AS o
JOIN `my-proj.Dbt_Marts.Customers` AS c
  ON c.customer_id = o.customer_id
LEFT JOIN `raw-data-proj`.Stripe_Raw.Charges AS ch
  ON ch.order_id = o.order_id AND ch.status = 'succeeded'
WHERE o.order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL {n} DAY)
  AND c.segment IN ('enterprise', 'mid-market', 'smb')
  AND o.amount > 0
GROUP BY 1, 2, 3
HAVING revenue > 0
ORDER BY o.order_date DESC, revenue DESC
LIMIT 1000"""

META = (
    '{{"categories": ["Finance"], "cell_type": "SQL", "connection": "BigQuery prod", '
    '"context": "SCHEDULED_RUN", "project_id": "{pid}", "project_name": "Revenue {i}", '
    '"project_url": "https://app.hex.tech/acme/hex/{pid}/draft/logic?selectedCellId={pid}", '
    '"status": "Production", "trace_id": "{trace}", "user_email": "ana@acme.com"}}'
)


def _jobs(rows: int) -> list[Any]:
    from tests.servers.bigquery_server import NOW, Job

    refs = (
        ("my-proj", "Dbt_Marts", "Orders"),
        ("my-proj", "Dbt_Marts", "Customers"),
        ("raw-data-proj", "Stripe_Raw", "Charges"),
    )
    out = []
    for i in range(rows):
        pid = f"4e500000-0000-0000-0000-{i % 20_000:012d}"
        text = (
            SQL.format(n=i)
            + "\n-- Hex query metadata: "
            + META.format(pid=pid, i=i % 20_000, trace=f"{i:032x}")
        )
        out.append(Job(text, NOW - dt.timedelta(minutes=i % 20_000), refs))
    return out


def _serve(rows: int, urls: Any, stop: Any) -> None:
    from tests.servers.bigquery_server import BigQueryServer

    server = BigQueryServer(
        {("my-proj", "us"): _jobs(rows)}, reuse_results=True, max_requests=10_000, lifetime=900
    ).start()
    urls.put(server.url)
    stop.wait(900)
    server.stop()


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def client(url: str, page_size: int, mode: str) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    import tracemalloc

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from hex_exposures.records import Settings
    from hex_exposures.sources import bigquery as bq

    bq.PAGE_SIZE = page_size

    def factory(project: str) -> Any:
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": url},
        )

    source = bq.BigQuerySource.from_settings(
        Settings(bigquery_project=("my-proj",)), client_factory=factory
    )
    baseline = _rss_kib()
    if mode == "heap":
        tracemalloc.start()
    start = time.perf_counter()
    first = None
    kept: list[Any] = []
    count = 0
    for record in source.queries(14):
        if first is None:
            first = time.perf_counter() - start
        count += 1
        if mode != "stream":
            kept.append(record)
    wall = time.perf_counter() - start
    heap = tracemalloc.get_traced_memory()[1] if mode == "heap" else None
    source.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": mode,
        "page_size": page_size,
        "rows": count,
        "wall_s": round(wall, 2),
        "first_row_s": round(first or 0.0, 2),
        "baseline_rss_mib": round(baseline / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "peak_rss_increase_mib": round((peak - baseline) / 1024, 1),
        "heap_peak_mib": round(heap / 2**20, 1) if heap is not None else None,
    }


def _measure(url: str, page_size: int, mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--client", url, str(page_size), mode],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page-sizes", default="1000,10000")
    parser.add_argument("--client", nargs=3, metavar=("URL", "PAGE_SIZE", "MODE"))
    args = parser.parse_args()
    if args.client:
        url, size, mode = args.client
        print(json.dumps(client(url, int(size), mode)))
        return

    ctx = mp.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.rows, urls, stop), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=300)
        print(f"{args.rows:,} Hex jobs served by {url} (google-cloud-bigquery client)")
        warm = _measure(url, 10_000, "stream")  # in a child too: ru_maxrss survives exec
        print(f"warm-up (the server runs the SQL on DuckDB once): {warm['wall_s']:.1f} s")
        header = f"{'page size':>9} {'mode':>6} {'rows':>8} {'wall s':>7} {'1st row s':>9}"
        print(header + f" {'peak RSS MiB':>12} {'(+ over base)':>13} {'heap peak MiB':>13}")
        for size in (int(s) for s in args.page_sizes.split(",")):
            for mode in ("list", "stream", "heap"):
                r = _measure(url, size, mode)
                wall = "-" if mode == "heap" else f"{r['wall_s']:.2f}"
                first = "-" if mode == "heap" else f"{r['first_row_s']:.2f}"
                heap = "-" if r["heap_peak_mib"] is None else f"{r['heap_peak_mib']:.1f}"
                print(
                    f"{size:>9,} {mode:>6} {r['rows']:>8,} {wall:>7} {first:>9} "
                    f"{r['peak_rss_mib']:>12.1f} {r['peak_rss_increase_mib']:>13.1f} {heap:>13}"
                )
    finally:
        stop.set()
        server.join(timeout=30)
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    main()
