"""The parse cache on disk, so a second sync parses nothing it parsed before.

One sqlite3 file, ``<project>/<target-path>/hex_exposures_parse_cache/parse_cache.sqlite3``,
mapping `sql_tables.cache_key` (a hash of the text and the dialect) to the `Extraction`, and
`sql_columns.cache_key` (text, query context and schema digest) to the `Columns`.
Values are MessagePack decoded by msgspec into the record types themselves, a tag byte
telling an `Extraction` from a `Columns` (data only: a planted value cannot run code, and
one that does not fit the type is a miss); at 1x, 200K entries decode in 0.6 s against
2.3 s for the restricted unpickler of format 2, and take 59 MB instead of 91. A stamp made of the cache format, the sqlglot version, the hex-exposures version and a
digest of the extractor's source must equal ours, or the file is ignored and rewritten. A
corrupt or unreadable file is ignored too (a debug line says why), never an error: the folder
is always safe to delete.

Entries not used for `KEEP_SAVES` saves are dropped, so the file holds about one history
window's texts rather than growing forever.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator, MutableMapping
from typing import Any

import msgspec

from . import __version__, identifiers, sql_columns, sql_tables
from .records import TableRef

log = logging.getLogger(__name__)

FORMAT = 3  # 2: Extraction carries the temporary tables a text creates (issue 17); 3: msgpack
DIRNAME = "hex_exposures_parse_cache"
FILENAME = "parse_cache.sqlite3"
KEEP_SAVES = 5
_DECODERS: dict[bytes, msgspec.msgpack.Decoder[Any]] = {
    b"E": msgspec.msgpack.Decoder(sql_tables.Extraction),
    b"C": msgspec.msgpack.Decoder(sql_columns.Columns),
}
_ENCODER = msgspec.msgpack.Encoder()


@functools.cache
def stamp() -> str:
    """What an entry's meaning depends on; any change discards the cache.

    Computed once per process, so it describes the code this process runs even if the
    source files change on disk meanwhile (an editable install being edited).
    """
    import sqlglot

    digest = hashlib.sha256()
    for module in (sql_tables, sql_columns, identifiers):
        path = getattr(module, "__file__", None)
        if path:
            with contextlib.suppress(OSError), open(path, "rb") as f:
                digest.update(f.read())
    return f"{FORMAT}:{sqlglot.__version__}:{__version__}:{digest.hexdigest()[:16]}"


def cache_path(project_dir: str, target_path: str) -> str:
    return os.path.join(project_dir, target_path, DIRNAME, FILENAME)


def _encode(value: sql_tables.Extraction | sql_columns.Columns) -> bytes:
    tag = b"E" if isinstance(value, sql_tables.Extraction) else b"C"
    return tag + _ENCODER.encode(value)


def _decode(raw: bytes) -> Any:
    """The record `_encode` wrote; ValueError (or msgspec's) for anything else."""
    decoder = _DECODERS.get(raw[:1])
    if decoder is None:
        raise ValueError("not a parse cache value")
    value = decoder.decode(memoryview(raw)[1:])
    if isinstance(value, sql_columns.Columns) and value.columns:
        value = value._replace(columns=_shared(value.columns))
    return value


_TABLES: dict[TableRef, TableRef] = {}
_new = tuple.__new__


def _shared(refs: tuple[sql_columns.ColumnRef, ...]) -> tuple[sql_columns.ColumnRef, ...]:
    """The same refs, each table one object for the process: at 1x, 873K column refs name
    13.5K tables, and a TableRef of its own each made the decoded columns 334 MiB, not 122."""
    ref = sql_columns.ColumnRef
    return tuple([_new(ref, (_TABLES.setdefault(t, t), c)) for t, c in refs])


class ParseCache(MutableMapping[str, "sql_tables.Extraction"]):
    """A mapping loaded from one file and saved back by `save()`; plain dict speed between.

    Stored values stay encoded until asked for, so loading 100,000 entries costs one query.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.stamp = stamp()
        self._stored: dict[str, tuple[bytes, int]] = {}  # key -> (encoded, last save used)
        self._values: dict[str, sql_tables.Extraction] = {}  # decoded or set this run
        self._new: set[str] = set()
        self._used: set[str] = set()
        self._run = 0
        if path:
            self._load(path)

    @classmethod
    def for_project(cls, project_dir: str, target_path: str) -> ParseCache:
        return cls(cache_path(project_dir, target_path))

    # --- the mapping ----------------------------------------------------------------------

    def __getitem__(self, key: str) -> sql_tables.Extraction:
        value = self._values.get(key)
        if value is None:
            raw = self._stored[key][0]  # KeyError: a miss
            try:
                value = _decode(raw)
            except Exception as err:  # any bad entry is a miss, never an error
                log.debug("parse cache: dropping an unreadable entry (%s)", err)
                del self._stored[key]
                raise KeyError(key) from None
            self._values[key] = value
        self._used.add(key)
        return value

    def __setitem__(self, key: str, value: sql_tables.Extraction) -> None:
        self._values[key] = value
        self._new.add(key)
        self._used.add(key)

    def __delitem__(self, key: str) -> None:
        found = self._stored.pop(key, None) is not None
        found = self._values.pop(key, None) is not None or found
        self._new.discard(key)
        self._used.discard(key)
        if not found:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from self._values
        yield from (k for k in self._stored if k not in self._values)

    def __len__(self) -> int:
        return len(self._values) + sum(1 for k in self._stored if k not in self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values or key in self._stored

    # --- the file -------------------------------------------------------------------------

    def _load(self, path: str) -> None:
        if not os.path.exists(path):
            return
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
                if meta.get("stamp") != self.stamp:
                    log.debug("parse cache: %s is from another version; starting afresh", path)
                    return
                run = int(meta.get("run", "0"))
                rows = con.execute("SELECT key, value, last_run FROM entries").fetchall()
            finally:
                con.close()
        except (sqlite3.Error, ValueError, OSError) as err:
            log.debug("parse cache: ignoring %s (%s)", path, err)
            return
        self._run = run
        self._stored = {k: (v, r) for k, v, r in rows if isinstance(v, bytes)}

    def save(self) -> bool:
        """Write the file when this run parsed something new; False when nothing was written.

        The new file is built beside the old one and renamed over it, so a reader never sees
        half a cache; a failure to write is logged at debug level and otherwise ignored.
        """
        if not self.path or not self._new:
            return False
        run = self._run + 1
        rows: list[tuple[str, bytes, int]] = []
        for key in self._used:
            if key in self._new:
                rows.append((key, _encode(self._values[key]), run))
            elif key in self._stored:
                rows.append((key, self._stored[key][0], run))
        for key, (raw, last) in self._stored.items():
            if key not in self._used and last > run - KEEP_SAVES:
                rows.append((key, raw, last))
        folder = os.path.dirname(os.path.abspath(self.path))
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".parse_cache.", suffix=".tmp", dir=folder)
            os.close(fd)
            con = sqlite3.connect(tmp)
            try:
                con.execute("PRAGMA journal_mode=OFF")
                con.execute("PRAGMA synchronous=OFF")
                con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                con.execute(
                    "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB, last_run INTEGER)"
                )
                con.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [("stamp", self.stamp), ("run", str(run))]
                )
                con.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)
                con.commit()
            finally:
                con.close()
            os.replace(tmp, self.path)
            tmp = None
        except (sqlite3.Error, OSError) as err:
            log.debug("parse cache: cannot write %s (%s)", self.path, err)
            return False
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        self._run = run
        self._stored = {k: (v, r) for k, v, r in rows}
        self._new.clear()
        return True
