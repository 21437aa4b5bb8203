"""Every file the tool reads or writes, in one place: manifest, dbt_project.yml, the
exposures file (atomic write-if-changed that refuses to overwrite a concurrent edit).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

from .bulk import json_from_bytes
from .errors import ConfigError, ExposuresFileError, ManifestError
from .manifest import check_shape

log = logging.getLogger(__name__)


class ProjectPaths(NamedTuple):
    model_paths: tuple[str, ...]
    target_path: str
    # Every folder dbt reads YAML from (model, seed, snapshot, analysis, macro, test paths).
    resource_paths: tuple[str, ...] = ("models",)


_RESOURCE_KEYS = {
    "seed-paths": ["seeds"],
    "snapshot-paths": ["snapshots"],
    "analysis-paths": ["analyses"],
    "macro-paths": ["macros"],
    "test-paths": ["tests"],
    "function-paths": [],  # dbt 1.11 reads "functions" by default; older versions do not
}


def _paths_of(value: object, default: list[str]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return default


def read_dbt_project(project_dir: str) -> ProjectPaths:
    """model-paths and target-path from dbt_project.yml (dbt's defaults when unset)."""
    path = os.path.join(project_dir, "dbt_project.yml")
    if not os.path.isfile(path):
        raise ConfigError(
            f"--project-dir: {project_dir}: no dbt_project.yml here; point --project-dir "
            "(or DBT_PROJECT_DIR) at your dbt project"
        )
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        with open(path, encoding="utf-8") as f:
            data = YAML(typ="safe", pure=True).load(f)
    except (OSError, YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read as YAML: {_first_line(err)}") from err
    data = data if isinstance(data, Mapping) else {}
    models = data.get("model-paths") or data.get("source-paths") or ["models"]
    if isinstance(models, str):
        models = [models]
    target = os.environ.get("DBT_TARGET_PATH") or data.get("target-path") or "target"
    resources = [str(m) for m in models]
    for key, default in _RESOURCE_KEYS.items():
        resources += _paths_of(data.get(key), default)
    return ProjectPaths(tuple(str(m) for m in models), str(target), tuple(resources))


def restricted_packages(project_dir: str) -> frozenset[str]:
    """Names of the installed packages whose dbt_project.yml sets `restrict-access: true`
    (dbt then refuses a ref from another package to their protected models; the manifest
    does not record it). Unreadable package files are skipped: dbt parse reports those."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yml = YAML(typ="safe", pure=True)
    try:
        with open(os.path.join(project_dir, "dbt_project.yml"), encoding="utf-8") as f:
            data = yml.load(f)
    except (OSError, YAMLError, UnicodeDecodeError):
        return frozenset()
    data = data if isinstance(data, Mapping) else {}
    folder = os.path.join(project_dir, str(data.get("packages-install-path") or "dbt_packages"))
    out = set()
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        try:
            with open(os.path.join(folder, name, "dbt_project.yml"), encoding="utf-8") as f:
                package = yml.load(f)
        except (OSError, YAMLError, UnicodeDecodeError):
            continue
        if isinstance(package, Mapping) and package.get("restrict-access") is True:
            out.add(str(package.get("name") or name))
    return frozenset(out)


def read_manifest(path: str) -> Mapping[str, Any]:
    hint = "build it with `dbt parse` in the dbt project, or pass --parse"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found; {hint}") from None
    except OSError as err:
        raise ManifestError(f"{path}: cannot read the manifest ({err.strerror}); {hint}") from err
    try:
        data = json_from_bytes(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ManifestError(
            f"{path}: manifest is not valid JSON ({_first_line(err)}); {hint}"
        ) from None
    return check_shape(data, path=path)


def newest_source_mtime(
    project_dir: str, model_paths: tuple[str, ...], *, ignore: str = ""
) -> float:
    """The newest .sql/.yml/.yaml under the model paths (to warn that a manifest is stale).

    `ignore` is our own output file: writing it must not make the next run warn.
    """
    newest = 0.0
    skip = os.path.abspath(ignore) if ignore else ""
    for rel in model_paths:
        for root, _dirs, names in os.walk(os.path.join(project_dir, rel)):
            for name in names:
                path = os.path.join(root, name)
                if name.endswith((".sql", ".yml", ".yaml")) and os.path.abspath(path) != skip:
                    with contextlib.suppress(OSError):
                        newest = max(newest, os.stat(path).st_mtime)
    return newest


class Existing(NamedTuple):
    text: str | None  # None: the file does not exist
    digest: str | None  # of the bytes read, to detect a concurrent change before writing


def read_existing(path: str) -> Existing:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return Existing(None, None)
    except OSError as err:
        raise ExposuresFileError(
            f"{path}: cannot read the exposures file ({err.strerror})"
        ) from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ExposuresFileError(f"{path}: the exposures file is not UTF-8 text") from None
    return Existing(text, _digest(raw))


def write_if_changed(path: str, text: str, read: Existing) -> bool:
    """Atomically replace `path` with `text` when its bytes differ; True if written.

    A reader never sees a half-written file: the bytes go to a temporary file in the same
    folder, are flushed to disk, then renamed over the old one. If the file changed since
    `read`, someone else edited it meanwhile: refuse rather than overwrite their work.
    """
    if read.text == text:  # equal text, equal bytes: no need to encode 90 MB twice
        return False
    data = text.encode("utf-8")
    if read.text is not None and read.text.encode("utf-8") == data:
        return False
    # A symlinked file is written through: its target is replaced, the link stays.
    path = os.path.realpath(path) if os.path.islink(path) else path
    now = read_existing(path)
    if now.digest != read.digest:
        raise ExposuresFileError(
            f"{path}: changed by someone else while hex-exposures ran; nothing written, run again"
        )
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(folder, os.path.basename(path))
    try:
        os.makedirs(folder, exist_ok=True)
        # An existing file keeps its mode; a new one gets 0666 less the umask, as any
        # editor would create it (mkstemp's 0600 would hide it from the team's group).
        mode = os.stat(path).st_mode & 0o7777 if read.text is not None else None
        fd, tmp = _create_temp(folder, os.path.basename(path))
    except OSError as err:
        raise ExposuresFileError(
            f"{path}: cannot write here ({err.strerror}); nothing written"
        ) from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if read_existing(path).digest != read.digest:  # saved while we wrote: theirs wins
            raise ExposuresFileError(
                f"{path}: changed by someone else while hex-exposures ran; nothing written,"
                " run again"
            )
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise ExposuresFileError(
                f"{path}: cannot write ({err.strerror}); the old file is unchanged"
            ) from err
        raise
    return True


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    """A new temporary file next to `name`, created 0666 so the kernel applies the umask."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: cannot create a temporary file")


def _remove_stale_temps(folder: str, name: str, *, older_than: float = 600.0) -> None:
    """Temp files a killed run left behind (ours only, and old enough not to be a live run's)."""
    prefix = "." + name + "."
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime > older_than:
                        os.unlink(entry.path)


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


class JsonMemo:
    """A small JSON document kept between runs beside the parse cache (safe to delete).

    Unreadable or corrupt is empty; written beside the old and renamed over it, only when
    its content changed; a failure to write is a debug line, never an error.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        raw = b""
        try:
            with open(path, "rb") as f:
                raw = f.read()
            loaded = msgspec.json.decode(raw)
            if isinstance(loaded, dict):
                self.data = loaded
        except (OSError, ValueError, RecursionError, msgspec.DecodeError) as err:
            log.debug("%s: ignored (%s)", path, err)
        # What is on disk, as a digest: at 1x the document is 79 MB of text.
        self._saved = hashlib.sha256(raw).digest()

    def save(self) -> bool:
        data = _MEMO_ENCODER.encode(self.data)
        digest = hashlib.sha256(data).digest()
        if digest == self._saved:
            return False
        if not replace_quietly(self.path, data, prefix=".memo."):
            return False
        self._saved = digest
        return True


_MEMO_ENCODER = msgspec.json.Encoder(order="sorted")  # equal data, equal bytes


def replace_quietly(path: str, data: bytes, *, prefix: str) -> bool:
    """Write a cache file atomically (temp file + rename); False, logged, when it cannot.

    For the tool's own caches beside the parse cache: losing one costs a slower next run,
    never a failed one, so an unwritable folder is not an error.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        log.debug("%s: cannot write (%s)", path, err)
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return True
