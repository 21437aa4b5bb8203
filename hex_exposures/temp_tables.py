"""Temporary tables a Hex project creates shadow its reads of the same name (SPEC "Resolving").

Hex runs a project's cells in one warehouse session, so `create temporary table orders as ...`
followed by `select * from orders` reads the temp table, not the dbt model `orders`. Pure: the
pipeline hands in the parsed texts and the records; nothing here reads or writes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from . import sql_tables
from .identifiers import rule_for
from .records import HexQuery, TableRef


class SessionTemp(NamedTuple):
    """A temporary table one of a project's texts creates (SPEC "Resolving": temporary
    tables live for Hex's session)."""

    name: str  # as the text wrote it, normalised
    table: TableRef  # qualified from the creating query's context (partly, without one)
    sql: str  # the creating text


def session_temps(
    kept: Sequence[tuple[HexQuery, str, str]],
    parsed: Mapping[str, sql_tables.Extraction],
    warehouse: str,
) -> dict[str, tuple[SessionTemp, ...]]:
    """2b. Per project id: the temporary tables its texts create anywhere in the window.

    Hex does not document its session model, so every text of the project is taken to share
    one session with every other: a wrong dependency costs more than a missing one.
    """
    found: dict[str, dict[tuple[TableRef, str], SessionTemp]] = defaultdict(dict)
    for q, pid, sql in kept:
        ext = parsed.get(sql) if sql else None
        for temp in ext.temps if ext is not None else ():
            (table,) = sql_tables.qualify(
                [temp], warehouse=warehouse, database=q.database, schema=q.schema
            )
            found[pid].setdefault((table, sql), SessionTemp(temp.name, table, sql))
    return {pid: tuple(temps.values()) for pid, temps in found.items()}


def shadowing(
    read: TableRef,
    qualified: TableRef,
    q: HexQuery,
    sql: str,
    temps: Sequence[SessionTemp],
    warehouse: str,
) -> SessionTemp | None:
    """The project's temporary table a read names instead of a table, if any.

    `read` is the name as written, `qualified` completed from `q`'s context. A read names a
    temp table of the same name when it is unqualified, or (Snowflake, where a temp table
    lives in a schema) qualified with the query's own database and schema, or equal to where
    the temp table was made. Without a session database and schema on the query only
    unqualified reads (and reads of the temp table's own qualified name) are shadowed. The
    creating text itself is left to `sql_tables`, which knows its statements' order.
    """
    in_schema = rule_for(warehouse).temp_in_schema
    for temp in temps:
        if temp.name != read.name or temp.sql == sql:
            continue
        if read.database is None and read.schema is None:
            return temp
        if not in_schema:
            continue
        session = q.database is not None and q.schema is not None
        if session and (qualified.database, qualified.schema) == (q.database, q.schema):
            return temp
        made_at = temp.table.database is not None and temp.table.schema is not None
        if made_at and qualified == temp.table:
            return temp
    return None


def unshadow(
    tables: Iterable[TableRef],
    q: HexQuery,
    sql: str,
    temps: Sequence[SessionTemp],
    warehouse: str,
    shadowed: set[tuple[TableRef, TableRef, str]],
) -> tuple[TableRef, ...]:
    """`tables` (as written) qualified from `q`'s context, less the reads of the project's
    temporary tables, which are added to `shadowed` as (read, temp table, creating text's
    hash) for the report."""
    out = []
    for read in tables:
        (table,) = sql_tables.qualify(
            [read], warehouse=warehouse, database=q.database, schema=q.schema
        )
        temp = shadowing(read, table, q, sql, temps, warehouse)
        if temp is None:
            out.append(table)
        else:
            shadowed.add((table, temp.table, text_hash(temp.sql)))
    return tuple(out)


def text_hash(sql: str) -> str:
    """How `report` names a text: the first 12 hex digits of its SHA-256 (comment stripped)."""
    return hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()[:12]
