"""Listing 20,000 Hex projects from the loopback Hex API: requests and time.

    /work/venv/bin/python benchmarks/hex_api_bench.py [--projects N] [--repeat R]

1. Rate limit lifted (client and server): real requests and real wall time.
2. Limit on (60 a minute on both sides): requests, 429s and *simulated* wall time; client and
   server share an injected clock, so the minute-long waits cost nothing real.
3. Client limit lifted, server limiting without Retry-After: what leaning on 429s costs.
4. queriedTables with the cache (issue 16): 20,000 projects, 5,000 of them published; the
   requests of a first run, of a second run with nothing published since, and of a run after
   50 projects were published again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tempfile

from hex_exposures.hex_cache import HexApiCache
from hex_exposures.records import HexProject
from hex_exposures.sources.hex_api import HexApiSource, api_root
from tests.servers.hex_server import TOKEN, FakeClock, make_connection, make_project, serve

CONN = "11111111-1111-4111-8111-111111111111"


def queried_cache(count: int, published: int) -> None:
    projects, queried = [], {}
    for i in range(count):
        p = {**make_project(i), "lastPublishedAt": None}
        if len(queried) < published and HexProject.from_api({**p, "lastPublishedAt": "x"}).live:
            p["lastPublishedAt"] = "2026-11-01T00:00:00.000Z"
            queried[p["id"]] = [
                {"dataConnectionId": CONN, "dataConnectionName": "sf", "tableName": f"s.t{i % 97}"}
            ]
        projects.append(p)
    conns = [make_connection(CONN, "snowflake", "sf", database="DB", schema="PUBLIC")]
    folder = tempfile.mkdtemp(prefix="hex_api_cache.")
    path = os.path.join(folder, "hex_api_cache.json")
    with serve(
        projects=projects,
        connections=conns,
        queried=queried,
        rate_limit=None,
        max_requests=100_000,
        lifetime=900,
    ) as srv:
        for label in ("first run (no cache)", "second run (nothing published since)", "after"):
            if label == "after":
                for p in projects[:300]:
                    if p["id"] in queried:
                        p["lastPublishedAt"] = "2026-12-01T00:00:00.000Z"
                srv.state._views.clear()
                label = "third run (some projects published again)"
            before = len(srv.requests)
            start = time.perf_counter()
            with HexApiSource(
                srv.url, TOKEN, rate_limit=None, cache=HexApiCache(path, api_root(srv.url))
            ) as source:
                listed = source.projects()
                records = source.queried_tables(listed, "snowflake")
            asked = srv.requests[before:]
            lineage = sum(r.path.endswith("/queriedTables") for r in asked)
            print(
                f"queriedTables {label}: {len(asked)} requests ({lineage} queriedTables,"
                f" {sum('/data-connections' in r.path for r in asked)} data connections),"
                f" {len(records):,} projects with tables, {time.perf_counter() - start:.1f} s"
            )


def lifted(projects: list[dict[str, object]], repeat: int) -> None:
    times = []
    with serve(projects=projects, rate_limit=None, max_requests=100_000, lifetime=600) as srv:
        for _ in range(repeat):
            before = len(srv.requests)
            start = time.perf_counter()
            with HexApiSource(srv.url, TOKEN, rate_limit=None) as source:
                found = source.projects()
            times.append(time.perf_counter() - start)
            assert len(found) == len(projects)
            requests = len(srv.requests) - before
    print(
        f"limit lifted: {len(found)} projects, {requests} requests, wall"
        f" median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f},"
        f" {repeat} runs), {len(found) / statistics.median(times):,.0f} projects/s"
    )


def simulated(projects: list[dict[str, object]], *, client_limit: int | None, label: str) -> None:
    clock = FakeClock(0.0)
    with serve(
        projects=projects, clock=clock, rate_limit=60, retry_after=False, lifetime=600
    ) as srv:
        start = time.perf_counter()
        source = HexApiSource(
            srv.url, TOKEN, rate_limit=client_limit, clock=clock, sleep=clock.sleep
        )
        found = source.projects()
        real = time.perf_counter() - start
        statuses = [r.status for r in srv.requests]
    assert len(found) == len(projects)
    print(
        f"{label}: {len(found)} projects, {len(statuses)} requests"
        f" ({statuses.count(429)} answered 429), client count {source.request_count},"
        f" simulated wall {clock.now + real:.0f} s ({len(clock.sleeps)} waits,"
        f" {sum(clock.sleeps):.0f} s waiting + {real:.2f} s real)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queried-only", action="store_true")
    args = parser.parse_args()
    if args.queried_only:
        queried_cache(args.projects, 5_000)
        return
    projects = [make_project(i) for i in range(args.projects)]
    lifted(projects, args.repeat)
    simulated(projects, client_limit=60, label="limit on (60/min)")
    simulated(projects, client_limit=None, label="client limit off, server 429s only")
    queried_cache(args.projects, 5_000)


if __name__ == "__main__":
    main()
