"""Listing 20,000 Hex projects from the loopback Hex API: requests and time.

    /work/venv/bin/python benchmarks/hex_api_bench.py [--projects N] [--repeat R]

1. Rate limit lifted (client and server): real requests and real wall time.
2. Limit on (60 a minute on both sides): requests, 429s and *simulated* wall time; client and
   server share an injected clock, so the minute-long waits cost nothing real.
3. Client limit lifted, server limiting without Retry-After: what leaning on 429s costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hex_exposures.sources.hex_api import HexApiSource
from tests.servers.hex_server import TOKEN, FakeClock, make_project, serve


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
    args = parser.parse_args()
    projects = [make_project(i) for i in range(args.projects)]
    lifted(projects, args.repeat)
    simulated(projects, client_limit=60, label="limit on (60/min)")
    simulated(projects, client_limit=None, label="client limit off, server 429s only")


if __name__ == "__main__":
    main()
