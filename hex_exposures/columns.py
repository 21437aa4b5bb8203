"""`referenced_columns` for exposures: the schema the SQL is read against, and the output.

The schema comes from the manifest's documented columns (a node's `columns:`, maybe not all
of them) and, when present, `catalog.json` from `dbt docs generate` (every column, with the
warehouse's types). Each column comes out as Elementary's exposure-validation test reads it
(`{column_name, data_type?, node}`): the name as the project documents it (else as the
catalog or the warehouse spells it), and `data_type` only when the catalog knows the column,
in the normalised form that test compares with (`string`, `numeric`, `timestamp`,
`boolean`, `other`), since it compares a referenced type with its own normalisation of the
live column's type, never with the raw type. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .identifiers import normalize, parse_table_name
from .manifest import ManifestIndex
from .records import Relation, TableRef
from .sql_columns import ColumnRef, TableColumns, column_key

# Elementary's `data_type_list` per adapter (dbt-data-reliability, normalize_data_type):
# a type outside every list is "other"; precision in parentheses is ignored.
_ELEMENTARY_TYPES: dict[str, dict[str, frozenset[str]]] = {
    "snowflake": {
        "string": frozenset({"VARCHAR", "CHAR", "CHARACTER", "STRING", "TEXT"}),
        "numeric": frozenset(
            [
                "NUMBER",
                "DECIMAL",
                "NUMERIC",
                "INT",
                "INTEGER",
                "BIGINT",
                "SMALLINT",
                "TINYINT",
                "BYTEINT",
                "FLOAT",
                "FLOAT4",
                "FLOAT8",
                "DOUBLE",
                "REAL",
            ]
        )
        | {"DOUBLE PRECISION"},
        "timestamp": frozenset(
            [
                "DATE",
                "DATETIME",
                "TIME",
                "TIMESTAMP",
                "TIMESTAMP_LTZ",
                "TIMESTAMP_NTZ",
                "TIMESTAMP_TZ",
            ]
        ),
        "boolean": frozenset({"BOOLEAN"}),
    },
    "bigquery": {
        "string": frozenset({"STRING"}),
        "numeric": frozenset({"INT64", "NUMERIC", "BIGNUMERIC", "FLOAT64", "INTEGER"}),
        "timestamp": frozenset({"DATE", "DATETIME", "TIMESTAMP"}),
        "boolean": frozenset({"BOOL", "BOOLEAN"}),
    },
}


def elementary_type(raw: str, warehouse: str) -> str:
    """The warehouse type as Elementary's exposure test normalises it."""
    base = raw.split("(", 1)[0].strip()
    for name, types in _ELEMENTARY_TYPES.get(warehouse, {}).items():
        if base in types:
            return name
    return "other"


class ColumnInfo(NamedTuple):
    name: str  # as written in the project's docs, else as the catalog spells it
    data_type: str | None  # Elementary's normalised type, from the catalog only


class ColumnSchema(NamedTuple):
    """What the manifest and catalog say about the columns of each relation."""

    tables: Mapping[TableRef, TableColumns]  # by relation key, names in stored case
    info: Mapping[TableRef, Mapping[str, ColumnInfo]]  # relation key -> column key -> info


def build_schema(
    manifest: Mapping[str, Any],
    index: ManifestIndex,
    catalog: Mapping[str, Any] | None = None,
) -> ColumnSchema:
    warehouse = index.warehouse
    keys = {rels[0].unique_id: key for key, rels in index.by_key.items() if rels}
    sections = {
        "nodes": _mapping(manifest.get("nodes")),
        "sources": _mapping(manifest.get("sources")),
    }
    cat = _mapping(catalog)
    cat_sections = {"nodes": _mapping(cat.get("nodes")), "sources": _mapping(cat.get("sources"))}
    tables: dict[TableRef, TableColumns] = {}
    info: dict[TableRef, dict[str, ColumnInfo]] = {}
    for uid, key in keys.items():
        section = "sources" if uid.startswith("source.") else "nodes"
        node = _mapping(sections[section].get(uid))
        stored: dict[str, str] = {}
        about: dict[str, ColumnInfo] = {}
        for name, col in _mapping(node.get("columns")).items():
            col = _mapping(col)
            written = str(col.get("name") or name)
            quoted = bool(col.get("quote"))
            stored_name = normalize(written, quoted=quoted, warehouse=warehouse)
            stored.setdefault(stored_name, "")
            about.setdefault(column_key(stored_name, warehouse), ColumnInfo(written, None))
        entry = _mapping(cat_sections[section].get(uid))
        cat_columns = _mapping(entry.get("columns"))
        for name, col in cat_columns.items():
            col = _mapping(col)
            written = str(col.get("name") or name)
            raw = col.get("type")
            ck = column_key(written, warehouse)
            data_type = elementary_type(str(raw), warehouse) if isinstance(raw, str) else None
            known = about.get(ck)
            about[ck] = ColumnInfo(known.name if known else written, data_type)
            stored[written] = str(raw or "")
        if stored:
            tables[key] = TableColumns(stored, complete=bool(cat_columns))
            info[key] = about
    return ColumnSchema(tables, info)


def for_tables(schema: ColumnSchema, keys: Iterable[TableRef]) -> dict[TableRef, TableColumns]:
    """The part of the schema a text needs: the relations its tables resolved to."""
    return {k: schema.tables[k] for k in keys if k in schema.tables}


def parse_column_name(text: str, warehouse: str) -> ColumnRef | None:
    """Read ``db.schema.table.column`` (snapshot and ACCESS_HISTORY columns)."""
    table, dot, column = text.strip().rpartition(".")
    if not dot or not column:
        return None
    ref = parse_table_name(table, warehouse)
    if ref is None:
        return None
    name = column[1:-1] if len(column) > 1 and column[0] == column[-1] == '"' else column
    quoted = name != column
    return ColumnRef(
        ref, column_key(normalize(name, quoted=quoted, warehouse=warehouse), warehouse)
    )


def referenced(
    found: Iterable[tuple[Relation, str]],
    schema: ColumnSchema,
    dependency: Mapping[str, str],
    warehouse: str,
) -> tuple[dict[str, str], ...]:
    """Elementary's `referenced_columns` items, one per (node, column), sorted that way."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for rel, column in found:
        node = dependency[rel.unique_id]
        about = schema.info.get(rel.key, {}).get(column_key(column, warehouse))
        name = about.name if about else column
        item = {"column_name": name}
        if about and about.data_type:
            item["data_type"] = about.data_type
        item["node"] = node
        out.setdefault((node, column_key(name, warehouse)), item)
    return tuple(sorted(out.values(), key=lambda i: (i["node"], i["column_name"])))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
