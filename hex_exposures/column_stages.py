"""Stages 3-5 of the pipeline, the columns' side: each (text, context) qualified once, each
project's evidence gathered, and the columns its texts read (issue 15). Pure: no I/O.

`pipeline.prepare` calls them in order; the column misses go to a `ColumnExtractor` (worker
processes in the CLI, `extract_columns_here` in tests).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

from . import columns as cols
from . import sql_columns, sql_tables
from .identifiers import parse_table_name
from .manifest import ManifestIndex
from .records import HexQuery, TableRef
from .resolve import Match, resolve
from .temp_tables import SessionTemp, shadowing, unshadow

ColumnExtractor = Callable[[Sequence["sql_columns.ColumnTask"], str], list["sql_columns.Columns"]]
Context = tuple[str, str | None, str | None]  # (text, database, schema) of a query record
Read = tuple[str, str | None, str | None, tuple[TableRef, ...]]  # a Context and its tables


def extract_columns_here(
    tasks: Sequence[sql_columns.ColumnTask], warehouse: str
) -> list[sql_columns.Columns]:
    """Each task's columns, in this process (the CLI swaps in worker processes)."""
    return [sql_columns.extract_task(task, warehouse) for task in tasks]


class Evidence:
    """What the queries of one project showed: the tables they read and the counts."""

    __slots__ = ("columns", "queries", "reads", "runs", "shadowed", "tables", "unparsed")

    def __init__(self) -> None:
        self.tables: set[TableRef] = set()
        self.shadowed: set[tuple[TableRef, TableRef, str]] = set()  # read, temp, text hash
        self.columns: set[sql_columns.ColumnRef] = set()
        self.reads: set[Read] = set()  # (text, database, schema, tables): columns to read
        self.queries = 0
        self.runs = 0
        self.unparsed = 0


class Gathered(NamedTuple):
    """Stage 4's output: evidence per project id and the texts sqlglot could not parse."""

    evidence: dict[str, Evidence]
    unparsed: int
    unparsed_examples: tuple[str, ...]


def qualify_reads(
    kept: Sequence[tuple[HexQuery, str, str]],
    parsed: Mapping[str, sql_tables.Extraction],
    warehouse: str,
) -> dict[Context, tuple[TableRef, ...]]:
    """3. The tables each (text, database, schema) reads, qualified from that context.

    Records share texts (one per project and context): each pair is qualified once.
    """
    qualified: dict[Context, tuple[TableRef, ...]] = {}
    for q, _, sql in kept:
        if sql and parsed[sql].tables:
            key = (sql, q.database, q.schema)
            if key not in qualified:
                qualified[key] = sql_tables.qualify(
                    parsed[sql].tables, warehouse=warehouse, database=q.database, schema=q.schema
                )
    return qualified


def gather_evidence(
    kept: Sequence[tuple[HexQuery, str, str]],
    parsed: Mapping[str, sql_tables.Extraction],
    warehouse: str,
    qualified: Mapping[Context, tuple[TableRef, ...]],
    temps: Mapping[str, Sequence[SessionTemp]] | None = None,
    *,
    columns: bool = False,
) -> Gathered:
    """4. Per project: the tables its queries read, qualified from each row's context, less
    reads of the project's own temporary tables (`temps`, `shadowing`). With `columns`, the
    columns named by the rows, and each (text, context, tables kept) whose columns
    `read_columns` is to read (`Evidence.reads`)."""
    temps = temps or {}
    evidence: dict[str, Evidence] = defaultdict(Evidence)
    unparsed_examples: list[str] = []
    unparsed_texts: set[str] = set()
    for q, pid, sql in kept:
        ev = evidence[pid]
        ev.runs += q.run_count
        own = temps.get(pid)
        extra = list(q.tables)
        if sql:
            ev.queries += 1
            ext = parsed[sql]
            if ext.error:
                ev.unparsed += 1
                extra += q.fallback_tables
                if sql not in unparsed_texts:
                    unparsed_texts.add(sql)
                    if len(unparsed_examples) < 5:
                        unparsed_examples.append(f"{pid}: {ext.error}")
            if ext.tables:
                done = qualified[(sql, q.database, q.schema)]
                kept_tables = (
                    unshadow(ext.tables, q, sql, own, warehouse, ev.shadowed) if own else done
                )
                ev.tables.update(kept_tables)
                if columns:
                    ev.reads.add((sql, q.database, q.schema, kept_tables))
        if columns and q.columns:
            named_columns = (cols.parse_column_name(c, warehouse) for c in q.columns)
            ev.columns.update(
                c
                for c in named_columns
                if c is not None
                and not (own and shadowing(c.table, c.table, q, "", own, warehouse))
            )
        if extra:
            named = [t for t in (parse_table_name(x, warehouse) for x in extra) if t]
            if own:  # other evidence does not say in which order a text read: no skip
                ev.tables.update(unshadow(named, q, "", own, warehouse, ev.shadowed))
            else:
                ev.tables.update(
                    sql_tables.qualify(
                        named, warehouse=warehouse, database=q.database, schema=q.schema
                    )
                )
    return Gathered(dict(evidence), len(unparsed_texts), tuple(unparsed_examples))


def read_columns(
    gathered: Gathered,
    warehouse: str,
    index: ManifestIndex,
    schema: cols.ColumnSchema,
    memo: dict[TableRef, Match],
    cache: MutableMapping[str, Any] | None,
    column_extractor: ColumnExtractor = extract_columns_here,
) -> None:
    """5. Add to each project's evidence the columns its texts read, of the tables it was
    found to read (issue 15): cache hits first, then every miss in one batch (worker
    processes in the CLI), each text and context once.

    Cached by text, context and a digest of what the schema says about those tables, so a
    newly documented column re-reads only the texts that read its table.
    """
    found: dict[Read, frozenset[sql_columns.ColumnRef]] = {}
    todo: dict[str, tuple[sql_columns.ColumnTask, list[Read]]] = {}
    for ev in gathered.evidence.values():
        for read in ev.reads:
            if read in found:
                continue
            sql, database, db_schema, tables = read
            keys = {
                m.relation.key
                for m in (resolve_cached(t, index, memo) for t in tables)
                if m.relation
            }
            if not keys:  # no table of it is a dbt node: `_referenced` would drop every column
                found[read] = frozenset()
                continue
            digest = sql_columns.schema_digest(keys, schema.tables)
            key = sql_columns.cache_key(sql, warehouse, database, db_schema, digest)
            hit = cache.get(key) if cache is not None else None
            if isinstance(hit, sql_columns.Columns):
                found[read] = _read_by(hit, tables)
            elif key in todo:
                todo[key][1].append(read)
            else:
                task = sql_columns.ColumnTask(
                    sql, database, db_schema, cols.for_tables(schema, keys), digest
                )
                todo[key] = (task, [read])
    tasks = [task for task, _ in todo.values()]
    results = column_extractor(tasks, warehouse) if tasks else []
    for (key, (_, reads)), hit in zip(todo.items(), results, strict=True):
        if cache is not None:
            cache[key] = hit
        for read in reads:
            found[read] = _read_by(hit, read[3])
    for ev in gathered.evidence.values():
        for read in ev.reads:
            ev.columns.update(found[read])


def _read_by(
    hit: sql_columns.Columns, tables: Sequence[TableRef]
) -> frozenset[sql_columns.ColumnRef]:
    read = set(tables)
    return frozenset(c for c in hit.columns if c.table in read)


def resolve_cached(table: TableRef, index: ManifestIndex, memo: dict[TableRef, Match]) -> Match:
    hit = memo.get(table)
    if hit is None:
        hit = memo[table] = resolve(table, index)
    return hit
