"""Tables a query read -> the dbt nodes an exposure may depend on.

Exact matching on the normalised (database, schema, identifier) triple. A name the query
left partly qualified (and its context could not complete) matches only when exactly one
relation fits; otherwise it is reported as ambiguous rather than guessed.
"""

from __future__ import annotations

from typing import NamedTuple

from .identifiers import display
from .manifest import Inactive, ManifestIndex
from .records import Relation, TableRef


class Match(NamedTuple):
    table: TableRef
    relation: Relation | None  # None: not a dbt node (or ambiguous)
    note: str | None = None  # why it did not match, or which other nodes it could have been
    inactive: Inactive | None = None  # the ephemeral or disabled node it names (no relation)


def resolve(table: TableRef, index: ManifestIndex) -> Match:
    if table.database is not None and table.schema is not None:
        keys: tuple[TableRef, ...] = (table,) if table in index.by_key else ()
    elif table.schema is not None:
        keys = index.by_schema_name.get((table.schema, table.name), ())
    else:
        keys = index.by_name.get(table.name, ())
    if not keys:
        return Match(table, None, index.excluded.get(table), _inactive(table, index))
    if len(keys) > 1:
        shown = ", ".join(sorted(display(k, index.warehouse) for k in keys)[:3])
        return Match(table, None, f"ambiguous partial name: could be {shown}")
    rels = index.by_key[keys[0]]
    note = None
    if len(rels) > 1:
        others = ", ".join(r.unique_id for r in rels[1:])
        note = f"chose {rels[0].unique_id} over {others}"
    return Match(table, rels[0], note)


def _inactive(table: TableRef, index: ManifestIndex) -> Inactive | None:
    """The one ephemeral or disabled node `table` names, parts it leaves out matching any."""
    found = {
        index.inactive[key]
        for key in index.inactive_by_name.get(table.name, ())
        if table.schema in (None, key.schema) and table.database in (None, key.database)
    }
    return found.pop() if len(found) == 1 else None


def dependency(rel: Relation, index: ManifestIndex) -> str:
    """The `depends_on` entry dbt resolves back to `rel`.

    Versioned models are pinned to the version the query read, so a new latest version does
    not silently move the exposure; a name defined in two packages gets its package.
    """
    if rel.resource_type == "source":
        return f"source({_q(rel.source_name or '')}, {_q(rel.name)})"
    args = [_q(rel.name)]
    if rel.name in index.ambiguous_names:
        args.insert(0, _q(rel.package))
    if rel.version is not None:
        version = rel.version
        args.append(f"v={version}" if version.isdigit() else f"v={_q(version)}")
    return f"ref({', '.join(args)})"


def _q(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
