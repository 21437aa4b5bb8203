"""100,000 Hex history rows in fakesnow: grouping in SQL versus fetching the raw rows.

    /work/venv/bin/python benchmarks/snowflake_bench.py [--rows N] [--projects P] [--repeat R]

The history holds N Hex rows in the window (P projects x 5 cells x N/(5P) runs, each run with
its own trace_id as Hex does), plus 20% noise: non-Hex queries, failed Hex runs and Hex runs
older than the window. Each variant runs through fakesnow's server and the real, unpatched
connector, so rows really cross HTTP (Arrow result chunks), as they would from Snowflake:

1. grouped: `SnowflakeSource.queries()` (filter + GROUP BY in SQL), ACCESS_HISTORY off;
2. grouped + ACCESS_HISTORY: the same with each run's direct_objects_accessed joined in;
3. raw: the same filters, no grouping: every run fetched, then grouped in Python.

It prints rows transferred, characters of query text transferred and wall time (median of R).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fakesnow
import snowflake.connector

from hex_exposures import hex_comment
from hex_exposures.records import HexQuery
from hex_exposures.sources import snowflake as sf

AU = "SNOWFLAKE.ACCOUNT_USAGE"

# Ungrouped: what a tool that groups client-side would fetch (same filters as the source).
RAW_SQL = r"""
SELECT query_text, database_name, schema_name, start_time
FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY
WHERE start_time >= DATEADD(day, -?, CURRENT_TIMESTAMP())
  AND query_text ILIKE ?
  AND UPPER(execution_status) = 'SUCCESS'
"""

# A ~25-line analytic cell (about 900 characters) whose literal differs per project and
# whose table differs per cell, then Hex's comment with a per-run trace id.
_CELL = (
    "with orders as (\n"
    "  select o.order_id, o.customer_id, o.ordered_at, o.amount, o.currency\n"
    "  from analytics.marts.fct_orders_' || {cell} || ' o\n"
    "  where o.ordered_at >= dateadd(day, -90, current_date())\n"
    "    and o.region_id = ' || MOD(s, {projects}) || '\n"
    "),\n"
    "customers as (\n"
    "  select c.customer_id, c.segment, c.country, c.first_order_at\n"
    "  from analytics.marts.dim_customers c\n"
    "  where c.is_test = false\n"
    "),\n"
    "fx as (\n"
    "  select currency, rate_to_usd from analytics.finance.fx_rates\n"
    "  where rate_date = current_date()\n"
    ")\n"
    "select\n"
    "  date_trunc(''week'', o.ordered_at) as week,\n"
    "  c.segment,\n"
    "  c.country,\n"
    "  count(distinct o.order_id) as orders,\n"
    "  sum(o.amount * fx.rate_to_usd) as revenue_usd,\n"
    "  avg(o.amount * fx.rate_to_usd) as aov_usd\n"
    "from orders o\n"
    "join customers c using (customer_id)\n"
    "left join fx using (currency)\n"
    "group by 1, 2, 3\n"
    "order by 1 desc, 5 desc"
)
_PID = "'6f1c2a8e-0000-4000-8000-' || LPAD(TO_VARCHAR(MOD(s, {projects})), 12, '0')"
_COMMENT = (
    '\'\n-- Hex query metadata: {{"categories": ["Finance"], "cell_type": "SQL", '
    '"connection": "Snowflake prod", "context": "SCHEDULED_RUN", "project_id": "\' || '
    + _PID
    + ' || \'", "project_name": "Revenue", "project_url": '
    "\"https://app.hex.tech/acme/hex/' || "
    + _PID
    + ' || \'/draft/logic", "status": "Production", "trace_id": "\' || MD5(TO_VARCHAR(s))'
    ' || \'", "user_email": "jane@acme.com"}}\''
)
# kind: 0 Hex in window, 1 non-Hex, 2 failed Hex, 3 Hex older than the window.
_FILL = (
    "INSERT INTO SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY "
    "SELECT 'q' || s, "
    "  CASE WHEN {kind} = 1 THEN 'select count(*) from analytics.marts.fct_orders where id = ' || s"
    "       ELSE '" + _CELL + "' || " + _COMMENT + " END, "
    "  MD5('cell' || {cell} || '-' || MOD(s, {projects})), 'ANALYTICS', 'MARTS', "
    "  CASE WHEN {kind} = 2 THEN 'FAIL' ELSE 'SUCCESS' END, "
    "  DATEADD(second, -(CASE WHEN {kind} = 3 THEN 20 * 86400 ELSE 0 END + MOD(s * 7, 12 * 86400)),"
    "          CURRENT_TIMESTAMP()) "
    "FROM (SELECT {start} + SEQ4() AS s FROM TABLE(GENERATOR(ROWCOUNT => {count})))"
)
_ACCESS = (
    "INSERT INTO SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY "
    'SELECT query_id, start_time, PARSE_JSON(\'[{"objectDomain": "Table", "objectName": '
    '"ANALYTICS.MARTS.FCT_ORDERS_\' || RIGHT(query_id, 1) || \'"}, {"objectDomain": "Table",'
    ' "objectName": "ANALYTICS.MARTS.DIM_CUSTOMERS"}]\') '
    "FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY WHERE execution_status = 'SUCCESS'"
)


def build(conn: Any, rows: int, projects: int) -> None:
    cur = conn.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS SNOWFLAKE")
    cur.execute("CREATE SCHEMA IF NOT EXISTS SNOWFLAKE.ACCOUNT_USAGE")
    cur.execute(
        "CREATE OR REPLACE TABLE SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY (QUERY_ID varchar, "
        "QUERY_TEXT varchar, QUERY_HASH varchar, DATABASE_NAME varchar, SCHEMA_NAME varchar, "
        "EXECUTION_STATUS varchar, START_TIME timestamp_ltz)"
    )
    cur.execute(
        "CREATE OR REPLACE TABLE SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY (QUERY_ID varchar, "
        "QUERY_START_TIME timestamp_ltz, DIRECT_OBJECTS_ACCESSED array)"
    )
    noise = rows // 15  # three kinds: 20% in all
    start = 0
    for kind, count in ((0, rows), (1, noise), (2, noise), (3, noise)):
        cell = f"MOD(CAST(FLOOR(s / {projects}) AS INTEGER), 5)"
        sql = _FILL.format(kind=kind, count=count, start=start, projects=projects, cell=cell)
        cur.execute(sql)
        start += count
    cur.execute(_ACCESS)
    cur.execute(
        "SELECT COUNT(*), SUM(LENGTH(query_text)) FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY"
    )
    total, chars = cur.fetchone()
    print(f"history: {total:,} rows ({rows:,} Hex rows in the window), {chars / 1e6:.0f} M chars")
    cur.close()


FIRST: list[float] = []  # seconds from the start of a variant to its first row


def grouped(kwargs: dict[str, Any], access: bool) -> tuple[int, int, int]:
    start = time.perf_counter()
    conn = snowflake.connector.connect(**kwargs, paramstyle="qmark")
    source = sf.SnowflakeSource(conn, account_usage=AU, access_history=access)
    found: list[HexQuery] = []
    try:
        for q in source.queries(14):
            if not found:
                FIRST.append(time.perf_counter() - start)
            found.append(q)
    finally:
        source.close()
    if access:
        assert all(q.tables for q in found)
    return len(found), sum(len(q.query_text) for q in found), sum(q.run_count for q in found)


def raw(kwargs: dict[str, Any]) -> tuple[int, int, int]:
    """Fetch every run and group client-side, as SnowflakeSource's SQL does server-side."""
    start = time.perf_counter()
    conn = snowflake.connector.connect(**kwargs, paramstyle="qmark")
    cur = conn.cursor()
    cur.execute(RAW_SQL, (14, sf.HEX_PATTERN))
    FIRST.append(time.perf_counter() - start)
    rows = chars = 0
    groups: dict[tuple[Any, ...], int] = {}
    while batch := cur.fetchmany(sf.FETCH_SIZE):
        for text, database, schema, _start in batch:
            rows += 1
            chars += len(text)
            comment = hex_comment.parse(text)
            if comment is None or comment.project_id is None:
                continue
            key = (
                hex_comment.strip(text, comment),
                comment.project_id,
                comment.context,
                database,
                schema,
            )
            groups[key] = groups.get(key, 0) + 1
    conn.close()
    assert sum(groups.values()) == rows
    return rows, chars, len(groups)


def timed(
    fn: Callable[[], tuple[int, int, int]], repeat: int
) -> tuple[tuple[int, int, int], float, float]:
    """(result, median wall, median time to the first row: the query, before any transfer)."""
    fn()  # warm-up: DuckDB's first scan of the table pays for loading it
    FIRST.clear()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times), statistics.median(FIRST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with fakesnow.server() as kwargs:
        kwargs = {**kwargs, "database": "SNOWFLAKE", "network_timeout": 600}
        setup = snowflake.connector.connect(**kwargs)
        start = time.perf_counter()
        build(setup, args.rows, args.projects)
        setup.close()
        print(f"built in {time.perf_counter() - start:.1f} s")

        (groups, chars, runs), t_grouped, q_grouped = timed(
            lambda: grouped(kwargs, False), args.repeat
        )
        assert runs == args.rows, (runs, args.rows)
        (groups_a, chars_a, _), t_access, q_access = timed(
            lambda: grouped(kwargs, True), args.repeat
        )
        (rows, chars_r, groups_r), t_raw, q_raw = timed(lambda: raw(kwargs), args.repeat)
        assert (rows, groups_r) == (runs, groups), (rows, runs, groups_r, groups)
        print(f"wall time: median of {args.repeat} after a warm-up; 'query' = until the first row")
        for label, n, c, t, q in (
            ("grouped in SQL", groups, chars, t_grouped, q_grouped),
            ("grouped + ACCESS_HISTORY", groups_a, chars_a, t_access, q_access),
            ("raw rows, grouped here", rows, chars_r, t_raw, q_raw),
        ):
            print(
                f"  {label:<25} {n:>8,} rows transferred {c / 1e6:7.1f} M chars"
                f"  {t:6.2f} s (query {q:5.2f} s, transfer + client {t - q:5.2f} s)"
            )
        print(
            f"grouping in SQL moves {rows / max(groups, 1):.0f}x fewer rows and"
            f" {chars_r / max(chars, 1):.0f}x fewer characters, {t_raw / t_grouped:.1f}x faster"
        )


if __name__ == "__main__":
    main()
