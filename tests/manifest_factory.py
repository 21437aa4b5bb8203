"""Small dbt manifest dicts for core tests, shaped like dbt-core 1.11's manifest.json."""

from __future__ import annotations

from typing import Any

Node = tuple[str, dict[str, Any]]


def model(
    name: str,
    *,
    package: str = "proj",
    database: str = "analytics",
    schema: str = "marts",
    alias: str | None = None,
    version: int | str | None = None,
    latest: int | str | None = None,
    materialized: str = "table",
    enabled: bool = True,
    resource_type: str = "model",
) -> Node:
    uid = f"{resource_type}.{package}.{name}" + (f".v{version}" if version is not None else "")
    if alias is None:
        alias = f"{name}_v{version}" if version is not None else name
    return uid, {
        "unique_id": uid,
        "resource_type": resource_type,
        "package_name": package,
        "name": name,
        "database": database,
        "schema": schema,
        "alias": alias,
        "version": version,
        "latest_version": latest,
        "relation_name": None if materialized == "ephemeral" else f"{database}.{schema}.{alias}",
        "config": {"materialized": materialized, "enabled": enabled},
    }


def seed(name: str, **kw: Any) -> Node:
    return model(name, resource_type="seed", materialized="seed", **kw)


def snapshot(name: str, **kw: Any) -> Node:
    return model(name, resource_type="snapshot", materialized="snapshot", **kw)


def source(
    source_name: str,
    name: str,
    *,
    package: str = "proj",
    database: str = "raw",
    schema: str | None = None,
    identifier: str | None = None,
    quoting: dict[str, bool | None] | None = None,
    enabled: bool = True,
) -> Node:
    uid = f"source.{package}.{source_name}.{name}"
    return uid, {
        "unique_id": uid,
        "resource_type": "source",
        "package_name": package,
        "source_name": source_name,
        "name": name,
        "database": database,
        "schema": schema or source_name,
        "identifier": identifier or name,
        "quoting": quoting
        or {"database": None, "schema": None, "identifier": None, "column": None},
        "config": {"enabled": enabled},
    }


def manifest(
    *items: Node,
    adapter: str = "snowflake",
    project: str = "proj",
    quoting: dict[str, bool] | None = None,
    disabled: list[Node] = (),  # type: ignore[assignment]
    schema_version: int = 12,
    exposures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "dbt_schema_version": f"https://schemas.getdbt.com/dbt/manifest/v{schema_version}.json",
        "dbt_version": "1.11.16",
        "project_name": project,
        "adapter_type": adapter,
    }
    if quoting is not None:
        meta["quoting"] = quoting
    nodes = {uid: n for uid, n in items if n["resource_type"] != "source"}
    sources = {uid: n for uid, n in items if n["resource_type"] == "source"}
    return {
        "metadata": meta,
        "nodes": nodes,
        "sources": sources,
        "exposures": exposures or {},
        "disabled": {uid: [n] for uid, n in disabled},
    }
