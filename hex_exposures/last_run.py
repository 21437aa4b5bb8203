"""The last run's answer, so a run whose inputs are those of the last one reads none of them.

Beside the parse cache, ``<target-path>/hex_exposures_parse_cache/last_run.pickle`` holds an
entry per recent set of settings (`KEEP`): a digest of everything a `--from-snapshot` run reads (this code and the versions of
what it runs on, the settings, the snapshot, manifest and catalog bytes, the project paths
and restricted packages), the digest of the exposures file the answer was worked out
against, and the answer (`pipeline.RunResult`, its text left out: on a hit the file already
holds it). Any input that differs by a byte is a miss, and the run reads everything.

Big inputs are recognised by their content digest (sha256), or, when the file's stat
signature (device, inode, size, mtime and ctime to the nanosecond) is the one recorded and
was already settled then (its ctime over `SETTLED` seconds before the entry was written, so
a rewrite within the same clock tick cannot pass for it), without reading them: ctime
changes with every write and cannot be set back.

The file is MessagePack read by msgspec into the record types themselves (data only: a planted
file cannot run code, and one that does not fit the types is refused); an unreadable or
foreign file is a miss (debug line), never an error. Only the matching entry's result is
decoded: 1.0 s for 20,000 projects and 18,582 exposures with their columns (pickle: 1.7 s).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib.metadata
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import msgspec

from . import __version__
from .bulk import gc_paused
from .pipeline import RunResult

log = logging.getLogger(__name__)

FORMAT = 2
FILENAME = "last_run.msgpack"
KEEP = 2  # entries: sync and check (other settings) each keep theirs
SETTLED = 2.0  # seconds: a file changed more recently than this is always read and digested
_DEPENDENCIES = ("sqlglot", "PyYAML", "ruamel.yaml", "msgspec")


@functools.cache
def code_stamp() -> str:
    """This package's source and the versions it runs on: any change is a miss."""
    digest = hashlib.sha256(f"{FORMAT}:{__version__}:{sys.version}".encode())
    for name in _DEPENDENCIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            digest.update(f"{name}={importlib.metadata.version(name)};".encode())
    root = os.path.dirname(os.path.abspath(__file__))
    for folder, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(n for n in names if n.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode())
            with contextlib.suppress(OSError), open(path, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


class Seen(NamedTuple):
    """One input file as it was read: its stat signature and content digest."""

    signature: tuple[int, ...] | None  # None: the file does not exist
    digest: str | None


class _Entry(NamedTuple):
    key: str
    files: dict[str, Seen]
    written_at: int  # time.time_ns() when remembered
    existing: str  # sha256 of the exposures file the result was worked out against
    result: msgspec.Raw  # a RunResult, decoded only when it is the one asked for


class _File(NamedTuple):
    format: int
    entries: list[_Entry]  # newest first


_FILE = msgspec.msgpack.Decoder(_File)
_RESULT = msgspec.msgpack.Decoder(RunResult)
_ENCODER = msgspec.msgpack.Encoder()


def _signature(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def text_digest(text: str | None) -> str | None:
    """The digest `files.read_existing` gives the bytes of `text` (the exposures file)."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class LastRun:
    """The memo file: `look_up` on the way in, `remember` on the way out."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._entries: list[_Entry] = []  # newest first
        try:
            with open(path, "rb") as f:
                raw = f.read()
            if raw:
                memo = _FILE.decode(raw)
                if memo.format == FORMAT:
                    self._entries = memo.entries[:KEEP]
        except FileNotFoundError:
            pass
        except Exception as err:  # any damage is a miss, never an error
            log.debug("%s: ignored (%s)", path, err)

    def seen(self, paths: Iterable[str]) -> dict[str, Seen]:
        """Each input file as it is now: its digest read only when its signature changed."""
        out = {}
        for path in paths:
            signature = _signature(path)
            before = self._settled(path, signature)
            if before is None:
                before = Seen(signature, _file_digest(path) if signature else None)
            out[path] = before
        return out

    def _settled(self, path: str, signature: tuple[int, ...] | None) -> Seen | None:
        if signature is None:
            return None
        for entry in self._entries:
            before = entry.files.get(path)
            if (
                before is not None
                and before.signature == signature
                and signature[4] < entry.written_at - int(SETTLED * 1e9)
            ):
                return before
        return None

    def look_up(
        self, key: str, existing: str | None, digest: str | None = None
    ) -> RunResult | None:
        """The last answer when `key` and the exposures file are those it was worked out for.

        `digest`: the file's sha256 when the caller has it (`files.Existing.digest`)."""
        if existing is None:
            return None  # an answer is remembered only against the file that holds it
        digest = digest or text_digest(existing)
        for entry in self._entries:
            if entry.key != key or entry.existing != digest:
                continue
            try:
                with gc_paused():  # a million small records, no cycles
                    result = _RESULT.decode(entry.result)
                    gc.freeze()  # and kept to the end: later collections skip them
            except (msgspec.DecodeError, msgspec.ValidationError) as err:
                log.debug("%s: ignored (%s)", self.path, err)
                return None
            self._entries = []  # the file's bytes are no longer needed
            return result._replace(text=existing)
        return None

    def remember(
        self, key: str, files: Mapping[str, Seen], existing: str, result: RunResult
    ) -> None:
        """Keep `result` as the answer for `key` against the file holding `existing`."""
        entry = _Entry(
            key=key,
            files=dict(files),
            written_at=time.time_ns(),
            existing=text_digest(existing) or "",
            result=msgspec.Raw(_ENCODER.encode(result._replace(text=""))),
        )
        others = [e for e in self._entries if e.key != key]
        self._entries = [entry, *others][:KEEP]
        folder = os.path.dirname(os.path.abspath(self.path))
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".last_run.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(_ENCODER.encode(_File(FORMAT, self._entries)))
            os.replace(tmp, self.path)
            tmp = None
        except (OSError, msgspec.EncodeError) as err:
            log.debug("%s: cannot write (%s)", self.path, err)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def run_key(parts: Mapping[str, Any], files: Mapping[str, Seen]) -> str:
    """One digest of the code, the settings and paths (`parts`) and the input files' contents."""
    digest = hashlib.sha256(code_stamp().encode())
    for name in sorted(parts):
        digest.update(f"\0{name}={parts[name]!r}".encode("utf-8", "surrogatepass"))
    for path in sorted(files):
        digest.update(f"\1{path}={files[path].digest}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
