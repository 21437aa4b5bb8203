"""What the Hex API said last run, so a second run asks only about what changed since.

One JSON file beside the parse cache, ``<target-path>/hex_exposures_parse_cache/
hex_api_cache.json``: for each published project the (data connection id, table name) pairs
its ``queriedTables`` returned, keyed by the project's ``lastPublishedAt`` (queriedTables
describes the published version, so a new publish is the only thing that changes it), and
the data connections by id (type and default database/schema). Nothing secret goes in: ids,
timestamps and table names only. The file is tied to one API root (another workspace's URL
starts empty); a missing, corrupt or foreign file is an empty cache, never an error, and the
folder is always safe to delete.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .files import replace_quietly
from .parse_cache import DIRNAME

log = logging.getLogger(__name__)

FORMAT = 1
FILENAME = "hex_api_cache.json"

Pair = tuple[str, str]  # (dataConnectionId, tableName) as queriedTables gives them


def cache_path(project_dir: str, target_path: str) -> str:
    return os.path.join(project_dir, target_path, DIRNAME, FILENAME)


class HexApiCache:
    """queriedTables per (project id, lastPublishedAt); data connections per id."""

    def __init__(self, path: str | None, api: str) -> None:
        self.path = path
        self.api = api
        self._projects: dict[str, tuple[str, tuple[Pair, ...]]] = {}
        self._connections: dict[str, dict[str, Any]] = {}
        self._used: dict[str, tuple[str, tuple[Pair, ...]]] = {}
        self._changed = False
        if path:
            self._load(path)

    def tables(self, project_id: str, published_at: str) -> tuple[Pair, ...] | None:
        """The pairs cached for this publish of the project, or None (ask the API)."""
        hit = self._projects.get(project_id)
        if hit is None or hit[0] != published_at:
            return None
        self._used[project_id] = hit
        return hit[1]

    def put(self, project_id: str, published_at: str, pairs: Iterable[Pair]) -> None:
        entry = (published_at, tuple(sorted(set(pairs))))
        self._used[project_id] = self._projects[project_id] = entry
        self._changed = True

    @property
    def connections(self) -> Mapping[str, Mapping[str, Any]]:
        """Data connection id -> {"type", "database", "schema"} as last seen."""
        return self._connections

    def set_connections(self, connections: Mapping[str, Mapping[str, Any]]) -> None:
        new = {cid: dict(c) for cid, c in connections.items()}
        if new != self._connections:
            self._connections = new
            self._changed = True

    def save(self) -> bool:
        """Write the projects used this run (and the connections) when anything changed."""
        if not self.path or not (self._changed or set(self._used) != set(self._projects)):
            return False
        doc = {
            "format": FORMAT,
            "api": self.api,
            "connections": self._connections,
            "projects": {
                pid: {"lastPublishedAt": at, "tables": [list(p) for p in pairs]}
                for pid, (at, pairs) in sorted(self._used.items())
            },
        }
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if not replace_quietly(self.path, data, prefix=".hex_api_cache."):
            return False
        self._projects = dict(self._used)
        self._changed = False
        return True

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError) as err:
            log.debug("hex api cache: ignoring %s (%s)", path, err)
            return
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("api") != self.api:
            log.debug("hex api cache: %s is for another format or API root; ignored", path)
            return
        projects, connections = doc.get("projects"), doc.get("connections")
        if not isinstance(projects, dict) or not isinstance(connections, dict):
            return
        for pid, entry in projects.items():
            at = entry.get("lastPublishedAt") if isinstance(entry, dict) else None
            pairs = entry.get("tables") if isinstance(entry, dict) else None
            if isinstance(at, str) and isinstance(pairs, list):
                good = tuple(
                    (p[0], p[1])
                    for p in pairs
                    if isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                )
                if len(good) == len(pairs):
                    self._projects[pid] = (at, good)
        self._connections = {
            cid: c
            for cid, c in connections.items()
            if isinstance(c, dict) and isinstance(c.get("type"), str)
        }
