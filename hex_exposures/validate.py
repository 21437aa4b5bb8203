"""Checks that need no Hex and no warehouse: the committed file against the manifest. Pure.

    offline_expected(manifest, text, ...)  the file as sync would leave it if Hex said
                                           nothing new: tool shape, only real dependencies
    dbt_problems(manifest, text, ...)      what dbt parse silently accepted but lost

dbt drops a `depends_on` entry that names no node without failing the parse, so an exposure
can lose a parent unnoticed; these functions are the guard (`check --offline`, `validate`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import yaml

from . import yaml_merge
from .manifest import build_index, meta_layout
from .records import Exposure
from .resolve import dependency

_CALL = re.compile(r"\s*(\{\{\s*)?(ref|source)\s*\(")


def known_dependencies(
    manifest: Mapping[str, Any],
    warehouse: str,
    *,
    restricted_packages: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """Every `depends_on` entry, as the tool writes them, that names a node in the manifest
    an exposure may reference."""
    index = build_index(manifest, warehouse, restricted_packages=restricted_packages)
    return frozenset(dependency(rel, index) for rels in index.by_key.values() for rel in rels)


def forbidden_dependencies(
    manifest: Mapping[str, Any],
    warehouse: str,
    *,
    restricted_packages: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """`depends_on` entries naming a node dbt refuses as an exposure's parent -> why."""
    index = build_index(manifest, warehouse, restricted_packages=restricted_packages)
    return {
        dependency(f.relation, index): f"{f.relation.unique_id} is {f.reason}"
        for f in index.forbidden.values()
    }


def managed_items(text: str | None) -> list[dict[str, Any]]:
    """The managed exposures as dbt's YAML reader sees them, in file order."""
    data = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    items = data.get("exposures") if isinstance(data, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and yaml_merge.marker_layout(item) is not None:
            out.append(item)
    return out


def offline_expected(
    manifest: Mapping[str, Any],
    text: str | None,
    *,
    warehouse: str,
    path: str,
    restricted_packages: frozenset[str] = frozenset(),
) -> tuple[str, list[str]]:
    """The file with each managed exposure rewritten from its own values in the tool's shape,
    keeping only dependencies the manifest knows; and a line per dependency dropped."""
    known = known_dependencies(manifest, warehouse, restricted_packages=restricted_packages)
    refused = forbidden_dependencies(manifest, warehouse, restricted_packages=restricted_packages)
    problems = []
    wanted = []
    for item in managed_items(text):
        deps = [str(d) for d in item.get("depends_on") or []]
        for dep in deps:
            if dep in refused:
                problems.append(
                    f"{path}: exposure {item.get('name')}: {dep}: {refused[dep]}, and dbt "
                    "lets no exposure depend on it"
                )
            elif dep not in known:
                problems.append(f"{path}: exposure {item.get('name')}: {dep} is not a dbt node")
        wanted.append(_from_item(item, tuple(sorted({d for d in deps if d in known}))))
    layout = meta_layout(manifest)
    return yaml_merge.merge(text, wanted, path=path, layout=layout), problems


def dbt_problems(manifest: Mapping[str, Any], text: str | None, *, path: str) -> list[str]:
    """Managed exposures dbt parsed without every dependency the file lists, or names used twice.

    `manifest` is the one dbt wrote after parsing the file; `text` is the file itself.
    """
    problems = []
    names = Counter(str(item.get("name")) for item in _all_items(text))
    for name, n in sorted(names.items()):
        if n > 1:
            problems.append(f"{path}: exposure name {name!r} is used {n} times")
    parsed = {
        str(e.get("name")): e
        for e in (manifest.get("exposures") or {}).values()
        if str(e.get("original_file_path", "")).replace("\\", "/").endswith(path.replace("\\", "/"))
    }
    nodes = {**(manifest.get("nodes") or {}), **(manifest.get("sources") or {})}
    for item in managed_items(text):
        name = str(item.get("name"))
        listed = [str(d) for d in item.get("depends_on") or []]
        exposure = parsed.get(name)
        if exposure is None:
            problems.append(f"{path}: exposure {name}: missing from dbt's manifest")
            continue
        parents = [nodes.get(uid) or {} for uid in exposure["depends_on"].get("nodes") or []]
        for dep in listed:
            if not _CALL.match(dep):
                problems.append(
                    f"{path}: exposure {name}: dbt ignored {dep!r}: not a ref(...) or source(...)"
                )
        for ref in exposure.get("refs") or []:
            if not any(_is_ref(p, ref) for p in parents):
                problems.append(
                    f"{path}: exposure {name}: dbt dropped {_ref_text(ref)}: no such model, seed or snapshot"
                )
        for source in exposure.get("sources") or []:
            if not any(_is_source(p, source) for p in parents):
                problems.append(
                    f"{path}: exposure {name}: dbt dropped source('{source[0]}', '{source[1]}'): no such source"
                )
        if len(parents) < len(set(listed)) and not any(f" {name}: " in p for p in problems):
            problems.append(
                f"{path}: exposure {name}: lists {len(set(listed))} dependencies, dbt resolved {len(parents)}"
            )
    return problems


def _is_ref(node: Mapping[str, Any], ref: Mapping[str, Any]) -> bool:
    if node.get("resource_type") not in ("model", "seed", "snapshot"):
        return False
    if node.get("name") != ref.get("name"):
        return False
    if ref.get("package") and node.get("package_name") != ref.get("package"):
        return False
    version = ref.get("version")
    return version is None or str(node.get("version")) == str(version)


def _is_source(node: Mapping[str, Any], source: list[str]) -> bool:
    return (
        node.get("resource_type") == "source"
        and node.get("source_name") == source[0]
        and node.get("name") == source[1]
    )


def _ref_text(ref: Mapping[str, Any]) -> str:
    args = [repr(str(ref.get("name")))]
    if ref.get("package"):
        args.insert(0, repr(str(ref["package"])))
    if ref.get("version") is not None:
        args.append(f"v={ref['version']}")
    return f"ref({', '.join(args)})"


def _all_items(text: str | None) -> list[dict[str, Any]]:
    data = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    items = data.get("exposures") if isinstance(data, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _from_item(item: Mapping[str, Any], depends_on: tuple[str, ...]) -> Exposure:
    """An Exposure saying what the item says, so merging it back changes only the shape."""
    owner = item.get("owner")
    owner = owner if isinstance(owner, dict) else {}
    at = ("config",) if yaml_merge.marker_layout(item) == "config" else ()
    hex_meta = _get(item, *at, "meta", "hex")
    tags = _get(item, *at, "tags")
    return Exposure(
        name=str(item.get("name")),
        label=str(item.get("label") or item.get("name")),
        type=str(item.get("type") or "dashboard"),
        maturity=item.get("maturity"),
        url=str(item.get("url") or ""),
        description=str(item.get("description") or ""),
        owner_name=owner.get("name"),
        owner_email=owner.get("email"),
        depends_on=depends_on,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else ("hex",),
        project_id=str(yaml_merge.hex_marker(item).get("project_id")),
        hex_meta=hex_meta if isinstance(hex_meta, dict) else {},
        referenced_columns=_columns_of(_get(item, *at, "meta", "referenced_columns"), depends_on),
    )


def _columns_of(value: object, depends_on: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The item's referenced_columns of nodes it still depends on, in the tool's order."""
    if not isinstance(value, list):
        return ()
    kept = [c for c in value if isinstance(c, dict) and c.get("node") in depends_on]
    return tuple(sorted(kept, key=lambda c: (str(c.get("node")), str(c.get("column_name")))))
