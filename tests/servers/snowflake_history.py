"""A QUERY_HISTORY (and ACCESS_HISTORY) in fakesnow, as the Snowflake source reads them."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple


class Run(NamedTuple):
    """One QUERY_HISTORY row."""

    project: str | None  # None: not a Hex query
    sql: str
    hours_ago: float
    status: str = "SUCCESS"
    database: str | None = "ANALYTICS"
    schema: str | None = "MARTS"
    context: str = "SCHEDULED_RUN"
    objects: Sequence[tuple[str, str]] = ()  # ACCESS_HISTORY (domain, name)
    columns: Sequence[tuple[str, str]] = ()  # base_objects_accessed (table name, column)
    tail: str = ""  # text after the comment: more SQL makes it not Hex's (issue 17)
    sep: str = "\n"  # between the SQL and the comment
    user: str = "HEX_SERVICE"  # USER_NAME: Hex's data connection logs in as HEX_SERVICE


def hex_text(
    sql: str, project: str | None, context: str, *, tail: str = "", sep: str = "\n"
) -> str:
    """The SQL as Hex sends it: the metadata comment as the last line (hex-api.md §5)."""
    if project is None:
        return sql
    meta = {
        "categories": ["Finance"],
        "cell_type": "SQL",
        "connection": "Snowflake prod",
        "context": context,
        "project_id": project,
        "project_name": "Orders",
        "project_url": f"https://app.hex.tech/acme/hex/{project}/draft/logic?selectedCellId="
        + str(uuid.uuid4()),
        "status": "Production",
        "trace_id": uuid.uuid4().hex,  # differs on every run
        "user_email": "jane@acme.com",
    }
    return f"{sql}{sep}-- Hex query metadata: {json.dumps(meta, sort_keys=True)}{tail}"


def query_hash(sql: str) -> str:
    """Like Snowflake's: the text without comments and with whitespace collapsed."""
    return hashlib.md5(" ".join(sql.lower().split()).encode()).hexdigest()


def create_history(
    conn: Any,
    runs: Sequence[Run],
    *,
    account_usage: str = "SNOWFLAKE.ACCOUNT_USAGE",
    access_history: bool = False,
) -> None:
    """QUERY_HISTORY (and ACCESS_HISTORY) with the columns the source reads."""
    database = account_usage.split(".")[0]
    cur = conn.cursor()
    cur.execute(f"create database if not exists {database}")
    cur.execute(f"create schema if not exists {account_usage}")
    cur.execute(
        f"create or replace table {account_usage}.QUERY_HISTORY (QUERY_ID varchar, "
        "QUERY_TEXT varchar, QUERY_HASH varchar, DATABASE_NAME varchar, SCHEMA_NAME varchar, "
        "EXECUTION_STATUS varchar, START_TIME timestamp_ltz, USER_NAME varchar)"
    )
    rows = []
    access = []
    for i, run in enumerate(runs):
        qid = f"01b2c3d4-0000-{i:04d}-0000-000000000000"
        rows.append(
            (
                qid,
                hex_text(run.sql, run.project, run.context, tail=run.tail, sep=run.sep),
                query_hash(run.sql),
                run.database,
                run.schema,
                run.status,
                int(run.hours_ago * 60),
                run.user,
            )
        )
        if (run.objects or run.columns) and run.status == "SUCCESS":
            objects = [{"objectDomain": d, "objectId": 1, "objectName": n} for d, n in run.objects]
            base = [
                {
                    "objectDomain": "Table",
                    "objectId": 2,
                    "objectName": n,
                    "columns": [{"columnId": 3, "columnName": c} for t, c in run.columns if t == n],
                }
                for n in dict.fromkeys(t for t, _ in run.columns)
            ]
            access.append((qid, int(run.hours_ago * 60), json.dumps(objects), json.dumps(base)))
    cur.executemany(
        f"insert into {account_usage}.QUERY_HISTORY select ?, ?, ?, ?, ?, ?, "
        "dateadd(minute, -?, current_timestamp()), ?",
        rows,
    )
    if access_history:
        cur.execute(
            f"create or replace table {account_usage}.ACCESS_HISTORY (QUERY_ID varchar, "
            "QUERY_START_TIME timestamp_ltz, DIRECT_OBJECTS_ACCESSED array, "
            "BASE_OBJECTS_ACCESSED array)"
        )
        for qid, minutes, objects_json, base_json in access:
            cur.execute(
                f"insert into {account_usage}.ACCESS_HISTORY select ?, "
                "dateadd(minute, -?, current_timestamp()), parse_json(?), parse_json(?)",
                (qid, minutes, objects_json, base_json),
            )
    cur.close()
