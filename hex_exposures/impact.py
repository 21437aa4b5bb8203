"""Which managed Hex exposures a change to the dbt project reaches, and which it breaks. Pure.

    impact(state, current, ...)   the managed exposures downstream of the nodes modified
                                  between the production manifest (dbt's `--state` folder)
                                  and the current one (state_diff.py says what "modified" is)

The walk downstream follows the current manifest's `child_map` from nodes it still has and
the production one's from nodes it lost, so an exposure that read a removed model is still
found after dbt dropped that edge.

An exposure is *breaking* when a column it lists in `meta.referenced_columns` (Elementary's
form `{column_name, data_type?, node: "ref('x')"}`) is gone or retyped in a modified node,
or its node is gone or renamed.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from .records import HexProject
from .state_diff import (
    RELATIONS,
    Columns,
    NodeChange,
    catalog_columns,
    column_change,
    column_type,
    documented_columns,
    mapping,
    modified_nodes,
    relation_nodes,
)

__all__ = ["BreakingColumn", "Impact", "ImpactedExposure", "NodeChange", "impact", "modified_nodes"]


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


# --- exposures ---------------------------------------------------------------------------


def managed_marker(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The `hex_exposures` meta of a managed exposure: under `config.meta` (dbt >= 1.10) or
    top-level `meta` (before); None for an exposure the tool does not manage."""
    for meta in (mapping(mapping(item.get("config")).get("meta")), mapping(item.get("meta"))):
        marker = meta.get("hex_exposures")
        if isinstance(marker, Mapping) and marker.get("managed") is True:
            return marker
    return None


def _meta(item: Mapping[str, Any], key: str) -> Any:
    for meta in (mapping(mapping(item.get("config")).get("meta")), mapping(item.get("meta"))):
        if key in meta:
            return meta[key]
    return None


def _managed(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(uid): item
        for uid, item in mapping(manifest.get("exposures")).items()
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


class Resolver:
    """Turns `ref(...)`/`source(...)` into the unique_id dbt would pick among `nodes`: the
    root package first, and for a versioned model without `v=` its latest version. Indexed
    by name once, so thousands of lookups stay cheap."""

    def __init__(self, nodes: Mapping[str, Mapping[str, Any]], root: str) -> None:
        self._nodes = nodes
        self._root = root
        self._by_name: dict[tuple[str, ...], list[str]] = {}
        for uid, node in nodes.items():
            if node.get("resource_type") == "source":
                key: tuple[str, ...] = (
                    "source",
                    str(node.get("source_name")),
                    str(node.get("name")),
                )
            elif node.get("resource_type") in RELATIONS:
                key = ("ref", str(node.get("name")))
            else:
                continue
            self._by_name.setdefault(key, []).append(uid)
        self._memo: dict[str, str | None] = {}

    def __call__(self, text: str) -> str | None:
        if text not in self._memo:
            self._memo[text] = self._resolve(text)
        return self._memo[text]

    def _resolve(self, text: str) -> str | None:
        parsed = parse_call(text)
        if parsed is None:
            return None
        kind, args, version = parsed
        if kind == "source":
            hits = self._by_name.get(("source", *args), []) if len(args) == 2 else []
            return min(hits, default=None)
        if len(args) not in (1, 2):
            return None
        hits = []
        for uid in self._by_name.get(("ref", args[-1]), []):
            node = self._nodes[uid]
            if len(args) == 2 and node.get("package_name") != args[0]:
                continue
            node_version = node.get("version")
            if version is not None:
                if node_version is None or str(node_version) != version:
                    continue
            elif node_version is not None and str(node_version) != str(node.get("latest_version")):
                continue
            hits.append(uid)
        hits.sort(key=lambda u: (self._nodes[u].get("package_name") != self._root, u))
        return hits[0] if hits else None


def resolve_call(text: str, nodes: Mapping[str, Mapping[str, Any]], root: str) -> str | None:
    """One-off `Resolver(nodes, root)(text)`."""
    return Resolver(nodes, root)(text)


def _children(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """child_map, or the same built from `depends_on` when the manifest has none."""
    child_map = manifest.get("child_map")
    if isinstance(child_map, Mapping) and child_map:
        return {str(k): [str(c) for c in v] for k, v in child_map.items() if isinstance(v, list)}
    out: dict[str, list[str]] = {}
    for section in ("nodes", "sources", "exposures"):
        for uid, item in mapping(manifest.get(section)).items():
            for parent in mapping(mapping(item).get("depends_on")).get("nodes") or []:
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
    root = str(mapping(current.get("metadata")).get("project_name") or "")
    root = root or str(mapping(state.get("metadata")).get("project_name") or "")
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
    root = str(mapping(current.get("metadata")).get("project_name") or "")
    candidates = _candidates(state, current, file_items)
    now_children, old_children = _children(current), _children(state)
    extra: dict[str, list[str]] = {}  # edges of exposures only the file knows
    resolve_now, resolve_before = Resolver(after, root), Resolver(before, root)
    for cand in candidates.values():
        if cand.found_in != "manifest":
            for dep in cand.item.get("depends_on") or []:
                if isinstance(dep, str):
                    parent = resolve_now(dep) or resolve_before(dep)
                    if parent:
                        extra.setdefault(parent, []).append(cand.unique_id)

    def children(uid: str) -> list[str]:
        kids = now_children.get(uid, []) if uid in after else old_children.get(uid, [])
        return kids + extra.get(uid, [])

    masks = _upstream_masks([c.unique_id for c in changes], children)
    order = [c.unique_id for c in changes]
    reached = {
        uid: tuple(order[i] for i in _bits(mask))
        for uid, mask in masks.items()
        if uid in candidates
    }
    sides = _Sides(changes, before, after, resolve_before, (state_catalog, current_catalog))
    exposures = [_impacted(candidates[uid], ups, sides, projects) for uid, ups in reached.items()]
    exposures.sort(
        key=lambda e: (e.app_views_30d is None, -(e.app_views_30d or 0), e.name, e.unique_id)
    )
    return Impact(changes, tuple(exposures), projects is not None)


def _upstream_masks(
    modified: Sequence[str], children: Callable[[str], list[str]]
) -> dict[str, int]:
    """Every node downstream of `modified` -> a bit set of the modified nodes above it.

    One pass in topological order over the reachable part of the graph (bit i stands for
    modified[i]), instead of one walk per modified node: a changed macro can modify thousands.
    A cycle (two graphs stitched together can form one) is finished by iterating to a fixpoint.
    """
    reach: set[str] = set(modified)
    queue = deque(modified)
    while queue:
        for child in children(queue.popleft()):
            if child not in reach:
                reach.add(child)
                queue.append(child)
    kids = {uid: [c for c in dict.fromkeys(children(uid)) if c in reach] for uid in reach}
    indegree = dict.fromkeys(reach, 0)
    for cs in kids.values():
        for c in cs:
            indegree[c] += 1
    masks = dict.fromkeys(reach, 0)
    for i, uid in enumerate(modified):
        masks[uid] |= 1 << i
    ready = deque(uid for uid, n in indegree.items() if n == 0)
    done = 0
    while ready:
        uid = ready.popleft()
        done += 1
        for c in kids[uid]:
            masks[c] |= masks[uid]
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if done < len(reach):  # a cycle: propagate until nothing changes
        changed = True
        while changed:
            changed = False
            for uid in reach:
                for c in kids[uid]:
                    if masks[c] | masks[uid] != masks[c]:
                        masks[c] |= masks[uid]
                        changed = True
    return masks


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def app_views_30d(project: HexProject | None) -> int | None:
    """`analytics.appViews.lastThirtyDays` when Hex gives it as a whole number, else None."""
    if project is None:
        return None
    views = mapping(mapping(project.raw.get("analytics")).get("appViews")).get("lastThirtyDays")
    return views if isinstance(views, int) and not isinstance(views, bool) and views >= 0 else None


def _strip_raw(text: str) -> str:
    return text.replace("{% raw %}", "").replace("{% endraw %}", "")


class _Sides:
    """Both manifests' nodes and catalogs, with each node's columns read once."""

    def __init__(
        self,
        changes: Sequence[NodeChange],
        before: Mapping[str, Mapping[str, Any]],
        after: Mapping[str, Mapping[str, Any]],
        resolve: Resolver,
        catalogs: tuple[Mapping[str, Any] | None, Mapping[str, Any] | None],
    ) -> None:
        self.changes = {c.unique_id: c for c in changes}
        self.before, self.after, self.resolve, self.catalogs = before, after, resolve, catalogs
        self._columns: dict[str, tuple[Columns, Columns, Columns | None, Columns | None]] = {}

    def columns(self, uid: str) -> tuple[Columns, Columns, Columns | None, Columns | None]:
        """(documented before, documented now, catalog before, catalog now)."""
        if uid not in self._columns:
            self._columns[uid] = (
                documented_columns(self.before[uid]),
                documented_columns(self.after[uid]),
                catalog_columns(self.catalogs[0], uid),
                catalog_columns(self.catalogs[1], uid),
            )
        return self._columns[uid]


def _impacted(
    cand: _Candidate,
    upstream: tuple[str, ...],
    sides: _Sides,
    projects: Mapping[str, HexProject] | None,
) -> ImpactedExposure:
    item = cand.item
    marker = managed_marker(item) or {}
    pid = str(marker["project_id"]) if marker.get("project_id") else None
    project = projects.get(pid) if projects is not None and pid else None
    owner = mapping(item.get("owner"))
    hex_meta = mapping(_meta(item, "hex"))
    label = str(item.get("label") or item.get("name") or "")
    if cand.found_in != "manifest":
        label = _strip_raw(label)  # dbt renders the label; the file holds the raw Jinja
    status = project.status if project is not None else hex_meta.get("status")
    breaking = _breaking(_meta(item, "referenced_columns"), upstream, sides)
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
    referenced: object, upstream: tuple[str, ...], sides: _Sides
) -> tuple[BreakingColumn, ...]:
    out: set[BreakingColumn] = set()
    modified = set(upstream)
    for entry in referenced if isinstance(referenced, list) else []:
        if not isinstance(entry, Mapping):
            continue
        column, ref = entry.get("column_name"), entry.get("node")
        if not isinstance(column, str) or not column or not isinstance(ref, str):
            continue
        uid = sides.resolve(ref)
        if uid is None or uid not in modified:
            continue  # a node production did not have, or one this change leaves alone
        change = sides.changes[uid]
        if change.change == "removed":
            out.add(BreakingColumn(uid, ref, column, "node removed"))
            continue
        if change.change == "renamed":
            out.add(BreakingColumn(uid, ref, column, "node renamed", now=change.renamed_to))
            continue
        old_doc, new_doc, old_cat, new_cat = sides.columns(uid)
        hit = column_change(
            column,
            column_type(entry.get("data_type")),
            old_doc=old_doc,
            new_doc=new_doc,
            old_cat=old_cat,
            new_cat=new_cat,
        )
        if hit is not None:
            out.add(BreakingColumn(uid, ref, column, *hit))
    return tuple(sorted(out, key=lambda b: (b.node, b.column.lower(), b.change)))
