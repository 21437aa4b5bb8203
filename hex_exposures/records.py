"""Plain typed records that cross the line between the sources and the pure core.

Sources turn the outside world into these; the core turns these into bytes. Only the
standard library is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

WAREHOUSES = ("snowflake", "bigquery")
# Where a managed exposure's tags and meta live: under `config:` (dbt >= 1.10 reads them
# there) or top-level (dbt 1.8/1.9 read only these). See SPEC "The exposures file".
MetaLayout = Literal["config", "top"]


class HexProject(NamedTuple):
    """One Hex project or component, as ``GET /v1/projects`` describes it."""

    id: str
    title: str
    description: str | None
    type: str  # "PROJECT" | "COMPONENT"
    owner_email: str | None
    creator_email: str | None
    status: str | None
    categories: tuple[str, ...]
    published: bool  # Hex's documented check: lastPublishedAt is not null
    archived: bool
    trashed: bool
    raw: Mapping[str, Any]  # the API's own JSON, kept so a snapshot stores it unchanged

    @property
    def live(self) -> bool:
        """Trashed and archived projects lose their exposure (SPEC "What leaves")."""
        return not (self.archived or self.trashed)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HexProject:
        """Build from a ProjectApiResource; tolerant of nulls and missing optional keys."""
        pid = data.get("id")
        if not isinstance(pid, str) or not pid:
            raise ValueError("project without an 'id'")
        status = data.get("status")
        categories = data.get("categories")
        categories = categories if isinstance(categories, list) else []
        return cls(
            id=pid,
            title=str(data.get("title") or ""),
            description=data.get("description")
            if isinstance(data.get("description"), str)
            else None,
            type=str(data.get("type") or "PROJECT"),
            owner_email=_email(data.get("owner")),
            creator_email=_email(data.get("creator")),
            status=_text(status.get("name")) if isinstance(status, Mapping) else None,
            categories=tuple(
                str(c["name"])
                for c in categories
                if isinstance(c, Mapping) and isinstance(c.get("name"), str)
            ),
            published=data.get("lastPublishedAt") is not None,
            archived=data.get("archivedAt") is not None,
            trashed=data.get("trashedAt") is not None,
            raw=data,
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _email(person: object) -> str | None:
    if isinstance(person, Mapping) and isinstance(person.get("email"), str):
        return str(person["email"]) or None
    return None


class HexQuery(NamedTuple):
    """One distinct Hex query text seen in the warehouse's history (already grouped).

    `tables` are tables another evidence source already knows this query read (Snowflake
    ACCESS_HISTORY, Hex queriedTables): unioned with what parsing finds. `fallback_tables`
    (BigQuery ``referenced_tables``) are used only when the text does not parse, because
    they name a view's base tables instead of the view. Both hold "db.schema.table"
    strings in the warehouse's SQL quoting. A record with an empty `query_text` carries
    table evidence alone (Hex queriedTables).
    """

    project_id: str
    query_text: str
    database: str | None = None
    schema: str | None = None
    run_count: int = 1
    last_seen: str | None = None  # ISO 8601
    tables: tuple[str, ...] = ()
    fallback_tables: tuple[str, ...] = ()
    # Columns another evidence source knows this query read (Snowflake ACCESS_HISTORY's
    # base_objects_accessed, a snapshot): "db.schema.table.column", unioned with the SQL's.
    columns: tuple[str, ...] = ()
    # Who ran it: Snowflake USER_NAME, BigQuery user_email (None: not recorded, e.g. a
    # snapshot written before issue 17, or Hex queriedTables evidence).
    warehouse_user: str | None = None


AUTO_USER = "auto"
"""--hex-user auto: the users Hex's data connections log in as (the Hex API says)."""


def user_key(name: str, warehouse: str | None) -> str:
    """How a warehouse user name compares, as the history SQL compares it: Snowflake names
    case-insensitively (UPPER), BigQuery emails in lower case."""
    return name.lower() if warehouse == "bigquery" else name.upper()


class TableRef(NamedTuple):
    """A table name with every part already normalised by the warehouse's case rule."""

    database: str | None
    schema: str | None
    name: str

    def __str__(self) -> str:
        return ".".join(p for p in (self.database, self.schema, self.name) if p)


class Relation(NamedTuple):
    """A dbt node that is a warehouse relation: model, seed, snapshot or source."""

    unique_id: str
    resource_type: str  # "model" | "seed" | "snapshot" | "source"
    package: str
    name: str  # model/seed/snapshot name, or the source table's name
    source_name: str | None  # sources only
    version: str | None  # versioned models only
    latest_version: str | None
    key: TableRef  # normalised (database, schema, identifier)


class Exposure(NamedTuple):
    """What the tool wants one managed exposure to say (before merging with the file)."""

    name: str
    label: str
    type: str  # "dashboard" | "notebook"
    maturity: str | None
    url: str
    description: str
    owner_name: str | None
    owner_email: str | None
    depends_on: tuple[str, ...]  # sorted: "ref('m')", "source('s', 't')", ...
    tags: tuple[str, ...]
    project_id: str
    hex_meta: Mapping[str, Any]  # {status, categories, published}
    # Elementary's exposure-validation form: {"column_name", "data_type"?, "node"}, sorted by
    # (node, column_name); written under meta.referenced_columns when not empty.
    referenced_columns: tuple[Mapping[str, str], ...] = ()


class Settings(NamedTuple):
    """Every option, resolved from flag > environment > config file > default."""

    project_dir: str = "."
    manifest: str | None = None
    parse: bool = False
    output: str | None = None
    config: str | None = None
    hex_url: str = "https://app.hex.tech"
    hex_token: str | None = None
    workspace: str | None = None
    warehouse: str | None = None
    days: int = 14
    from_snapshot: str | None = None
    include_context: tuple[str, ...] = ("SCHEDULED_RUN", "APP_VIEW", "LOGIC_VIEW")
    format: str = "text"
    verbose: bool = False
    quiet: bool = False
    queried_tables: bool = True
    include_components: bool = True
    snowflake_connection: str | None = None
    account_usage: str = "SNOWFLAKE.ACCOUNT_USAGE"
    access_history: bool | None = None  # None: use it when readable
    bigquery_project: tuple[str, ...] = ()
    bigquery_region: tuple[str, ...] = ("us",)
    maturity_map: Mapping[str, str] = {}
    owner_map: Mapping[str, str] = {}  # email -> display name
    profiles_dir: str | None = None
    columns: bool = True  # --no-columns: leave meta.referenced_columns out
    # --hex-user: count only queries these warehouse users ran (empty: every user); "auto"
    # is replaced by the users Hex's data connections log in as before a source sees it.
    hex_user: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # The token must never reach a log line or a traceback through a repr.
        shown = self._replace(hex_token="***" if self.hex_token else None)
        return (
            "Settings("
            + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, shown, strict=True))
            + ")"
        )
