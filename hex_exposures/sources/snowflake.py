"""Hex-issued queries from Snowflake's ``ACCOUNT_USAGE.QUERY_HISTORY`` (and ACCESS_HISTORY).

One query does the work in the warehouse: the time window, the Hex marker and the status are
filtered there, and rows are grouped there by text hash, Hex project, Hex context and the
query's database/schema. ``query_hash`` ignores comments, so alone it would merge two projects
running the same SQL; the project id and context are pulled out of the Hex comment in SQL.
When ACCESS_HISTORY is readable (Enterprise), the same query also collects each group's
``direct_objects_accessed``; otherwise parsing alone finds the tables, and we say so once.

snowflake-connector-python is imported lazily (the ``[snowflake]`` extra) and called as
``snowflake.connector.connect`` so fakesnow can patch it. Every connector error becomes a
one-line `WarehouseError` here, at the edge, with any secret we passed scrubbed out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, MissingExtraError, WarehouseError
from ..records import AUTO_USER, HexQuery, Settings
from . import Progress

log = logging.getLogger(__name__)

FETCH_SIZE = 1_000
HEX_PATTERN = "%Hex query metadata:%"
TABLE_DOMAINS = ("TABLE", "VIEW", "MATERIALIZED VIEW", "EXTERNAL TABLE")

# `{au}` is the validated --account-usage identifier pair (identifiers cannot be bound);
# every value is a `?` bound server-side (qmark). Snowflake string literals process escapes:
# `\\s` reaches the regex engine as `\s`, while `\t` and `\n` arrive as a tab and a newline,
# literal characters in any bracket expression. Only the last non-blank line is Hex's comment
# (hex_comment.py): REGEXP_LIKE matches the whole text, its 's' flag lets `.` cross lines,
# and `[^\n]*` then `\s*` to the end keep the comment on the last line; the project id and
# context are read from that line only (`$` is the end of the text). The group key is
# query_hash (whitespace and comments ignored, so Hex's per-run trace_id does not split
# groups), falling back to the exact text's hash where Snowflake left it empty.
LAST_LINE_SQL = r"""REGEXP_LIKE(query_text,
      '.*--[ \t]*Hex query metadata:[ \t]*[{][^\n]*[}]\\s*', 's')"""
_FIELD = r"""REGEXP_SUBSTR(query_text,
      '--[ \t]*Hex query metadata:[^\n]*"KEY":\\s*"([^"]+)"[^\n]*[}]\\s*$', 1, 1, 'e', 1)"""
_HEX_ROWS = f"""hex AS (
  SELECT
    query_id,
    query_text,
    start_time,
    database_name,
    schema_name,
    user_name,
    COALESCE(query_hash, SHA2(query_text)) AS text_hash,
    {_FIELD.replace("KEY", "project_id")} AS project_id,
    {_FIELD.replace("KEY", "context")} AS hex_context
  FROM {{au}}.QUERY_HISTORY
  WHERE start_time >= DATEADD(day, -?, CURRENT_TIMESTAMP())
    AND query_text ILIKE ?
    AND {LAST_LINE_SQL}
    AND UPPER(execution_status) = 'SUCCESS'{{users}}
)"""

_KEYS = (
    "hex.project_id, hex.text_hash, hex.hex_context, hex.database_name, hex.schema_name, "
    "hex.user_name"
)
_GROUP = f"GROUP BY {_KEYS}\nORDER BY {_KEYS}"

QUERIES_SQL = f"""WITH {_HEX_ROWS}
SELECT
  hex.project_id,
  hex.database_name,
  hex.schema_name,
  MAX_BY(hex.query_text, hex.start_time) AS query_text,
  COUNT(*) AS run_count,
  MAX(hex.start_time) AS last_seen,
  hex.user_name
FROM hex
WHERE hex.project_id IS NOT NULL
{_GROUP}"""
"""Binds: days, marker pattern, each --hex-user name."""

# ACCESS_HISTORY is joined per query first (one row per query and object or column), so a
# group's run count counts queries, not objects. Tables come from direct_objects_accessed
# (a view stays a view); columns from base_objects_accessed[].columns, as
# `DB.SCHEMA.TABLE."COLUMN"` (the column quoted: Snowflake reports it in stored case).
_DOMAINS = ", ".join(f"'{d}'" for d in TABLE_DOMAINS)
QUERIES_WITH_ACCESS_SQL = f"""WITH {_HEX_ROWS},
objects AS (
  SELECT DISTINCT ah.query_id, 'T' AS kind, obj.value:"objectName"::string AS object_name
  FROM {{au}}.ACCESS_HISTORY ah, LATERAL FLATTEN(input => ah.direct_objects_accessed) obj
  WHERE ah.query_start_time >= DATEADD(day, -?, CURRENT_TIMESTAMP())
    AND ah.query_id IN (SELECT query_id FROM hex)
    AND UPPER(obj.value:"objectDomain"::string) IN ({_DOMAINS})
  UNION ALL
  SELECT DISTINCT ah.query_id, 'C' AS kind,
    obj.value:"objectName"::string || '."'
      || REPLACE(col.value:"columnName"::string, '"', '""') || '"' AS object_name
  FROM {{au}}.ACCESS_HISTORY ah, LATERAL FLATTEN(input => ah.base_objects_accessed) obj,
    LATERAL FLATTEN(input => obj.value:"columns") col
  WHERE ah.query_start_time >= DATEADD(day, -?, CURRENT_TIMESTAMP())
    AND ah.query_id IN (SELECT query_id FROM hex)
    AND UPPER(obj.value:"objectDomain"::string) IN ({_DOMAINS})
)
SELECT
  hex.project_id,
  hex.database_name,
  hex.schema_name,
  MAX_BY(hex.query_text, hex.start_time) AS query_text,
  COUNT(DISTINCT hex.query_id) AS run_count,
  MAX(hex.start_time) AS last_seen,
  hex.user_name,
  ARRAY_AGG(DISTINCT CASE WHEN objects.kind = 'T' THEN objects.object_name END) AS tables,
  ARRAY_AGG(DISTINCT CASE WHEN objects.kind = 'C' THEN objects.object_name END) AS columns
FROM hex
LEFT JOIN objects ON objects.query_id = hex.query_id
WHERE hex.project_id IS NOT NULL
{_GROUP}"""
"""Binds: days, marker pattern, each --hex-user name, days, days."""

ACCESS_PROBE_SQL = (
    "SELECT query_id, query_start_time, direct_objects_accessed, base_objects_accessed"
    " FROM {au}.ACCESS_HISTORY LIMIT 0"
)

_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"\x00-\x1f]+")'
_ACCOUNT_USAGE_RE = re.compile(rf"{_IDENT}\.{_IDENT}")
_ENV_KWARGS = {
    "SNOWFLAKE_ACCOUNT": "account",
    "SNOWFLAKE_USER": "user",
    "SNOWFLAKE_PASSWORD": "password",
    "SNOWFLAKE_PRIVATE_KEY_FILE": "private_key_file",
    "SNOWFLAKE_PRIVATE_KEY_FILE_PWD": "private_key_file_pwd",
    "SNOWFLAKE_AUTHENTICATOR": "authenticator",
    "SNOWFLAKE_TOKEN": "token",
    "SNOWFLAKE_ROLE": "role",
    "SNOWFLAKE_WAREHOUSE": "warehouse",
    "SNOWFLAKE_DATABASE": "database",
    "SNOWFLAKE_HOST": "host",
    "SNOWFLAKE_PORT": "port",
    "SNOWFLAKE_PROTOCOL": "protocol",
}
_SECRET_KWARGS = ("password", "private_key_file_pwd", "token", "private_key", "passcode")
_SECRET_TEXT = re.compile(r"(?i)\b(password|passcode|token|private_key\w*)(\s*[=:]\s*)\S+")
_NO_SETUP = (
    "; pass --snowflake-connection NAME (connections.toml), set SNOWFLAKE_ACCOUNT and"
    " SNOWFLAKE_USER (+ a credential), or define a default connection"
)
_NOT_FOUND = 2003  # "Object ... does not exist or not authorized."
_NO_WAREHOUSE = 606  # "No active warehouse selected in the current session."


def query_sql(account_usage: str, *, access_history: bool, users: int = 0) -> str:
    """The history query for a validated ``DB.SCHEMA`` (the only text spliced into SQL) and
    `users` --hex-user names, each a bound `?` (names compare case-insensitively, as
    Snowflake's unquoted user names and login names do)."""
    template = QUERIES_WITH_ACCESS_SQL if access_history else QUERIES_SQL
    marks = ", ".join(["UPPER(?)"] * users)
    only = f"\n    AND UPPER(user_name) IN ({marks})" if users else ""
    return template.replace("{au}", check_account_usage(account_usage)).replace("{users}", only)


def check_account_usage(value: str) -> str:
    value = value.strip()
    if not _ACCOUNT_USAGE_RE.fullmatch(value):
        raise ConfigError(
            f"--account-usage: {value!r} is not DATABASE.SCHEMA (e.g. SNOWFLAKE.ACCOUNT_USAGE)"
        )
    return value


class _ConnectArgs(dict[str, Any]):
    """connect() keywords; secret values are masked in the repr (debuggers print locals)."""

    def __repr__(self) -> str:
        return repr({k: "***" if k in _SECRET_KWARGS else v for k, v in self.items()})


def connect_kwargs(settings: Settings, environ: Mapping[str, str]) -> dict[str, Any]:
    """--snowflake-connection, else SNOWFLAKE_* variables, else the default connection."""
    if settings.snowflake_connection:
        return _ConnectArgs(connection_name=settings.snowflake_connection)
    if environ.get("SNOWFLAKE_ACCOUNT"):
        kwargs: dict[str, Any] = _ConnectArgs(
            (key, environ[var]) for var, key in _ENV_KWARGS.items() if environ.get(var)
        )
        if "port" in kwargs:
            try:
                kwargs["port"] = int(kwargs["port"])
            except ValueError:
                raise ConfigError("SNOWFLAKE_PORT: expected a port number") from None
        if "private_key_file" in kwargs and "authenticator" not in kwargs:
            kwargs["authenticator"] = "SNOWFLAKE_JWT"
        return kwargs
    # Any keyword stops the connector from loading its default connection, and we pass
    # paramstyle, so name the default connection the way the connector would.
    return _ConnectArgs(connection_name=_default_connection_name())


def preflight(settings: Settings, environ: Mapping[str, str]) -> None:
    """Everything knowable without the network: the extra, --account-usage, and that the
    named (or default) connection is in connections.toml, found by the connector's own lookup
    (SNOWFLAKE_HOME, ~/.snowflake, else the platform's config folder)."""
    check_account_usage(settings.account_usage)
    try:
        import snowflake.connector  # noqa: F401
    except ImportError:
        raise MissingExtraError("snowflake-connector-python", "snowflake") from None
    kwargs = connect_kwargs(settings, environ)
    name = kwargs.get("connection_name")
    if name is None:
        return  # SNOWFLAKE_ACCOUNT and friends: only a login can tell more
    try:
        from snowflake.connector import config_manager

        connections: Any = config_manager.CONFIG_MANAGER["connections"]
        known = sorted(str(k) for k in connections)
    except Exception as err:  # an unreadable or too-open file: the connector's own words
        raise ConfigError(f"Snowflake connections.toml: {_one_line(err)}") from None
    if name in known:
        return
    where = str(getattr(config_manager, "CONNECTIONS_FILE", "connections.toml"))
    listed = f"known: {', '.join(known)}" if known else "it defines no connections"
    if settings.snowflake_connection:
        raise ConfigError(
            f"--snowflake-connection: {name!r} is not in {where} ({listed}; "
            "SNOWFLAKE_HOME moves the file)"
        )
    raise ConfigError(f"Snowflake: no connection configured ({where}: {listed}){_NO_SETUP}")


def _default_connection_name() -> str:
    try:
        from snowflake.connector.config_manager import CONFIG_MANAGER

        return str(CONFIG_MANAGER["default_connection_name"])
    except Exception:  # an unreadable config: let connect() report it
        return "default"


class Secrets:
    """Values to scrub from messages; hidden from every repr (debuggers print locals)."""

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values = tuple(v for v in values if len(v) >= 3)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __repr__(self) -> str:
        return "Secrets(***)"


def _secrets(kwargs: Mapping[str, Any]) -> Secrets:
    found = [str(kwargs[k]) for k in _SECRET_KWARGS if isinstance(kwargs.get(k), str)]
    name = kwargs.get("connection_name")
    if name:
        try:
            from snowflake.connector.config_manager import CONFIG_MANAGER

            connections: Any = CONFIG_MANAGER["connections"]
            section = connections.get(name) or {}
            found += [str(section[k]) for k in _SECRET_KWARGS if isinstance(section.get(k), str)]
        except Exception:  # no file, bad file: nothing to scrub from it
            pass
    return Secrets(found)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without any secret we passed, nor anything shaped like ``password=...``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _SECRET_TEXT.sub(r"\1\2***", text)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class SnowflakeSource:
    """A live Snowflake connection and the ACCOUNT_USAGE schema whose history it reads."""

    def __init__(
        self,
        conn: Any,
        *,
        account_usage: str = "SNOWFLAKE.ACCOUNT_USAGE",
        access_history: bool | None = None,
        progress: Progress | None = None,
        secrets: Secrets | None = None,
        users: Sequence[str] = (),
    ) -> None:
        self._conn = conn
        self._users = _named_users(users)
        self._au = check_account_usage(account_usage)
        self._access = access_history
        self._progress = progress
        self._secrets = secrets or Secrets()
        self._probed: bool | None = None  # ACCESS_HISTORY readable, once known

    def __repr__(self) -> str:
        return (
            f"SnowflakeSource(account_usage={self._au!r}, access_history={self._access!r}, "
            f"users={self._users!r})"
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        progress: Progress | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SnowflakeSource:
        account_usage = check_account_usage(settings.account_usage)
        try:
            import snowflake.connector
        except ImportError:
            raise MissingExtraError("snowflake-connector-python", "snowflake") from None
        kwargs = connect_kwargs(settings, os.environ if environ is None else environ)
        secrets = _secrets(kwargs)
        where = (
            f"connection {kwargs['connection_name']!r}"
            if "connection_name" in kwargs
            else f"account {kwargs.get('account')!r}"
        )
        log.debug("connecting to Snowflake (%s)", where)
        try:
            conn = snowflake.connector.connect(**kwargs, paramstyle="qmark")
        except snowflake.connector.errors.DatabaseError as err:
            what = f"could not connect to Snowflake ({where})"
            raise _translate(err, secrets, what) from _chain(err, secrets)
        except (snowflake.connector.errors.Error, OSError, ValueError) as err:
            # Raised before any query: an unknown connection name, an unreadable key file.
            hint = "" if settings.snowflake_connection or "account" in kwargs else _NO_SETUP
            raise ConfigError(
                f"Snowflake connection ({where}): {scrub(_one_line(err), secrets)}{hint}"
            ) from _chain(err, secrets)
        return cls(
            conn,
            account_usage=account_usage,
            access_history=settings.access_history,
            progress=progress,
            secrets=secrets,
            users=settings.hex_user,
        )

    def queries(self, days: int) -> Iterator[HexQuery]:
        """One record per (text hash, project, context, database, schema) in the window."""
        if not isinstance(days, int) or days < 1:
            raise ConfigError(f"--days: {days!r} must be a whole number of days, at least 1")
        started = time.monotonic()
        if self._probed is None:
            self._probed, note = self._access_history_readable()
        else:
            note = None  # said already
        use_access = self._probed
        sql = query_sql(self._au, access_history=use_access, users=len(self._users))
        params: tuple[Any, ...] = (days, HEX_PATTERN, *self._users)
        params += (days, days) if use_access else ()
        cursor = self._conn.cursor()
        try:
            self._execute(cursor, sql, params, f"{self._au}.QUERY_HISTORY")
            if note:
                log.info("%s", note)  # a lasting line, once; progress lines are overwritten
            groups = runs = 0
            while True:
                rows = self._fetch(cursor)
                if not rows:
                    break
                for row in rows:
                    query = _record(row)
                    groups += 1
                    runs += query.run_count
                    yield query
        finally:
            cursor.close()
        line = (
            f"read {groups} Hex query groups ({runs} runs, {days} days) from "
            f"{self._au}.QUERY_HISTORY in {time.monotonic() - started:.1f}s"
        )
        if self._progress:
            self._progress(line)
        log.debug("%s", line)

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception as err:  # closing is best effort; the result is already read
            log.debug("closing the Snowflake connection failed: %s", type(err).__name__)

    def _access_history_readable(self) -> tuple[bool, str | None]:
        """(use it, a note to show once the main query worked) per --[no-]access-history."""
        if self._access is False:
            return False, None
        from snowflake.connector.errors import Error

        view = f"{self._au}.ACCESS_HISTORY"
        cursor = self._conn.cursor()
        try:
            cursor.execute(ACCESS_PROBE_SQL.replace("{au}", self._au))
        except Error as err:
            missing = getattr(err, "errno", None) == _NOT_FOUND
            if self._access:  # --access-history: required
                if missing:
                    raise _grant_error(view, self._conn, self._au, err, self._secrets) from err
                what = f"reading {view} failed"
                raise _translate(err, self._secrets, what) from _chain(err, self._secrets)
            reason = "" if missing else f" ({scrub(_one_line(err), self._secrets)})"
            return False, (
                f"{view} is not readable (it needs Enterprise Edition and the "
                f"GOVERNANCE_VIEWER role){reason}; finding tables by parsing SQL alone"
            )
        finally:
            cursor.close()
        return True, None

    def _execute(self, cursor: Any, sql: str, params: tuple[Any, ...], view: str) -> None:
        from snowflake.connector.errors import Error

        log.debug("running on Snowflake: %s", sql)
        try:
            cursor.execute(sql, params)
        except Error as err:
            if getattr(err, "errno", None) == _NOT_FOUND:
                raise _grant_error(view, self._conn, self._au, err, self._secrets) from err
            raise _translate(err, self._secrets, f"reading {view} failed") from _chain(
                err, self._secrets
            )

    def _fetch(self, cursor: Any) -> list[Any]:
        from snowflake.connector.errors import Error

        try:
            return list(cursor.fetchmany(FETCH_SIZE))
        except Error as err:
            what = "fetching query history failed"
            raise _translate(err, self._secrets, what) from _chain(err, self._secrets)


def _named_users(users: Sequence[str]) -> tuple[str, ...]:
    if AUTO_USER in users:  # the CLI asks Hex first; a caller that did not has a bug
        raise ConfigError("--hex-user auto: resolve it from the Hex API before reading history")
    return tuple(users)


def _record(row: tuple[Any, ...]) -> HexQuery:
    project_id, database, schema, text, run_count, last_seen, user, *rest = row
    tables, columns = (_array(v) for v in (*rest, None, None)[:2])
    return HexQuery(
        project_id=str(project_id),
        query_text=str(text or ""),
        database=database or None,
        schema=schema or None,
        run_count=int(run_count or 0),
        last_seen=_iso(last_seen),
        tables=tuple(sorted({str(t) for t in tables if t})),
        columns=tuple(sorted({str(c) for c in columns if c})),
        warehouse_user=str(user) if user else None,
    )


def _array(value: object) -> list[Any]:
    """An ARRAY column: the connector returns JSON text (nulls of ARRAY_AGG left out)."""
    if not value:
        return []
    data = json.loads(value) if isinstance(value, str) else value
    return list(data) if isinstance(data, list | tuple) else []


def _iso(value: object) -> str | None:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    return str(value) if value is not None else None


def _grant_error(
    view: str, conn: Any, account_usage: str, err: BaseException, secrets: Secrets
) -> WarehouseError:
    role = getattr(conn, "role", None) or "<role>"
    if account_usage.upper() == "SNOWFLAKE.ACCOUNT_USAGE":
        how = (
            f"GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE TO ROLE {role}; "
            f"or GRANT DATABASE ROLE SNOWFLAKE.GOVERNANCE_VIEWER TO ROLE {role};"
        )
    else:
        how = f"GRANT SELECT ON {view} TO ROLE {role}; (with USAGE on its database and schema)"
    said = getattr(err, "raw_msg", None) or _one_line(err)
    return WarehouseError(
        f"{view} does not exist or role {role} may not read it; ask an ACCOUNTADMIN to run: "
        f"{how} (Snowflake said: {scrub(' '.join(str(said).split()), secrets)})"
    )


def _chain(err: BaseException, secrets: Secrets) -> BaseException | None:
    """The cause to chain, or None when its text holds a secret (tracebacks print it)."""
    return None if scrub(str(err), secrets) != str(err) else err


def _translate(err: BaseException, secrets: Secrets, what: str) -> WarehouseError:
    text = scrub(_one_line(err), secrets)
    if getattr(err, "errno", None) == _NO_WAREHOUSE:
        text += " (set 'warehouse' in connections.toml or SNOWFLAKE_WAREHOUSE)"
    return WarehouseError(f"Snowflake: {what}: {text}")
