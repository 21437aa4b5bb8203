"""Every error the tool raises on purpose, each carrying the exit code SPEC gives it.

    HexExposuresError            exit 2 unless a subclass says otherwise
    ├── UsageError               bad option, config file or input file (exit 2)
    │   ├── ConfigError          an option or config-file value is wrong
    │   ├── ManifestError        manifest.json missing, unreadable or of an unknown shape
    │   ├── SnapshotError        snapshot file missing or not in the snapshot format
    │   └── ExposuresFileError   the existing exposures file cannot be merged safely
    ├── SourceError              Hex or the warehouse failed; nothing was written (exit 3)
    │   ├── HexApiError          Hex API refused or failed (401, 403, 404, 5xx, network)
    │   └── WarehouseError       Snowflake or BigQuery refused or failed
    ├── MissingExtraError        an optional dependency is not installed (exit 2)
    └── DbtError                 dbt-core could not parse the project (exit 2)

Messages are one sentence a person can act on. They never contain a token: sources build
them from the URL, status and the server's reason, not from request headers. Foreign
exceptions are translated at the edge and chained with ``raise ... from``.

This module imports nothing from the package, so every layer can use it.
"""

from __future__ import annotations


class HexExposuresError(Exception):
    """Root of the tree; `cli` prints ``str(err)`` on one line and exits with `exit_code`."""

    exit_code = 2


class UsageError(HexExposuresError):
    exit_code = 2


class ConfigError(UsageError):
    pass


class ManifestError(UsageError):
    pass


class SnapshotError(UsageError):
    pass


class ExposuresFileError(UsageError):
    pass


class MissingExtraError(HexExposuresError):
    exit_code = 2

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'hex-exposures[{extra}]'"
        )
        self.package = package
        self.extra = extra


class DbtError(HexExposuresError):
    exit_code = 2


class SourceError(HexExposuresError):
    exit_code = 3


class HexApiError(SourceError):
    pass


class WarehouseError(SourceError):
    pass
