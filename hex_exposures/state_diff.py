"""What changed between two dbt manifests, node by node and column by column. Pure.

A node (model, seed, snapshot or source) is *modified* when its checksum changed, when it
was removed or renamed, or when its documented columns changed (added, removed, or a
`data_type` changed to another; a type documented for the first time is not a change).
*Renamed*: a removed node and a new node of the same resource type that name the same
relation (database, schema, identifier, case-folded) or, for models, seeds and snapshots, the
same file (a file that holds only that node on both sides); it is reported under its
production unique_id, with the new one beside it. Sources have no checksum: only their
columns and removal count.

Columns are compared like with like: documented against documented, catalog against catalog
(`catalog.json`), so a type spelled `int` in YAML and `INTEGER` by the warehouse is never a
change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

RELATIONS = ("model", "seed", "snapshot")
Columns = Mapping[str, tuple[str, str | None]]  # folded name -> (name as written, type)


class NodeChange(NamedTuple):
    unique_id: str  # the production unique_id
    change: str  # "modified" | "removed" | "renamed"
    reasons: tuple[str, ...]  # "checksum", "column removed: x", "renamed to model.p.y", ...
    renamed_to: str | None = None


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def relation_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Models, seeds, snapshots and sources by unique_id: the nodes an exposure can read."""
    out: dict[str, Mapping[str, Any]] = {}
    for uid, node in mapping(manifest.get("nodes")).items():
        if isinstance(node, Mapping) and node.get("resource_type") in RELATIONS:
            out[str(uid)] = node
    for uid, node in mapping(manifest.get("sources")).items():
        if isinstance(node, Mapping):
            out[str(uid)] = node
    return out


def _checksum(node: Mapping[str, Any]) -> str | None:
    value = mapping(node.get("checksum")).get("checksum")
    return str(value) if value else None


_ELEMENTARY_CLASSES = frozenset({"STRING", "NUMERIC", "TIMESTAMP", "BOOLEAN", "OTHER"})


def elementary_class(raw: str) -> str:
    """A raw warehouse type in Elementary's classes, upper-cased like `column_type`."""
    from .columns import elementary_type

    for warehouse in ("snowflake", "bigquery"):
        found = elementary_type(raw, warehouse)
        if found != "other":
            return found.upper()
    return "OTHER"


def column_type(value: object) -> str | None:
    return " ".join(str(value).upper().split()) if isinstance(value, str) and value else None


def documented_columns(node: Mapping[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Folded name -> (name as written, normalised data_type or None)."""
    out = {}
    for key, col in mapping(node.get("columns")).items():
        col = mapping(col)
        name = str(col.get("name") or key)
        out[name.lower()] = (name, column_type(col.get("data_type")))
    return out


def catalog_columns(catalog: Mapping[str, Any] | None, uid: str) -> Columns | None:
    """Folded name -> (name, type) from catalog.json, or None when the catalog lacks the node."""
    if not catalog:
        return None
    section = "sources" if uid.startswith("source.") else "nodes"
    entry = mapping(catalog.get(section)).get(uid)
    if not isinstance(entry, Mapping):
        return None
    out = {}
    for key, col in mapping(entry.get("columns")).items():
        col = mapping(col)
        name = str(col.get("name") or key)
        out[name.lower()] = (name, column_type(col.get("type")))
    return out


def _relation_key(node: Mapping[str, Any]) -> tuple[str, str, str] | None:
    ident = node.get("identifier") if node.get("resource_type") == "source" else node.get("alias")
    ident = ident or node.get("name")
    if not ident or not node.get("schema"):
        return None
    return (
        str(node.get("database") or "").lower(),
        str(node["schema"]).lower(),
        str(ident).lower(),
    )


def _renames(
    gone: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Production unique_id -> current unique_id for nodes that only changed name."""
    out: dict[str, str] = {}
    taken: set[str] = set()

    def match(key_of: Any) -> None:
        index: dict[Any, list[str]] = {}
        for uid, node in new.items():
            if uid not in taken and (key := key_of(node)) is not None:
                index.setdefault((node.get("resource_type"), key), []).append(uid)
        for uid, node in sorted(gone.items()):
            if uid in out or (key := key_of(node)) is None:
                continue
            hits = [h for h in index.get((node.get("resource_type"), key), []) if h not in taken]
            if len(hits) == 1:
                out[uid] = hits[0]
                taken.add(hits[0])

    match(_relation_key)
    gone_paths = _unique_paths(gone.values())
    new_paths = _unique_paths(new.values())

    def path_key(node: Mapping[str, Any]) -> str | None:
        path = node.get("original_file_path")
        if node.get("resource_type") == "source" or not isinstance(path, str):
            return None
        return path if path in gone_paths and path in new_paths else None

    match(path_key)
    return out


def _unique_paths(nodes: Iterable[Mapping[str, Any]]) -> set[str]:
    seen: dict[str, int] = {}
    for node in nodes:
        path = node.get("original_file_path")
        if isinstance(path, str):
            seen[path] = seen.get(path, 0) + 1
    return {p for p, n in seen.items() if n == 1}


def modified_nodes(state: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[NodeChange, ...]:
    """Every production node that is changed, removed or renamed in the current manifest."""
    before, after = relation_nodes(state), relation_nodes(current)
    gone = {uid: n for uid, n in before.items() if uid not in after}
    new = {uid: n for uid, n in after.items() if uid not in before}
    renamed = _renames(gone, new)
    out = []
    for uid in sorted(before):
        if uid in renamed:
            out.append(NodeChange(uid, "renamed", (f"renamed to {renamed[uid]}",), renamed[uid]))
            continue
        if uid not in after:
            out.append(NodeChange(uid, "removed", ("removed",)))
            continue
        reasons = []
        old, now = before[uid], after[uid]
        if _checksum(old) != _checksum(now) and old.get("resource_type") != "source":
            reasons.append("checksum")
        reasons += _column_reasons(documented_columns(old), documented_columns(now))
        if reasons:
            out.append(NodeChange(uid, "modified", tuple(reasons)))
    return tuple(out)


def _column_reasons(old: Columns, new: Columns) -> list[str]:
    reasons = [f"column removed: {old[k][0]}" for k in sorted(old.keys() - new.keys())]
    reasons += [f"column added: {new[k][0]}" for k in sorted(new.keys() - old.keys())]
    for k in sorted(old.keys() & new.keys()):
        was, now = old[k][1], new[k][1]
        if was and now and was != now:
            reasons.append(f"column retyped: {new[k][0]} {was} -> {now}")
    return reasons


def column_change(
    column: str,
    referenced_type: str | None,
    *,
    old_doc: Columns,
    new_doc: Columns,
    old_cat: Columns | None,
    new_cat: Columns | None,
) -> tuple[str, str | None, str | None] | None:
    """(change, was, now) for one referenced column, or None when nothing says it broke.

    The current catalog (what the warehouse holds) speaks first; documented columns count
    too, so a column dropped from the YAML with its SQL is caught without a catalog.
    """
    key = column.lower()
    if new_cat is not None:
        if key not in new_cat:
            was = (old_cat or {}).get(key, ("", referenced_type))[1]
            return "removed", was, None
        now = new_cat[key][1]
        # sync writes data_type in Elementary's normalised form (STRING, NUMERIC, ...): it
        # is compared class with class, the catalog's raw types with each other.
        old = (old_cat or {}).get(key, ("", None))[1]
        if referenced_type in _ELEMENTARY_CLASSES:
            was = old
            if now and elementary_class(now) != referenced_type and old is None:
                return "retyped", referenced_type.lower(), now
        else:
            was = referenced_type or old
        if was and now and was != now:
            return "retyped", was, now
    if key in old_doc and key not in new_doc:
        return "removed", old_doc[key][1], None
    if key in old_doc and key in new_doc:
        was, now = old_doc[key][1], new_doc[key][1]
        if was and now and was != now:
            return "retyped", was, now
    return None
