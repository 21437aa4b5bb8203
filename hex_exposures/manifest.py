"""An index of the warehouse relations a dbt manifest declares, keyed the warehouse's way.

Keys come from the manifest's separate `database`/`schema`/`alias|identifier` fields (never
from splitting `relation_name`, whose quoted parts may hold dots), normalised by the
warehouse's case rule with the project's or source's quoting flags.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, NamedTuple

from .errors import ManifestError
from .identifiers import normalize, rule_for
from .records import MetaLayout, Relation, TableRef

SUPPORTED_SCHEMAS = (10, 11, 12, 20)
_SCHEMA_RE = re.compile(r"/manifest/v(\d+)\.json")
_RELATION_TYPES = ("model", "seed", "snapshot")
# SPEC: prefer the root project's model, then seed/snapshot, then source.
_RANK = {"model": 0, "seed": 1, "snapshot": 1, "source": 2}


class Forbidden(NamedTuple):
    """A relation dbt will not let an exposure of the root project reference."""

    relation: Relation
    reason: str  # "private to the 'finance' group", ...
    group: str | None


class ManifestIndex(NamedTuple):
    warehouse: str
    project_name: str
    by_key: Mapping[TableRef, tuple[Relation, ...]]  # best candidate first
    by_schema_name: Mapping[tuple[str, str], tuple[TableRef, ...]]
    by_name: Mapping[str, tuple[TableRef, ...]]
    excluded: Mapping[TableRef, str]  # relations dbt will not let an exposure use, and why
    ambiguous_names: frozenset[str]  # ref names defined in more than one package
    databases: tuple[str, ...]  # as written in the manifest (BigQuery's default projects)
    exposure_names: Mapping[str, str]  # name -> original_file_path, for every exposure
    # Relations dbt refuses as an exposure's dependency (private, restricted protected): by key.
    forbidden: Mapping[TableRef, Forbidden] = {}
    # Ephemeral and disabled nodes by the relation they would be, so `report` can say a table
    # matches one (issue 17); never targets. By name too, for partly qualified reads.
    inactive: Mapping[TableRef, Inactive] = {}
    inactive_by_name: Mapping[str, tuple[TableRef, ...]] = {}


class Inactive(NamedTuple):
    """A node that names a relation dbt does not build or will not resolve."""

    unique_id: str
    state: str  # "ephemeral" | "disabled"


def _mapping(value: object) -> Mapping[str, Any]:
    """A JSON object, or an empty one for anything else (hand-edited or damaged files)."""
    return value if isinstance(value, Mapping) else {}


def schema_version(manifest: Mapping[str, Any]) -> int | None:
    url = _mapping(manifest.get("metadata")).get("dbt_schema_version") or ""
    m = _SCHEMA_RE.search(str(url))
    return int(m.group(1)) if m else None


def adapter_type(manifest: Mapping[str, Any]) -> str | None:
    value = _mapping(manifest.get("metadata")).get("adapter_type")
    return str(value) if value else None


def dbt_version(manifest: Mapping[str, Any]) -> tuple[int, int] | None:
    """(major, minor) of the dbt-core that wrote the manifest (`metadata.dbt_version`)."""
    m = re.match(
        r"\s*(\d+)\.(\d+)", str(_mapping(manifest.get("metadata")).get("dbt_version") or "")
    )
    return (int(m.group(1)), int(m.group(2))) if m else None


def meta_layout(manifest: Mapping[str, Any]) -> MetaLayout:
    """Where the project's dbt reads an exposure's tags and meta: top-level before 1.10, under
    `config:` from 1.10 on (and when the manifest does not say)."""
    version = dbt_version(manifest)
    return "top" if version is not None and version < (1, 10) else "config"


def check_shape(manifest: object, *, path: str) -> Mapping[str, Any]:
    """Refuse what is not a dbt manifest we understand, naming the file and the problem."""
    hint = "run `dbt parse` in the project, or pass --parse"
    if not isinstance(manifest, Mapping):
        raise ManifestError(f"{path}: not a dbt manifest (top level is not an object); {hint}")
    version = schema_version(manifest)
    if version is None:
        raise ManifestError(f"{path}: not a dbt manifest (no metadata.dbt_schema_version); {hint}")
    if version not in SUPPORTED_SCHEMAS:
        raise ManifestError(
            f"{path}: manifest schema v{version} is not supported (v10-v12 and v20 are, from "
            f"dbt-core 1.6 on); {hint} with a newer dbt-core"
        )
    for key in ("nodes", "sources"):
        if not isinstance(manifest.get(key), Mapping):
            raise ManifestError(f"{path}: manifest field '{key}' is missing or not an object")
    return manifest


def build_index(
    manifest: Mapping[str, Any],
    warehouse: str,
    *,
    restricted_packages: frozenset[str] = frozenset(),
) -> ManifestIndex:
    """`restricted_packages`: installed packages with `restrict-access: true`, whose
    protected models only their own package may reference (not in the manifest: the CLI
    reads it from the packages' dbt_project.yml)."""
    rule = rule_for(warehouse)
    meta = _mapping(manifest.get("metadata"))
    project_quoting = _quoting(meta.get("quoting"), default=rule.default_quoting)
    candidates: dict[TableRef, list[Relation]] = defaultdict(list)
    excluded: dict[TableRef, str] = {}
    packages_by_name: dict[str, set[str]] = defaultdict(set)
    databases: dict[str, None] = {}
    forbidden: dict[TableRef, Forbidden] = {}
    inactive: dict[TableRef, Inactive] = {}
    root = str(meta.get("project_name") or "")

    for uid, node in (manifest.get("nodes") or {}).items():
        if not isinstance(node, Mapping) or node.get("resource_type") not in _RELATION_TYPES:
            continue
        config = _mapping(node.get("config"))
        package = str(node.get("package_name") or "")
        name = str(node.get("name") or "")
        packages_by_name[name].add(package)
        alias = node.get("alias") or name
        key = _key(node.get("database"), node.get("schema"), alias, project_quoting, warehouse)
        if key is None:
            continue
        if config.get("materialized") == "ephemeral":
            # an ephemeral model is a CTE inside its children, never a relation
            inactive.setdefault(key, Inactive(str(uid), "ephemeral"))
            continue
        if config.get("enabled") is False:
            excluded.setdefault(key, f"{uid} is disabled")
            inactive.setdefault(key, Inactive(str(uid), "disabled"))
            continue
        version = node.get("version")
        latest = node.get("latest_version")
        relation = Relation(
            unique_id=str(uid),
            resource_type=str(node["resource_type"]),
            package=package,
            name=name,
            source_name=None,
            version=None if version is None else str(version),
            latest_version=None if latest is None else str(latest),
            key=key,
        )
        why = _forbidden(node, package, root, restricted_packages)
        if why is not None:
            # dbt parse fails on an exposure that refs it (measured on dbt 1.8-1.11).
            forbidden.setdefault(key, Forbidden(relation, why, _text(node.get("group"))))
            excluded.setdefault(key, f"{uid} is {why}: dbt lets no exposure depend on it")
            continue
        candidates[key].append(relation)
        if node.get("database"):
            databases.setdefault(str(node["database"]))

    for uid, src in (manifest.get("sources") or {}).items():
        if not isinstance(src, Mapping):
            continue
        quoting = _quoting(src.get("quoting"), default=None, fallback=project_quoting)
        ident = src.get("identifier") or src.get("name")
        key = _key(src.get("database"), src.get("schema"), ident, quoting, warehouse)
        if key is None:
            continue
        if _mapping(src.get("config")).get("enabled") is False:
            excluded.setdefault(key, f"{uid} is disabled")
            inactive.setdefault(key, Inactive(str(uid), "disabled"))
            continue
        candidates[key].append(
            Relation(
                unique_id=str(uid),
                resource_type="source",
                package=str(src.get("package_name") or ""),
                name=str(src.get("name") or ""),
                source_name=str(src.get("source_name") or ""),
                version=None,
                latest_version=None,
                key=key,
            )
        )
        if src.get("database"):
            databases.setdefault(str(src["database"]))

    for disabled in _mapping(manifest.get("disabled")).values():
        for node in disabled if isinstance(disabled, list) else []:
            if not isinstance(node, Mapping):
                continue
            ident = node.get("identifier") if node.get("resource_type") == "source" else None
            ident = ident or node.get("alias") or node.get("name")
            key = _key(node.get("database"), node.get("schema"), ident, project_quoting, warehouse)
            if key is not None and node.get("resource_type") in (*_RELATION_TYPES, "source"):
                excluded.setdefault(key, f"{node.get('unique_id', '?')} is disabled")
                inactive.setdefault(key, Inactive(str(node.get("unique_id", "?")), "disabled"))

    root = root or _guess_root(candidates)
    by_key = {
        key: tuple(
            sorted(rels, key=lambda r: (_RANK[r.resource_type], r.package != root, r.unique_id))
        )
        for key, rels in candidates.items()
    }
    by_schema_name: dict[tuple[str, str], list[TableRef]] = defaultdict(list)
    by_name: dict[str, list[TableRef]] = defaultdict(list)
    for key in by_key:
        if key.schema is not None:
            by_schema_name[(key.schema, key.name)].append(key)
        by_name[key.name].append(key)
    exposures = {
        str(e.get("name")): str(e.get("original_file_path") or "")
        for e in _mapping(manifest.get("exposures")).values()
        if isinstance(e, Mapping)
    }
    return ManifestIndex(
        warehouse=warehouse,
        project_name=root,
        by_key=by_key,
        by_schema_name={k: tuple(v) for k, v in by_schema_name.items()},
        by_name={k: tuple(v) for k, v in by_name.items()},
        excluded={k: v for k, v in excluded.items() if k not in by_key},
        ambiguous_names=frozenset(n for n, pk in packages_by_name.items() if len(pk) > 1),
        databases=tuple(databases),
        exposure_names=exposures,
        forbidden={k: v for k, v in forbidden.items() if k not in by_key},
        inactive=inactive,
        inactive_by_name=_by_name(inactive),
    )


def _by_name(inactive: Mapping[TableRef, Inactive]) -> dict[str, tuple[TableRef, ...]]:
    out: dict[str, list[TableRef]] = defaultdict(list)
    for key in inactive:
        out[key.name].append(key)
    return {k: tuple(v) for k, v in out.items()}


def _text(value: object) -> str | None:
    return str(value) if value else None


def _forbidden(
    node: Mapping[str, Any], package: str, root: str, restricted: frozenset[str]
) -> str | None:
    """Why dbt refuses this model as a dependency of an exposure in the root project, if it
    does: a private model (exposures belong to no group), or a protected model of a package
    that restricts access to itself."""
    if node.get("resource_type") != "model":
        return None
    access = node.get("access") or "protected"
    if access == "private":
        return f"private to the '{node.get('group') or ''}' group"
    if access == "protected" and package in restricted and package != root:
        return f"protected to the '{package}' package (restrict-access)"
    return None


def _guess_root(candidates: Mapping[TableRef, list[Relation]]) -> str:
    for rels in candidates.values():
        for rel in rels:
            return rel.package
    return ""


def _quoting(
    value: object, *, default: bool | None, fallback: tuple[bool, bool, bool] | None = None
) -> tuple[bool, bool, bool]:
    """(database, schema, identifier) quoting flags; a null flag falls back."""
    value = value if isinstance(value, Mapping) else {}
    out = []
    for i, part in enumerate(("database", "schema", "identifier")):
        flag = value.get(part)
        if flag is None:
            flag = fallback[i] if fallback is not None else default
        out.append(bool(flag))
    return out[0], out[1], out[2]


def _key(
    database: object, schema: object, name: object, quoting: tuple[bool, bool, bool], warehouse: str
) -> TableRef | None:
    if not name or not isinstance(name, str):
        return None
    db = normalize(str(database), quoted=quoting[0], warehouse=warehouse) if database else None
    sc = normalize(str(schema), quoted=quoting[1], warehouse=warehouse) if schema else None
    return TableRef(db, sc, normalize(name, quoted=quoting[2], warehouse=warehouse))
