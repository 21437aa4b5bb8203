"""Which managed Hex exposures a change to the dbt project reaches, and which it breaks. Pure.

    modified_nodes(state, current, ...)   nodes changed between the production manifest
                                          (dbt's `--state` folder) and the current one
    impact(state, current, ...)           the managed exposures downstream of them

A node is *modified* when its checksum changed, when it was removed or renamed, or when its
documented columns changed (added, removed, or a `data_type` changed to another). *Renamed*:
a removed node and a new node of the same resource type that name the same relation
(database, schema, identifier, case-folded) or, for models, seeds and snapshots, the same
file (a file that holds only that node on both sides); it is reported under its production
unique_id, with the new one beside it. Sources have no checksum: only their columns and
removal count. The walk downstream follows the current manifest's `child_map` from nodes it
still has and the production one's from nodes it lost, so an exposure that read a removed
model is still found after dbt dropped that edge.

An exposure is *breaking* when a column it lists in `meta.referenced_columns` (Elementary's
form `{column_name, data_type?, node: "ref('x')"}`) is gone or retyped in a modified node,
or its node is gone. Columns are compared like with like: documented against documented,
catalog against catalog (`catalog.json` of each side, when present), so a type spelled
`int` in YAML and `INTEGER` by the warehouse is never a change.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .records import HexProject

_RELATIONS = ("model", "seed", "snapshot")


class NodeChange(NamedTuple):
    unique_id: str  # the production unique_id
    change: str  # "modified" | "removed" | "renamed"
    reasons: tuple[str, ...]  # "checksum", "column removed: x", "renamed to model.p.y", ...
    renamed_to: str | None = None


class BreakingColumn(NamedTuple):
    node: str  # unique_id of the modified node (production side)
    ref: str  # as the exposure wrote it: "ref('fct_orders')"
    column: str
    change: str  # "removed" | "retyped" | "node removed" | "node renamed"
    was: str | None = None  # data type before, when known
    now: str | None = None  # data type now, or the new unique_id of a renamed node


class ImpactedExposure(NamedTuple):
    name: str
    unique_id: str
    label: str
    url: str
    owner_name: str | None
    owner_email: str | None
    project_id: str | None
    status: str | None
    app_views_30d: int | None  # None: unknown (no Hex side, or Hex did not say)
    upstream_modified: tuple[str, ...]  # sorted unique_ids
    breaking_columns: tuple[BreakingColumn, ...]
    found_in: str  # "manifest" | "exposures file" | "state manifest"


class Impact(NamedTuple):
    modified: tuple[NodeChange, ...]  # sorted by unique_id
    exposures: tuple[ImpactedExposure, ...]  # most-viewed first, unknown views last
    hex_side: bool  # whether app views came from Hex (API or snapshot)


# --- modified nodes ----------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def relation_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Models, seeds, snapshots and sources by unique_id: the nodes an exposure can read."""
    out: dict[str, Mapping[str, Any]] = {}
    for uid, node in _mapping(manifest.get("nodes")).items():
        if isinstance(node, Mapping) and node.get("resource_type") in _RELATIONS:
            out[str(uid)] = node
    for uid, node in _mapping(manifest.get("sources")).items():
        if isinstance(node, Mapping):
            out[str(uid)] = node
    return out


def _checksum(node: Mapping[str, Any]) -> str | None:
    value = _mapping(node.get("checksum")).get("checksum")
    return str(value) if value else None


_ELEMENTARY_CLASSES = frozenset({"STRING", "NUMERIC", "TIMESTAMP", "BOOLEAN", "OTHER"})


def elementary_class(raw: str) -> str:
    """A raw warehouse type in Elementary's classes, upper-cased like `_type` (either warehouse)."""
    from .columns import elementary_type

    for warehouse in ("snowflake", "bigquery"):
        found = elementary_type(raw, warehouse)
        if found != "other":
            return found.upper()
    return "OTHER"


def _type(value: object) -> str | None:
    return " ".join(str(value).upper().split()) if isinstance(value, str) and value else None


def documented_columns(node: Mapping[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Folded name -> (name as written, normalised data_type or None)."""
    out = {}
    for key, col in _mapping(node.get("columns")).items():
        col = _mapping(col)
        name = str(col.get("name") or key)
        out[name.lower()] = (name, _type(col.get("data_type")))
    return out


def catalog_columns(
    catalog: Mapping[str, Any] | None, uid: str
) -> dict[str, tuple[str, str | None]] | None:
    """Folded name -> (name, type) from catalog.json, or None when the catalog lacks the node."""
    if not catalog:
        return None
    section = "sources" if uid.startswith("source.") else "nodes"
    entry = _mapping(catalog.get(section)).get(uid)
    if not isinstance(entry, Mapping):
        return None
    out = {}
    for key, col in _mapping(entry.get("columns")).items():
        col = _mapping(col)
        name = str(col.get("name") or key)
        out[name.lower()] = (name, _type(col.get("type")))
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


def _column_reasons(
    old: Mapping[str, tuple[str, str | None]], new: Mapping[str, tuple[str, str | None]]
) -> list[str]:
    reasons = [f"column removed: {old[k][0]}" for k in sorted(old.keys() - new.keys())]
    reasons += [f"column added: {new[k][0]}" for k in sorted(new.keys() - old.keys())]
    for k in sorted(old.keys() & new.keys()):
        was, now = old[k][1], new[k][1]
        if was and now and was != now:
            reasons.append(f"column retyped: {new[k][0]} {was} -> {now}")
    return reasons


# --- exposures ---------------------------------------------------------------------------


def managed_marker(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The `hex_exposures` meta of a managed exposure: under `config.meta` (dbt >= 1.10) or
    top-level `meta` (before); None for an exposure the tool does not manage."""
    for meta in (_mapping(_mapping(item.get("config")).get("meta")), _mapping(item.get("meta"))):
        marker = meta.get("hex_exposures")
        if isinstance(marker, Mapping) and marker.get("managed") is True:
            return marker
    return None


def _meta(item: Mapping[str, Any], key: str) -> Any:
    for meta in (_mapping(_mapping(item.get("config")).get("meta")), _mapping(item.get("meta"))):
        if key in meta:
            return meta[key]
    return None


def _managed(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(uid): item
        for uid, item in _mapping(manifest.get("exposures")).items()
        if isinstance(item, Mapping) and managed_marker(item) is not None
    }


def parse_call(text: str) -> tuple[str, tuple[str, ...], str | None] | None:
    """`ref('p', 'm', v=2)` -> ("ref", ("p", "m"), "2"); `source('s', 't')` likewise.

    Read with the Python parser (never evaluated): dbt's call syntax is Python's.
    """
    text = text.strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2].strip()
    try:
        call = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        return None
    if call.func.id not in ("ref", "source"):
        return None
    args = []
    for arg in call.args:
        if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
            return None
        args.append(arg.value)
    version = None
    for kw in call.keywords:
        if kw.arg in ("v", "version") and isinstance(kw.value, ast.Constant):
            version = str(kw.value.value)
    return call.func.id, tuple(args), version


def resolve_call(text: str, nodes: Mapping[str, Mapping[str, Any]], root: str) -> str | None:
    """The unique_id a `ref(...)`/`source(...)` names among `nodes`, the way dbt picks it:
    the root package first, and for a versioned model without `v=` its latest version."""
    parsed = parse_call(text)
    if parsed is None:
        return None
    kind, args, version = parsed
    hits = []
    for uid, node in nodes.items():
        if kind == "source":
            source = (node.get("source_name"), node.get("name"))
            if len(args) == 2 and node.get("resource_type") == "source" and source == args:
                hits.append(uid)
            continue
        if node.get("resource_type") not in _RELATIONS or node.get("name") != args[-1]:
            continue
        if len(args) == 2 and node.get("package_name") != args[0]:
            continue
        node_version = node.get("version")
        if version is not None:
            if node_version is None or str(node_version) != version:
                continue
        elif node_version is not None and str(node_version) != str(node.get("latest_version")):
            continue
        hits.append(uid)
    hits.sort(key=lambda u: (nodes[u].get("package_name") != root, u))
    return hits[0] if hits else None


def _children(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """child_map, or the same built from `depends_on` when the manifest has none."""
    child_map = manifest.get("child_map")
    if isinstance(child_map, Mapping) and child_map:
        return {str(k): [str(c) for c in v] for k, v in child_map.items() if isinstance(v, list)}
    out: dict[str, list[str]] = {}
    for section in ("nodes", "sources", "exposures"):
        for uid, item in _mapping(manifest.get(section)).items():
            for parent in _mapping(_mapping(item).get("depends_on")).get("nodes") or []:
                out.setdefault(str(parent), []).append(str(uid))
    return out


class _Candidate(NamedTuple):
    unique_id: str
    item: Mapping[str, Any]
    found_in: str


def _candidates(
    state: Mapping[str, Any],
    current: Mapping[str, Any],
    file_items: Sequence[Mapping[str, Any]] | None,
) -> dict[str, _Candidate]:
    """Managed exposures by unique_id: the current manifest's, then those only the exposures
    file has (dbt parsed the project without it), then, only when there is no file to tell,
    the production manifest's."""
    root = str(_mapping(current.get("metadata")).get("project_name") or "")
    root = root or str(_mapping(state.get("metadata")).get("project_name") or "")
    out = {uid: _Candidate(uid, item, "manifest") for uid, item in _managed(current).items()}
    names = {str(c.item.get("name")) for c in out.values()}
    if file_items is not None:
        for item in file_items:
            name = str(item.get("name"))
            if managed_marker(item) is not None and name not in names:
                uid = f"exposure.{root}.{name}"
                out[uid] = _Candidate(uid, item, "exposures file")
                names.add(name)
    elif not out:
        out = {uid: _Candidate(uid, i, "state manifest") for uid, i in _managed(state).items()}
    return out


def impact(
    state: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    file_items: Sequence[Mapping[str, Any]] | None = None,
    projects: Mapping[str, HexProject] | None = None,
    state_catalog: Mapping[str, Any] | None = None,
    current_catalog: Mapping[str, Any] | None = None,
) -> Impact:
    """The managed exposures downstream of the nodes modified between `state` and `current`.

    `file_items`: the exposures file as dbt's YAML reader sees it (None: no file), for
    exposures dbt's manifest lacks. `projects`: Hex projects by id for views and status
    (None: no Hex side, views unknown).
    """
    changes = modified_nodes(state, current)
    before, after = relation_nodes(state), relation_nodes(current)
    root = str(_mapping(current.get("metadata")).get("project_name") or "")
    candidates = _candidates(state, current, file_items)
    now_children, old_children = _children(current), _children(state)
    extra: dict[str, list[str]] = {}  # edges of exposures only the file knows
    for cand in candidates.values():
        if cand.found_in != "manifest":
            for dep in cand.item.get("depends_on") or []:
                if isinstance(dep, str):
                    parent = resolve_call(dep, after, root) or resolve_call(dep, before, root)
                    if parent:
                        extra.setdefault(parent, []).append(cand.unique_id)

    def children(uid: str) -> list[str]:
        kids = now_children.get(uid, []) if uid in after else old_children.get(uid, [])
        return kids + extra.get(uid, [])

    reached: dict[str, set[str]] = {}
    for change in changes:
        seen = {change.unique_id}
        queue = deque([change.unique_id])
        while queue:
            for child in children(queue.popleft()):
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
                    if child in candidates:
                        reached.setdefault(child, set()).add(change.unique_id)
    by_uid = {c.unique_id: c for c in changes}
    exposures = [
        _impacted(
            candidates[uid],
            tuple(sorted(ups)),
            by_uid,
            before,
            after,
            root=root,
            projects=projects,
            state_catalog=state_catalog,
            current_catalog=current_catalog,
        )
        for uid, ups in reached.items()
    ]
    exposures.sort(
        key=lambda e: (e.app_views_30d is None, -(e.app_views_30d or 0), e.name, e.unique_id)
    )
    return Impact(changes, tuple(exposures), projects is not None)


def app_views_30d(project: HexProject | None) -> int | None:
    """`analytics.appViews.lastThirtyDays` when Hex gives it as a whole number, else None."""
    if project is None:
        return None
    views = _mapping(_mapping(project.raw.get("analytics")).get("appViews")).get("lastThirtyDays")
    return views if isinstance(views, int) and not isinstance(views, bool) and views >= 0 else None


def _strip_raw(text: str) -> str:
    return text.replace("{% raw %}", "").replace("{% endraw %}", "")


def _impacted(
    cand: _Candidate,
    upstream: tuple[str, ...],
    changes: Mapping[str, NodeChange],
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    *,
    root: str,
    projects: Mapping[str, HexProject] | None,
    state_catalog: Mapping[str, Any] | None,
    current_catalog: Mapping[str, Any] | None,
) -> ImpactedExposure:
    item = cand.item
    marker = managed_marker(item) or {}
    pid = str(marker["project_id"]) if marker.get("project_id") else None
    project = projects.get(pid) if projects is not None and pid else None
    owner = _mapping(item.get("owner"))
    hex_meta = _mapping(_meta(item, "hex"))
    label = str(item.get("label") or item.get("name") or "")
    if cand.found_in != "manifest":
        label = _strip_raw(label)  # dbt renders the label; the file holds the raw Jinja
    status = project.status if project is not None else hex_meta.get("status")
    breaking = _breaking(
        _meta(item, "referenced_columns"),
        upstream,
        changes,
        before,
        after,
        root=root,
        state_catalog=state_catalog,
        current_catalog=current_catalog,
    )
    return ImpactedExposure(
        name=str(item.get("name") or ""),
        unique_id=cand.unique_id,
        label=project.title if project is not None and project.title else label,
        url=str(item.get("url") or ""),
        owner_name=str(owner["name"]) if owner.get("name") else None,
        owner_email=str(owner["email"]) if owner.get("email") else None,
        project_id=pid,
        status=str(status) if isinstance(status, str) else None,
        app_views_30d=app_views_30d(project),
        upstream_modified=upstream,
        breaking_columns=breaking,
        found_in=cand.found_in,
    )


def _breaking(
    referenced: object,
    upstream: tuple[str, ...],
    changes: Mapping[str, NodeChange],
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    *,
    root: str,
    state_catalog: Mapping[str, Any] | None,
    current_catalog: Mapping[str, Any] | None,
) -> tuple[BreakingColumn, ...]:
    out: set[BreakingColumn] = set()
    modified = set(upstream)
    for entry in referenced if isinstance(referenced, list) else []:
        if not isinstance(entry, Mapping):
            continue
        column, ref = entry.get("column_name"), entry.get("node")
        if not isinstance(column, str) or not column or not isinstance(ref, str):
            continue
        uid = resolve_call(ref, before, root)
        if uid is None or uid not in modified:
            continue  # a node production did not have, or one this change leaves alone
        change = changes[uid]
        if change.change == "removed":
            out.add(BreakingColumn(uid, ref, column, "node removed"))
            continue
        if change.change == "renamed":
            out.add(BreakingColumn(uid, ref, column, "node renamed", now=change.renamed_to))
            continue
        hit = _column_change(
            column,
            _type(entry.get("data_type")),
            old_doc=documented_columns(before[uid]),
            new_doc=documented_columns(after[uid]),
            old_cat=catalog_columns(state_catalog, uid),
            new_cat=catalog_columns(current_catalog, uid),
        )
        if hit is not None:
            out.add(BreakingColumn(uid, ref, column, *hit))
    return tuple(sorted(out, key=lambda b: (b.node, b.column.lower(), b.change)))


def _column_change(
    column: str,
    referenced_type: str | None,
    *,
    old_doc: Mapping[str, tuple[str, str | None]],
    new_doc: Mapping[str, tuple[str, str | None]],
    old_cat: Mapping[str, tuple[str, str | None]] | None,
    new_cat: Mapping[str, tuple[str, str | None]] | None,
) -> tuple[str, str | None, str | None] | None:
    """(change, was, now) for one referenced column, or None when nothing says it broke."""
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
