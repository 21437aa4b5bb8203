"""The offline snapshot: Hex projects and grouped Hex queries in one file, no secrets.

`snapshot` writes it from live sources; `--from-snapshot` reads it instead of the network,
so CI and pre-commit run without credentials.

Version 2 (written) is JSON Lines: a header object on the first line, then one
``{"project": {...}}`` or ``{"query": {...}}`` object a line. It is read as a stream, each
record built as its line is read, so a 371 MB snapshot never sits in memory as one document
(version 1, one JSON document, needed +1.9 GiB to load). Version 1 is still read.

Optional fields (issue 17): a query record's ``warehouse_user`` (who ran it, for
--hex-user and report) and the header's ``hex_users`` (the users a capture was limited to,
for --from-snapshot --hex-user auto). Files without them still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, NamedTuple

from .. import hex_comment, safety
from ..bulk import gc_paused, json_from_bytes, loads
from ..errors import SnapshotError
from ..records import WAREHOUSES, HexProject, HexQuery, user_key

FORMAT = "hex-exposures-snapshot"
VERSION = 2
"""The version `dumps` writes; `load` reads 1 and 2."""


class Snapshot(NamedTuple):
    projects: tuple[HexProject, ...]
    queries: tuple[HexQuery, ...]
    warehouse: str | None
    workspace: str | None
    hex_url: str | None
    captured_at: str | None
    # The --hex-user names the capture was limited to (`auto` resolved); None: every user.
    hex_users: tuple[str, ...] | None = None


def load(path: str) -> Snapshot:
    try:
        with open(path, "rb") as f:
            first = f.readline()
            header = _try_header(first)
            if header is not None and header.get("version") == 2:
                return _parse_v2(header, f, path=path)
            if header is not None:  # a whole version-1 document on one line
                return parse(header, path=path)
            raw = first + f.read()
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


def _try_header(line: bytes) -> Mapping[str, Any] | None:
    """The first line as an object, or None when it is not one (version 1 starts with "{")."""
    try:
        value = loads(line.removeprefix(b"\xef\xbb\xbf"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, Mapping) else None


class _Header(NamedTuple):
    warehouse: str | None
    workspace: str | None
    hex_url: str | None
    captured_at: str | None
    hex_users: tuple[str, ...] | None


def _check_header(data: object, *, path: str, version: int | None = None) -> _Header:
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise SnapshotError(f'{path}: not a hex-exposures snapshot (expected "format": "{FORMAT}")')
    if data.get("version") not in (1, 2) or (version and data.get("version") != version):
        raise SnapshotError(
            f"{path}: snapshot version {data.get('version')!r} is not supported"
            + (f" here (expected {version})" if version else " (expected 1 or 2)")
        )
    warehouse = data.get("warehouse")
    if warehouse is not None and warehouse not in WAREHOUSES:
        raise SnapshotError(f"{path}: field 'warehouse' must be one of {', '.join(WAREHOUSES)}")
    users = data.get("hex_users")
    return _Header(
        warehouse=warehouse,
        workspace=_opt_str(data.get("workspace")),
        hex_url=_hex_url(data.get("hex_url"), path),
        captured_at=_opt_str(data.get("captured_at")),
        hex_users=None if users is None else _str_list(users, f"{path}: field 'hex_users'"),
    )


def parse(data: object, *, path: str) -> Snapshot:
    """A version-1 document (one JSON object holding both lists)."""
    header = _check_header(data, path=path, version=1)
    assert isinstance(data, Mapping)  # _check_header refused anything else
    raw_projects = data.get("projects")
    raw_queries = data.get("queries")
    if not isinstance(raw_projects, list) or not isinstance(raw_queries, list):
        raise SnapshotError(f"{path}: fields 'projects' and 'queries' must be lists")
    projects = [_project(item, f"{path}: projects[{i}]") for i, item in enumerate(raw_projects)]
    queries = [
        q
        for q in (_query(item, f"{path}: queries[{i}]") for i, item in enumerate(raw_queries))
        if _kept(q)
    ]
    return Snapshot(tuple(projects), tuple(queries), *header)


def parse_lines(lines: Iterable[bytes], *, path: str) -> Snapshot:
    """A version-2 document given as its lines (the first is the header)."""
    it = iter(lines)
    first = next(it, b"")
    header = _try_header(first)
    if header is None:
        raise SnapshotError(
            f"{path}:1: not a hex-exposures snapshot header (expected a JSON object)"
        )
    return _parse_v2(header, it, path=path)


def _parse_v2(
    header: Mapping[str, Any], rest: Iterable[bytes] | IO[bytes], *, path: str
) -> Snapshot:
    head = _check_header(header, path=f"{path}:1", version=2)
    projects: list[HexProject] = []
    queries: list[HexQuery] = []
    with gc_paused():  # a million small objects and no cycles (bulk.py)
        for lineno, item in _records(rest, path):
            where = f"{path}:{lineno}"
            if "query" in item and len(item) == 1:
                query = _query(item["query"], where)
                if _kept(query):
                    queries.append(query)
            elif "project" in item and len(item) == 1:
                projects.append(_project(item["project"], where))
            else:
                raise SnapshotError(
                    f'{where}: expected {{"project": {{...}}}} or {{"query": {{...}}}}'
                )
    return Snapshot(tuple(projects), tuple(queries), *head)


def _records(lines: Iterable[bytes], path: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for lineno, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            item = loads(line)
        except (ValueError, RecursionError) as err:
            raise SnapshotError(
                f"{path}:{lineno}: invalid JSON ({str(err).splitlines()[0]})"
            ) from None
        if not isinstance(item, Mapping):
            raise SnapshotError(f"{path}:{lineno}: expected a JSON object")
        yield lineno, item


def _project(item: object, where: str) -> HexProject:
    try:
        return HexProject.from_api(item if isinstance(item, Mapping) else {})
    except ValueError as err:
        raise SnapshotError(f"{where}: {err}") from None


def for_users(snap: Snapshot, users: Sequence[str], *, path: str, warehouse: str) -> Snapshot:
    """Only the queries these warehouse users ran, compared as the live SQL compares them.

    A record without a user cannot be shown to be Hex's user's and goes; a snapshot with no
    user at all (written before records carried one) is refused, not read as empty.
    Table-only records (Hex queriedTables) are not warehouse rows and stay.
    """
    if not users:
        return snap
    if not any(q.warehouse_user for q in snap.queries if q.query_text):
        raise SnapshotError(
            f"--hex-user: {path} records no warehouse users (written before hex-exposures "
            "recorded them); capture it again with `hex-exposures snapshot -o`"
        )
    wanted = {user_key(u, warehouse) for u in users}
    kept = tuple(
        q
        for q in snap.queries
        if not q.query_text
        or (q.warehouse_user is not None and user_key(q.warehouse_user, warehouse) in wanted)
    )
    return snap._replace(queries=kept)


def _kept(query: HexQuery) -> bool:
    """The live filters' rule on saved history: a text whose Hex comment is not its last
    line is not Hex's, so a snapshot run neither reads nor counts it, as a live one would not.
    Table-only records (Hex queriedTables: no text) always stay."""
    return not query.query_text or hex_comment.on_last_line(query.query_text)


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
        warehouse_user=_opt_str(item.get("warehouse_user")),
    )


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SnapshotError(f"{where} must be a list of strings")
    return tuple(value)


def _hex_url(value: object, path: str) -> str | None:
    """The snapshot's hex_url ends up in every exposure's url: a plain host and path only."""
    text = _opt_str(value)
    if text is not None:
        try:
            safety.link_base(text)
        except ValueError:
            raise SnapshotError(f"{path}: field 'hex_url' is not a Hex URL") from None
    return text


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
    hex_users: Sequence[str] | None = None,
) -> str:
    """The snapshot (version 2). Only what the sources returned goes in: never a credential."""
    return "".join(
        dump_lines(
            projects,
            queries,
            warehouse=warehouse,
            workspace=workspace,
            hex_url=hex_url,
            captured_at=captured_at,
            hex_users=hex_users,
        )
    )


def dump_lines(
    projects: Sequence[HexProject],
    queries: Sequence[HexQuery],
    *,
    warehouse: str,
    workspace: str | None,
    hex_url: str,
    captured_at: str,
    hex_users: Sequence[str] | None = None,
) -> Iterator[str]:
    """The lines of a version-2 snapshot: header, projects by id, then queries in order."""
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "captured_at": captured_at,
        "hex_url": hex_url,
        "workspace": workspace,
        "warehouse": warehouse,
    }
    if hex_users:
        header["hex_users"] = list(hex_users)
    yield _line(header)
    for p in sorted(projects, key=lambda p: p.id):
        yield _line({"project": dict(p.raw)})
    for q in sorted(
        queries,
        key=lambda q: (
            q.project_id,
            q.query_text,
            q.database or "",
            q.schema or "",
            q.warehouse_user or "",
        ),
    ):
        record: dict[str, Any] = {
            "project_id": q.project_id,
            "query_text": q.query_text,
            "database": q.database,
            "schema": q.schema,
            "run_count": q.run_count,
            "last_seen": q.last_seen,
            "tables": list(q.tables),
        }
        if q.fallback_tables:
            record["fallback_tables"] = list(q.fallback_tables)
        if q.columns:
            record["columns"] = list(q.columns)
        if q.warehouse_user:
            record["warehouse_user"] = q.warehouse_user
        yield _line({"query": record})


def _line(value: object) -> str:
    """One JSON value on one line: JSON escapes every newline inside strings."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"
