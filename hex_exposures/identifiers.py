"""Warehouse case rules as data, applied the same way to manifest names and query names.

Snowflake folds unquoted identifiers to upper case and keeps quoted ones exact; BigQuery
names are case-sensitive, quoted or not. Adding a warehouse means adding a `Rule`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import ConfigError
from .records import TableRef


class Rule(NamedTuple):
    dialect: str  # sqlglot dialect name
    fold_unquoted: str | None  # "upper", "lower" or None (case-sensitive)
    default_quoting: bool  # dbt adapter's default for database/schema/identifier quoting
    # A temporary table lives in a schema and is read qualified too (Snowflake), or only in
    # the session, read bare or as `_SESSION.t` (BigQuery).
    temp_in_schema: bool = True


RULES: dict[str, Rule] = {
    "snowflake": Rule(dialect="snowflake", fold_unquoted="upper", default_quoting=False),
    "bigquery": Rule(
        dialect="bigquery", fold_unquoted=None, default_quoting=True, temp_in_schema=False
    ),
}


def rule_for(warehouse: str) -> Rule:
    try:
        return RULES[warehouse]
    except KeyError:
        raise ConfigError(
            f"--warehouse: unsupported warehouse {warehouse!r}; choose one of: "
            + ", ".join(sorted(RULES))
        ) from None


def normalize(name: str, *, quoted: bool, warehouse: str) -> str:
    """The name as the warehouse stores it."""
    fold = rule_for(warehouse).fold_unquoted
    if quoted or fold is None:
        return name
    return name.upper() if fold == "upper" else name.lower()


# A part that prints bare reads back as itself: Snowflake folds unquoted names to upper case;
# BigQuery names are case-sensitive either way, so only punctuation calls for backticks.
_BARE = {
    "snowflake": re.compile(r"[A-Z_][A-Z0-9_$]*"),
    "bigquery": re.compile(r"[A-Za-z0-9_*-]+"),
}


def display(table: TableRef, warehouse: str) -> str:
    """A stored name written so it reads back as itself: `ANALYTICS.HEX_WRITEBACK."segments"`,
    not a name that seems to fold (SPEC `report`)."""
    bare = _BARE.get(warehouse)
    quote = "`" if rule_for(warehouse).dialect == "bigquery" else '"'
    parts = []
    for part in (table.database, table.schema, table.name):
        if part is None:
            continue
        if bare is not None and bare.fullmatch(part):
            parts.append(part)
        else:
            parts.append(quote + part.replace(quote, quote * 2 if quote == '"' else "\\`") + quote)
    return ".".join(parts)


def parse_table_name(text: str, warehouse: str) -> TableRef | None:
    """Read ``db.schema.table`` written in the warehouse's SQL quoting; None if it is not one.

    Used for table lists that other evidence sources give as strings (snapshots,
    ACCESS_HISTORY, queriedTables, BigQuery referenced_tables).
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    text = text.strip()
    if not text:
        return None
    try:
        table = exp.to_table(text, dialect=rule_for(warehouse).dialect)
    except (SqlglotError, ValueError, TypeError):  # TypeError: not one table ("a;b")
        return None
    return table_ref(table, warehouse)


def table_ref(table: object, warehouse: str) -> TableRef | None:
    """Normalise a sqlglot ``exp.Table`` into a `TableRef` (None when it has no name)."""
    from sqlglot import exp

    assert isinstance(table, exp.Table)

    def part(key: str) -> str | None:
        node = table.args.get(key)
        if node is None:
            return None
        if isinstance(node, exp.Identifier):
            return normalize(node.this, quoted=bool(node.args.get("quoted")), warehouse=warehouse)
        if isinstance(node, exp.Dot | exp.Literal):
            return None
        return normalize(node.name, quoted=False, warehouse=warehouse) or None

    name = part("this")
    if not name:
        return None
    return TableRef(part("catalog"), part("db"), name)
