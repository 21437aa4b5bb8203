"""The last run's answer, so a run whose inputs are those of the last one reads none of them.

Beside the parse cache, ``<target-path>/hex_exposures_parse_cache/last_run.msgpack`` is a
small index with an entry per recent set of settings (`KEEP`): a digest of everything a
`--from-snapshot` run reads (this code and the versions of what it runs on, the settings,
the snapshot, manifest and catalog bytes, the project paths and restricted packages), the
digest of the exposures file the answer was worked out against, and what `sync` and `check`
print on a hit (warehouse, warnings, renames, the summary line). The rest of the answer
(`pipeline.RunResult` without its text: on a hit the file already holds it) lies in two
files per entry, ``last_run.<id>.report`` and ``last_run.<id>.exposures``, read only by a
command that shows them (`report`, `sync --table`): a hit of `sync` or `check` reads
kilobytes and imports neither sqlglot nor the YAML code. Any input that differs by a byte
is a miss, and the run reads everything.

Big inputs are recognised by their content digest (sha256, streamed), or, when the file's
stat signature (device, inode, size, mtime and ctime to the nanosecond) is the one recorded
and was already settled then (its ctime over `SETTLED` seconds before the entry was
written, so a rewrite within the same clock tick cannot pass for it), without reading
them: ctime changes with every write and cannot be set back.

The files are MessagePack read by msgspec into the record types themselves (data only: a
planted file cannot run code, and one that does not fit the types is refused); an
unreadable or foreign file is a miss (debug line), never an error.
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
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from . import __version__
from .bulk import gc_paused
from .records import Exposure

if TYPE_CHECKING:
    from .pipeline import Report, RunResult

log = logging.getLogger(__name__)

FORMAT = 3  # 3: a small index, the answer's bodies in files of their own
DIRNAME = "hex_exposures_parse_cache"  # parse_cache.DIRNAME: the memo lies beside the cache
FILENAME = "last_run.msgpack"
KEEP = 2  # entries: two sets of settings (say, with and without --no-columns) keep theirs
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


class Head(NamedTuple):
    """What `sync` and `check` print from a remembered answer: all a hit of theirs reads."""

    warehouse: str
    workspace: str | None
    warnings: tuple[str, ...]
    renamed: tuple[str, ...]  # `Report.renamed`
    summary: str  # `report.summary_line` of the report


class _Entry(NamedTuple):
    key: str
    files: dict[str, Seen]
    written_at: int  # time.time_ns() when remembered
    existing: str  # sha256 of the exposures file the result was worked out against
    head: Head
    body: str  # the bodies' id: last_run.<body>.report and last_run.<body>.exposures


class _File(NamedTuple):
    format: int
    entries: list[_Entry]  # newest first


_FILE = msgspec.msgpack.Decoder(_File)
_EXPOSURES = msgspec.msgpack.Decoder(tuple[str, tuple[Exposure, ...]])
_ENCODER = msgspec.msgpack.Encoder()
_PARTS = ("report", "exposures")


class BodyError(Exception):
    """A remembered body that is missing, damaged or not the entry's (the caller runs)."""


class Hit:
    """The last answer: its head at once, the report and exposures read when first asked for.

    Quacks like `pipeline.RunResult` (`text`, `exposures`, `report`, `warehouse`,
    `warnings`); `text` is the exposures file, read only if asked for (on a hit it already
    holds the answer's text)."""

    def __init__(self, folder: str, entry: _Entry, output: str) -> None:
        self._folder, self._entry, self._output = folder, entry, output
        self.head = entry.head
        self.digest = entry.existing  # of the exposures file, which holds the answer
        self.warehouse = entry.head.warehouse
        self.warnings = entry.head.warnings

    def _body(self, part: str, decoder: msgspec.msgpack.Decoder[Any]) -> Any:
        path = _body_path(self._folder, self._entry.body, part)
        try:
            with open(path, "rb") as f:
                raw = f.read()
            with gc_paused():  # a million small records, no cycles
                body, value = decoder.decode(raw)
                gc.freeze()  # and kept to the end: later collections skip them
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
            raise BodyError(f"{path}: {err}") from err
        if body != self._entry.body:
            raise BodyError(f"{path}: another entry's")
        return value

    @functools.cached_property
    def report(self) -> Report:
        return self._body("report", _report_decoder())

    @functools.cached_property
    def exposures(self) -> tuple[Exposure, ...]:
        return self._body("exposures", _EXPOSURES)

    @functools.cached_property
    def text(self) -> str:
        from .files import read_existing

        return read_existing(self._output).text or ""

    def result(self) -> RunResult:
        """The whole answer, every part read."""
        from .pipeline import RunResult

        return RunResult(self.text, self.exposures, self.report, self.warehouse, self.warnings)

    def load(self, parts: Iterable[str]) -> None:
        """Read `parts` ("report", "exposures") now; `BodyError` if one cannot be read."""
        for part in parts:
            getattr(self, part)


@functools.cache
def _report_decoder() -> msgspec.msgpack.Decoder[Any]:
    from .pipeline import Report  # sqlglot and the rest: only for a command that shows it

    return msgspec.msgpack.Decoder(tuple[str, Report])


def _body_path(folder: str, body: str, part: str) -> str:
    return os.path.join(folder, f"last_run.{body}.{part}")


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
    """The memo: `look_up` on the way in, `remember` on the way out."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.folder = os.path.dirname(os.path.abspath(path))
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
        self, key: str, output: str, *, digest: str | None = None, needs: Sequence[str] = ()
    ) -> Hit | None:
        """The last answer when `key` and the exposures file at `output` are those it was
        worked out for, with `needs` ("report", "exposures") read; else None.

        `digest`: the file's sha256 when the caller has it (else the file is streamed)."""
        entries = [e for e in self._entries if e.key == key]
        if not entries:
            return None
        digest = digest or _file_digest(output)
        if digest is None:
            return None  # an answer is remembered only against the file that holds it
        for entry in entries:
            if entry.existing != digest:
                continue
            hit = Hit(self.folder, entry, output)
            try:
                hit.load(needs)
            except BodyError as err:
                log.debug("ignored (%s)", err)
                return None
            return hit
        return None

    def remember(
        self, key: str, files: Mapping[str, Seen], existing: str, result: RunResult
    ) -> None:
        """Keep `result` as the answer for `key` against the file holding `existing`."""
        from .report import summary_line

        digest = text_digest(existing) or ""
        body = hashlib.sha256(f"{key}:{digest}".encode()).hexdigest()[:32]
        head = Head(
            warehouse=result.warehouse,
            workspace=result.report.workspace,
            warnings=tuple(result.warnings),
            renamed=tuple(result.report.renamed),
            summary=summary_line(result.report),
        )
        entry = _Entry(key, dict(files), time.time_ns(), digest, head, body)
        others = [e for e in self._entries if e.key != key]
        kept = [entry, *others][:KEEP]
        try:
            os.makedirs(self.folder, exist_ok=True)
            # Bodies first, the index last: an index never names a body not yet written.
            self._write(_body_path(self.folder, body, "report"), (body, result.report))
            self._write(_body_path(self.folder, body, "exposures"), (body, result.exposures))
            self._write(self.path, _File(FORMAT, kept))
        except (OSError, msgspec.EncodeError) as err:
            log.debug("%s: cannot write (%s)", self.path, err)
            return
        self._entries = kept
        self._sweep({f"last_run.{e.body}.{part}" for e in kept for part in _PARTS})

    def _sweep(self, live: set[str]) -> None:
        """Remove bodies no entry names (dropped, or left by a lost or damaged index) and the
        pickle of format 1."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            if name in live or not name.startswith("last_run."):
                continue
            if name == "last_run.pickle" or name.endswith((".report", ".exposures")):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.folder, name))

    def _write(self, path: str, value: Any) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".last_run.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_ENCODER.encode(value))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def run_key(parts: Mapping[str, Any], files: Mapping[str, Seen]) -> str:
    """One digest of the code, the settings and paths (`parts`) and the input files' contents."""
    digest = hashlib.sha256(code_stamp().encode())
    for name in sorted(parts):
        digest.update(f"\0{name}={parts[name]!r}".encode("utf-8", "surrogatepass"))
    for path in sorted(files):
        digest.update(f"\1{path}={files[path].digest}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
