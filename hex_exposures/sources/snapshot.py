"""The offline snapshot: Hex projects and grouped Hex queries in one JSON file, no secrets.

`snapshot` writes it from live sources; `--from-snapshot` reads it instead of the network,
so CI and pre-commit run without credentials.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..bulk import json_from_bytes
from ..errors import SnapshotError
from ..records import WAREHOUSES, HexProject, HexQuery

FORMAT = "hex-exposures-snapshot"
VERSION = 1


class Snapshot(NamedTuple):
    projects: tuple[HexProject, ...]
    queries: tuple[HexQuery, ...]
    warehouse: str | None
    workspace: str | None
    hex_url: str | None
    captured_at: str | None


def load(path: str) -> Snapshot:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        data = json_from_bytes(raw)
        del raw
    except FileNotFoundError:
        raise SnapshotError(f"--from-snapshot: {path}: no such file") from None
    except OSError as err:
        raise SnapshotError(f"--from-snapshot: {path}: cannot read ({err.strerror})") from err
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise SnapshotError(
            f"{path}: not a snapshot: invalid JSON ({str(err).splitlines()[0]})"
        ) from None
    return parse(data, path=path)


def parse(data: object, *, path: str) -> Snapshot:
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise SnapshotError(f'{path}: not a hex-exposures snapshot (expected "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise SnapshotError(
            f"{path}: snapshot version {data.get('version')!r} is not supported (expected {VERSION})"
        )
    warehouse = data.get("warehouse")
    if warehouse is not None and warehouse not in WAREHOUSES:
        raise SnapshotError(f"{path}: field 'warehouse' must be one of {', '.join(WAREHOUSES)}")
    raw_projects = data.get("projects")
    raw_queries = data.get("queries")
    if not isinstance(raw_projects, list) or not isinstance(raw_queries, list):
        raise SnapshotError(f"{path}: fields 'projects' and 'queries' must be lists")
    projects = []
    for i, item in enumerate(raw_projects):
        try:
            projects.append(HexProject.from_api(item if isinstance(item, Mapping) else {}))
        except ValueError as err:
            raise SnapshotError(f"{path}: projects[{i}]: {err}") from None
    queries = [_query(item, f"{path}: queries[{i}]") for i, item in enumerate(raw_queries)]
    return Snapshot(
        projects=tuple(projects),
        queries=tuple(queries),
        warehouse=warehouse,
        workspace=_opt_str(data.get("workspace")),
        hex_url=_opt_str(data.get("hex_url")),
        captured_at=_opt_str(data.get("captured_at")),
    )


def _query(item: object, where: str) -> HexQuery:
    if not isinstance(item, Mapping):
        raise SnapshotError(f"{where}: expected an object")
    text = item.get("query_text", "")
    pid = item.get("project_id", "")
    if not isinstance(text, str) or not isinstance(pid, str):
        raise SnapshotError(f"{where}: 'project_id' and 'query_text' must be strings")
    runs = item.get("run_count", 1)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 0:
        raise SnapshotError(f"{where}: 'run_count' must be a whole number")
    return HexQuery(
        project_id=pid,
        query_text=text,
        database=_opt_str(item.get("database")),
        schema=_opt_str(item.get("schema")),
        run_count=runs,
        last_seen=_opt_str(item.get("last_seen")),
        tables=_str_list(item.get("tables"), f"{where}: 'tables'"),
        fallback_tables=_str_list(item.get("fallback_tables"), f"{where}: 'fallback_tables'"),
        columns=_str_list(item.get("columns"), f"{where}: 'columns'"),
    )


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SnapshotError(f"{where} must be a list of strings")
    return tuple(value)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def dumps(
    projects: Sequence[HexProject],
    queries: Sequence[HexQuery],
    *,
    warehouse: str,
    workspace: str | None,
    hex_url: str,
    captured_at: str,
) -> str:
    """The snapshot document. Only what the sources returned goes in: never a credential."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "captured_at": captured_at,
        "hex_url": hex_url,
        "workspace": workspace,
        "warehouse": warehouse,
        "projects": [dict(p.raw) for p in sorted(projects, key=lambda p: p.id)],
        "queries": [
            {
                "project_id": q.project_id,
                "query_text": q.query_text,
                "database": q.database,
                "schema": q.schema,
                "run_count": q.run_count,
                "last_seen": q.last_seen,
                "tables": list(q.tables),
                **({"fallback_tables": list(q.fallback_tables)} if q.fallback_tables else {}),
                **({"columns": list(q.columns)} if q.columns else {}),
            }
            for q in sorted(
                queries,
                key=lambda q: (q.project_id, q.query_text, q.database or "", q.schema or ""),
            )
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
