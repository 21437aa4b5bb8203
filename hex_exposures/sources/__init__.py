"""The imperative shell's inputs: each source turns one outside system into records.

Sources never import each other or the core. Each live source is opened from `Settings`
by one of the factories below, which import the heavy client libraries lazily so that a
missing extra costs nothing until it is needed (and then names the extra).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from ..records import HexProject, HexQuery, Settings

if TYPE_CHECKING:
    import httpx

Progress = Callable[[str], None]
"""Receives short human status lines ("fetched 300 projects"); the CLI decides where they go."""


class ProjectSource(Protocol):
    """Hex projects, and the evidence only Hex itself holds."""

    def projects(self) -> list[HexProject]:
        """Every project and component, trashed and archived ones included."""
        ...

    def workspace(self) -> str | None:
        """The workspace segment for project URLs (``org.id`` from ``/v1/users/me``)."""
        ...

    def queried_tables(self, projects: Sequence[HexProject], warehouse: str) -> list[HexQuery]:
        """Enterprise lineage as table-only records (empty `query_text`); [] if unavailable.

        Only tables read through data connections of type `warehouse` are returned, each
        qualified with its connection's default database/schema when Hex gives it short.
        """
        ...

    def connection_users(self, warehouse: str) -> tuple[tuple[str, ...], str | None]:
        """The users `warehouse` data connections log in as, and why there are none."""
        ...

    def close(self) -> None: ...


class QuerySource(Protocol):
    """Hex-issued queries from a warehouse's history, grouped by text and project."""

    def queries(self, days: int) -> Iterable[HexQuery]: ...

    def close(self) -> None: ...


def open_hex(
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    cache_path: str | None = None,
) -> ProjectSource:
    """The live Hex source; `cache_path` keeps queriedTables between runs (hex_cache.py)."""
    from ..hex_cache import HexApiCache
    from .hex_api import HexApiSource, api_root

    cache = HexApiCache(cache_path, api_root(settings.hex_url or "https://app.hex.tech"))
    return HexApiSource.from_settings(settings, client=client, progress=progress, cache=cache)


def open_warehouse(
    settings: Settings,
    warehouse: str,
    *,
    default_projects: Sequence[str] = (),
    progress: Progress | None = None,
) -> QuerySource:
    """`default_projects`: the manifest's databases, BigQuery's default for projects to scan."""
    if warehouse == "snowflake":
        from .snowflake import SnowflakeSource

        return SnowflakeSource.from_settings(settings, progress=progress)
    if warehouse == "bigquery":
        from .bigquery import BigQuerySource

        return BigQuerySource.from_settings(
            settings, default_projects=default_projects, progress=progress
        )
    from ..errors import ConfigError

    raise ConfigError(f"--warehouse: unsupported warehouse {warehouse!r}")


def preflight_warehouse(
    settings: Settings,
    warehouse: str,
    *,
    default_projects: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Check what can be checked locally (extra installed, connection named in
    connections.toml, credentials present) so a bad setup fails before any network call."""
    env = os.environ if environ is None else environ
    if warehouse == "snowflake":
        from .snowflake import preflight

        preflight(settings, env)
    elif warehouse == "bigquery":
        from .bigquery import preflight as bq_preflight

        bq_preflight(settings, default_projects, env)
