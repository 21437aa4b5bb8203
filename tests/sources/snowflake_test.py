"""The Snowflake source against fakesnow: the real connector API, DuckDB underneath.

Most tests patch ``snowflake.connector.connect`` (fakesnow.patch); the connection-selection
test runs fakesnow's server and the real, unpatched connector in a child process, reading a
connections.toml we write, because the connector locates that file when it is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakesnow
import pytest
import snowflake.connector
import sqlglot
from sqlglot import exp

from hex_exposures.errors import ConfigError, WarehouseError
from hex_exposures.records import HexProject, HexQuery, Settings
from hex_exposures.sources import open_warehouse
from hex_exposures.sources import snowflake as sf
from tests.servers.snowflake_history import Run, create_history, hex_text
from tests.snapshot_lines import snapshot_doc

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

P_ORDERS = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f01"  # runs fct_orders (same SQL as P_TWIN)
P_TWIN = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f02"
P_STAGING = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f03"  # one-part name, STAGING context
P_RAW = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f04"  # same one-part name, RAW context
P_OLD = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f05"  # only ran 20 days ago
P_FAILED = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f06"  # only failed
ORDERS_SQL = "select order_id, amount\nfrom analytics.marts.fct_orders\nwhere amount > 0"


HISTORY = (
    Run(P_ORDERS, ORDERS_SQL, 24, objects=[("Table", "ANALYTICS.MARTS.FCT_ORDERS")]),
    Run(
        P_ORDERS,
        ORDERS_SQL.replace("\n", "\n  "),  # same hash: whitespace differs
        48,
        objects=[
            ("Table", "ANALYTICS.MARTS.FCT_ORDERS"),
            ("View", "ANALYTICS.MARTS.DIM_PRODUCTS"),  # named only by ACCESS_HISTORY
            ("FUNCTION", "ANALYTICS.MARTS.TO_USD"),
        ],
    ),
    Run(P_ORDERS, ORDERS_SQL, 20 * 24),  # too old
    Run(P_ORDERS, ORDERS_SQL, 30, context="LOGIC_VIEW"),  # own group: another context
    Run(P_TWIN, ORDERS_SQL, 72, objects=[("Table", "ANALYTICS.MARTS.FCT_ORDERS")]),
    Run(P_STAGING, "select * from customers", 5, schema="STAGING"),
    Run(P_RAW, "select id from customers", 6, schema="RAW"),
    Run(P_RAW, "select id from customers", 7, schema="RAW"),
    Run(P_OLD, "select * from customers", 15 * 24, schema="STAGING"),
    Run(P_FAILED, "select * from fct_orders", 3, status="FAIL"),
    Run(None, "select * from analytics.marts.fct_orders", 2),  # not from Hex
    Run(None, "select 1 -- Hex query metadata: not json", 2),  # marker, no project id
)


@pytest.fixture
def no_snowflake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SNOWFLAKE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake(no_snowflake_env: None) -> Iterator[Any]:
    """fakesnow in patch mode; yields a connection for building the history tables."""
    with fakesnow.patch():
        conn = snowflake.connector.connect(paramstyle="qmark")
        try:
            yield conn
        finally:
            conn.close()


def read(settings: Settings | None = None, days: int = 14) -> list[HexQuery]:
    source = sf.SnowflakeSource.from_settings(settings or Settings())
    try:
        return list(source.queries(days))
    finally:
        source.close()


def by_key(queries: Sequence[HexQuery]) -> dict[tuple[str, str | None, str | None, str], HexQuery]:
    """Groups keyed by (project, database, schema, context from the comment)."""
    out = {}
    for q in queries:
        context = json.loads(q.query_text.rsplit("-- Hex query metadata: ", 1)[1])["context"]
        key = (q.project_id, q.database, q.schema, context)
        assert key not in out, key
        out[key] = q
    return out


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, no_snowflake_env: None) -> str:
    """SNOWFLAKE_* variables for the patched connector; returns the password."""
    password = "pw-" + uuid.uuid4().hex
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme-prod")
    monkeypatch.setenv("SNOWFLAKE_USER", "HEX_AUDIT")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", password)
    # fakesnow's FLATTEN macro lives in the current database (real Snowflake needs none).
    monkeypatch.setenv("SNOWFLAKE_DATABASE", "SNOWFLAKE")
    return password


# --- SQL and settings ---------------------------------------------------------------------


@pytest.mark.parametrize("users", [0, 2])
@pytest.mark.parametrize("access", [False, True])
def test_sql_parses_as_snowflake_and_binds_every_value(access: bool, users: int) -> None:
    sql = sf.query_sql("SNOWFLAKE.ACCOUNT_USAGE", access_history=access, users=users)
    tree = sqlglot.parse_one(sql, read="snowflake")
    assert len(list(tree.find_all(exp.Placeholder))) == (4 if access else 2) + users
    assert ("UPPER(user_name) IN" in sql) is bool(users)
    literals = {lit.this for lit in tree.find_all(exp.Literal)}
    assert not any("Hex query metadata%" in v or v == "14" for v in literals)
    tables = {(t.catalog, t.db, t.name) for t in tree.find_all(exp.Table)}
    assert ("SNOWFLAKE", "ACCOUNT_USAGE", "QUERY_HISTORY") in tables
    assert (("SNOWFLAKE", "ACCOUNT_USAGE", "ACCESS_HISTORY") in tables) is access
    # Grouped in SQL, by the text hash, the project, the context and the query's context.
    group = tree.find(exp.Group)
    assert group is not None
    assert {c.name for c in group.find_all(exp.Column)} == {
        "text_hash",
        "project_id",
        "hex_context",
        "database_name",
        "schema_name",
        "user_name",  # so report can count queries per warehouse user
    }


@pytest.mark.parametrize(
    "value",
    [
        "SNOWFLAKE",
        "A.B.C",
        "SNOWFLAKE.ACCOUNT_USAGE; DROP TABLE X",
        "SNOWFLAKE.ACCOUNT_USAGE--",
        'A."B"".x"',
        "1DB.S",
        "",
    ],
)
def test_account_usage_must_be_one_database_and_schema(value: str) -> None:
    with pytest.raises(ConfigError, match="--account-usage"):
        sf.query_sql(value, access_history=False)


def test_account_usage_accepts_plain_and_quoted_names() -> None:
    assert "AUDIT.HEX_AU.QUERY_HISTORY" in sf.query_sql("AUDIT.HEX_AU", access_history=False)
    sql = sf.query_sql('audit."Account Usage"', access_history=True)
    assert 'audit."Account Usage".ACCESS_HISTORY' in sql
    sqlglot.parse_one(sql, read="snowflake")


def test_connection_named_by_option_wins_over_environment() -> None:
    env = {"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_PASSWORD": "pw"}
    kwargs = sf.connect_kwargs(Settings(snowflake_connection="prod"), env)
    assert kwargs == {"connection_name": "prod"}


def test_environment_builds_connect_arguments() -> None:
    env = {
        "SNOWFLAKE_ACCOUNT": "myorg-acme",
        "SNOWFLAKE_USER": "HEX_AUDIT",
        "SNOWFLAKE_PRIVATE_KEY_FILE": "/keys/rsa.p8",
        "SNOWFLAKE_ROLE": "AUDITOR",
        "SNOWFLAKE_WAREHOUSE": "XS",
        "SNOWFLAKE_PORT": "8443",
        "SNOWFLAKE_UNRELATED": "x",
        "SNOWFLAKE_PASSWORD": "",
    }
    assert sf.connect_kwargs(Settings(), env) == {
        "account": "myorg-acme",
        "user": "HEX_AUDIT",
        "private_key_file": "/keys/rsa.p8",
        "authenticator": "SNOWFLAKE_JWT",  # key pair
        "role": "AUDITOR",
        "warehouse": "XS",
        "port": 8443,
    }
    browser = {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_AUTHENTICATOR": "externalbrowser"}
    assert sf.connect_kwargs(Settings(), browser)["authenticator"] == "externalbrowser"
    oauth = {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_AUTHENTICATOR": "oauth", "SNOWFLAKE_TOKEN": "t"}
    assert sf.connect_kwargs(Settings(), oauth) == {
        "account": "a",
        "authenticator": "oauth",
        "token": "t",
    }
    with pytest.raises(ConfigError, match="SNOWFLAKE_PORT"):
        sf.connect_kwargs(Settings(), {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_PORT": "https"})


def test_without_account_the_default_connection_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "analytics_ro")
    assert sf.connect_kwargs(Settings(), {}) == {"connection_name": "analytics_ro"}


def test_scrub_removes_passed_secrets_and_secret_shapes() -> None:
    text = "login failed for HEX_AUDIT with hunter22 (password=abc123 token: xyz)"
    out = sf.scrub(text, ["hunter22"])
    assert "hunter22" not in out and "abc123" not in out and "xyz" not in out
    assert "HEX_AUDIT" in out


def test_connector_errors_become_one_line_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, no_snowflake_env: None
) -> None:
    import traceback

    password = "pw-" + uuid.uuid4().hex

    def refuse(**kwargs: Any) -> None:
        assert kwargs["password"] == password and kwargs["paramstyle"] == "qmark"
        raise snowflake.connector.errors.DatabaseError(
            msg=f"Failed to login\nas HEX_AUDIT with {password}", errno=250001
        )

    monkeypatch.setattr(snowflake.connector, "connect", refuse)
    env = {
        "SNOWFLAKE_ACCOUNT": "acme",
        "SNOWFLAKE_USER": "HEX_AUDIT",
        "SNOWFLAKE_PASSWORD": password,
    }
    with pytest.raises(WarehouseError) as info:
        sf.SnowflakeSource.from_settings(Settings(), environ=env)
    message = str(info.value)
    assert info.value.exit_code == 3 and "\n" not in message
    assert message.startswith("Snowflake: could not connect to Snowflake (account 'acme')")
    assert "HEX_AUDIT" in message and password not in message
    shown = "".join(traceback.format_exception(info.value))
    assert password not in shown  # the cause held the secret, so it is not chained


def test_missing_connector_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from hex_exposures.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "snowflake.connector", None)
    with pytest.raises(MissingExtraError, match=r"hex-exposures\[snowflake\]") as info:
        sf.SnowflakeSource.from_settings(Settings())
    assert info.value.exit_code == 2


# --- reading history from fakesnow --------------------------------------------------------


def test_window_status_and_marker_are_filtered(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY)
    queries = read()
    groups = by_key(queries)
    assert {q.project_id for q in queries} == {P_ORDERS, P_TWIN, P_STAGING, P_RAW}
    # 2 recent runs (the 20-day-old one is outside the window), whitespace-only difference.
    assert groups[(P_ORDERS, "ANALYTICS", "MARTS", "SCHEDULED_RUN")].run_count == 2
    assert groups[(P_ORDERS, "ANALYTICS", "MARTS", "LOGIC_VIEW")].run_count == 1
    assert groups[(P_RAW, "ANALYTICS", "RAW", "SCHEDULED_RUN")].run_count == 2
    assert sum(q.run_count for q in queries) == 7
    now = datetime.now(UTC)
    for q in queries:
        assert q.last_seen is not None
        seen = datetime.fromisoformat(q.last_seen)
        assert now - timedelta(days=14) < seen < now + timedelta(minutes=1)
        assert q.tables == ()  # ACCESS_HISTORY does not exist here


P_PASTED = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f07"  # only ever pasted into a worksheet


@pytest.mark.parametrize("access", [False, True])
def test_only_a_comment_on_the_last_line_is_fetched(fake: Any, fake_env: str, access: bool) -> None:
    """Issue 17: a Hex text extended with more SQL is not Hex's, in SQL, with or without
    ACCESS_HISTORY; a `;`, blank lines and CRLF after or before the comment are fine."""
    fct = [("Table", "ANALYTICS.MARTS.FCT_ORDERS")]
    more = "\nunion all select * from analytics.marts.dim_products"
    runs = [
        Run(P_ORDERS, ORDERS_SQL, 2, objects=fct),
        # pasted and extended: the project's own comment, then more SQL
        Run(P_ORDERS, ORDERS_SQL, 3, tail=more, objects=[*fct, ("Table", "X.Y.DIM")]),
        Run(P_PASTED, ORDERS_SQL, 3, tail=more, objects=fct),
        Run(P_PASTED, ORDERS_SQL, 3, tail="\n-- my note"),
        Run(P_PASTED, ORDERS_SQL, 3, tail=" and more"),
        # a Hex comment earlier, another text's comment as the last line: the last one counts
        Run(P_STAGING, "select 1;", 4, schema="STAGING", tail="\n  \n\t"),
        Run(P_RAW, "select 2\r\nfrom customers", 4, schema="RAW", sep="\r\n", tail="\r\n"),
        Run(P_TWIN, hex_text("select 3", P_PASTED, "APP_VIEW") + "\nselect 3", 5),
        Run(P_TWIN, hex_text("select 3", P_PASTED, "APP_VIEW") + "\nselect 3", 6, context="X"),
    ]
    create_history(fake, runs, access_history=access)
    queries = read()
    assert sorted((q.project_id, q.run_count) for q in queries) == [
        (P_ORDERS, 1),
        (P_TWIN, 1),  # its context and project come from the last line, not the first
        (P_TWIN, 1),
        (P_STAGING, 1),
        (P_RAW, 1),
    ]
    by_project = {q.project_id: q for q in queries}
    assert by_project[P_ORDERS].tables == (("ANALYTICS.MARTS.FCT_ORDERS",) if access else ())
    assert by_project[P_STAGING].query_text.endswith("}\n  \n\t")


@pytest.mark.parametrize("access", [False, True])
def test_hex_user_is_applied_in_sql_and_each_group_names_its_user(
    fake: Any, fake_env: str, access: bool
) -> None:
    """Issue 17, class 6: anyone can write Hex's comment; --hex-user counts only the users
    Hex's connections log in as, compared case-insensitively, in SQL."""
    fct = [("Table", "ANALYTICS.MARTS.FCT_ORDERS")]
    runs = [
        Run(P_ORDERS, ORDERS_SQL, 2, objects=fct),
        Run(P_ORDERS, ORDERS_SQL, 3, objects=fct),
        Run(P_ORDERS, ORDERS_SQL, 4, user="JANE", objects=[*fct, ("Table", "X.Y.FORGED")]),
        Run(P_TWIN, ORDERS_SQL, 5, user="HEX_EU"),
        Run(P_STAGING, "select 1", 6, schema="STAGING", user="MALLORY"),
    ]
    create_history(fake, runs, access_history=access)
    everyone = read()
    assert sorted((q.project_id, q.warehouse_user, q.run_count) for q in everyone) == [
        (P_ORDERS, "HEX_SERVICE", 2),
        (P_ORDERS, "JANE", 1),
        (P_TWIN, "HEX_EU", 1),
        (P_STAGING, "MALLORY", 1),
    ]
    only = read(Settings(hex_user=("hex_service", "HEX_EU")))
    assert sorted((q.project_id, q.warehouse_user, q.run_count) for q in only) == [
        (P_ORDERS, "HEX_SERVICE", 2),
        (P_TWIN, "HEX_EU", 1),
    ]
    if access:  # the other user's ACCESS_HISTORY objects stay out too
        assert {t for q in only for t in q.tables} == {"ANALYTICS.MARTS.FCT_ORDERS"}
    assert read(Settings(hex_user=("nobody",))) == []
    with pytest.raises(ConfigError, match="--hex-user auto"):
        read(Settings(hex_user=("auto",)))


def test_latest_text_and_last_seen_win_within_a_group(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY)
    group = by_key(read())[(P_ORDERS, "ANALYTICS", "MARTS", "SCHEDULED_RUN")]
    assert group.query_text.startswith(ORDERS_SQL + "\n-- Hex query metadata:")  # 24h, not 48h
    seen = datetime.fromisoformat(group.last_seen or "")
    assert abs(datetime.now(UTC) - timedelta(hours=24) - seen) < timedelta(minutes=5)


def test_days_narrows_the_window(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY)
    assert {q.project_id for q in read(days=2)} == {P_ORDERS, P_STAGING, P_RAW}  # twin: 72h
    assert {q.project_id for q in read(days=16)} >= {P_OLD}  # 15 days ago
    with pytest.raises(ConfigError, match="--days"):
        read(days=0)


def test_two_projects_running_the_same_sql_stay_two(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY)
    groups = by_key(read())
    mine = groups[(P_ORDERS, "ANALYTICS", "MARTS", "SCHEDULED_RUN")]
    twin = groups[(P_TWIN, "ANALYTICS", "MARTS", "SCHEDULED_RUN")]
    assert mine.query_text.split("\n-- Hex")[0] == twin.query_text.split("\n-- Hex")[0]
    assert f'"project_id": "{P_ORDERS}"' in mine.query_text
    assert f'"project_id": "{P_TWIN}"' in twin.query_text
    assert (mine.run_count, twin.run_count) == (2, 1)


def test_one_part_names_keep_the_rows_database_and_schema(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY)
    groups = by_key(read())
    staging = groups[(P_STAGING, "ANALYTICS", "STAGING", "SCHEDULED_RUN")]
    raw = groups[(P_RAW, "ANALYTICS", "RAW", "SCHEDULED_RUN")]
    assert staging.query_text.startswith("select * from customers\n")
    assert raw.query_text.startswith("select id from customers\n")


def test_same_sql_in_two_schemas_is_two_groups(fake: Any, fake_env: str) -> None:
    runs = [
        Run(P_STAGING, "select * from customers", 5, schema="STAGING"),
        Run(P_STAGING, "select * from customers", 6, schema="RAW"),
        Run(P_STAGING, "select * from customers", 7, schema=None, database=None),
    ]
    create_history(fake, runs)
    assert sorted((q.database or "", q.schema or "") for q in read()) == [
        ("", ""),
        ("ANALYTICS", "RAW"),
        ("ANALYTICS", "STAGING"),
    ]


def test_access_history_is_unioned_per_group(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY, access_history=True)
    groups = by_key(read())
    orders = groups[(P_ORDERS, "ANALYTICS", "MARTS", "SCHEDULED_RUN")]
    # Both runs' objects, functions left out; the join does not inflate the run count.
    assert orders.tables == ("ANALYTICS.MARTS.DIM_PRODUCTS", "ANALYTICS.MARTS.FCT_ORDERS")
    assert orders.run_count == 2
    assert groups[(P_TWIN, "ANALYTICS", "MARTS", "SCHEDULED_RUN")].tables == (
        "ANALYTICS.MARTS.FCT_ORDERS",
    )
    assert groups[(P_STAGING, "ANALYTICS", "STAGING", "SCHEDULED_RUN")].tables == ()
    assert {q.project_id for q in groups.values()} == {P_ORDERS, P_TWIN, P_STAGING, P_RAW}


def test_access_history_base_object_columns_are_read_per_group(fake: Any, fake_env: str) -> None:
    runs = [
        Run(
            P_ORDERS,
            ORDERS_SQL,
            2,
            objects=[("Table", "ANALYTICS.MARTS.FCT_ORDERS")],
            columns=[
                ("ANALYTICS.MARTS.FCT_ORDERS", "ORDER_ID"),
                ("ANALYTICS.MARTS.FCT_ORDERS", "amount"),
            ],
        ),
        Run(
            P_ORDERS,
            ORDERS_SQL + " ",
            3,
            columns=[("ANALYTICS.MARTS.FCT_ORDERS", "ORDER_ID"), ("ANALYTICS.RAW.FX", "RATE")],
        ),
        Run(P_TWIN, ORDERS_SQL, 4, objects=[("Table", "ANALYTICS.MARTS.FCT_ORDERS")]),
    ]
    create_history(fake, runs, access_history=True)
    groups = by_key(read())
    orders = groups[(P_ORDERS, "ANALYTICS", "MARTS", "SCHEDULED_RUN")]
    assert orders.columns == (
        'ANALYTICS.MARTS.FCT_ORDERS."ORDER_ID"',
        'ANALYTICS.MARTS.FCT_ORDERS."amount"',
        'ANALYTICS.RAW.FX."RATE"',
    )
    assert orders.tables == ("ANALYTICS.MARTS.FCT_ORDERS",)
    assert orders.run_count == 2
    assert groups[(P_TWIN, "ANALYTICS", "MARTS", "SCHEDULED_RUN")].columns == ()


def test_no_access_history_flag_skips_it(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY, access_history=True)
    assert all(q.tables == () for q in read(Settings(access_history=False)))


def test_unreadable_access_history_is_said_once_then_parsing_continues(
    fake: Any, fake_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    create_history(fake, HISTORY)
    lines: list[str] = []
    source = sf.SnowflakeSource.from_settings(Settings(), progress=lines.append)
    with caplog.at_level("INFO", logger="hex_exposures"):
        queries = list(source.queries(14))
    source.close()
    assert len(queries) == 5
    notes = [r.getMessage() for r in caplog.records if "ACCESS_HISTORY" in r.getMessage()]
    assert len(notes) == 1 and "parsing SQL alone" in notes[0]
    assert any("5 Hex query groups (7 runs" in line for line in lines)


def test_required_access_history_that_is_missing_fails(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY)
    with pytest.raises(WarehouseError, match="GOVERNANCE_VIEWER") as info:
        read(Settings(access_history=True))
    assert "SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY" in str(info.value)


def test_missing_query_history_names_the_grant(fake: Any, fake_env: str) -> None:
    with pytest.raises(WarehouseError) as info:
        read(Settings(access_history=False))
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "\n" not in message
    assert message.startswith("SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY does not exist or role")
    assert "GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE TO ROLE" in message
    assert "GRANT DATABASE ROLE SNOWFLAKE.GOVERNANCE_VIEWER TO ROLE" in message
    assert fake_env not in message and fake_env not in repr(info.value.__cause__)


def test_a_copy_of_the_views_can_be_read(fake: Any, fake_env: str) -> None:
    create_history(fake, HISTORY[:2], account_usage="AUDIT.HEX_AU")
    queries = read(Settings(account_usage="AUDIT.HEX_AU", access_history=False))
    assert [(q.project_id, q.run_count) for q in queries] == [(P_ORDERS, 2)]
    with pytest.raises(WarehouseError, match=r"GRANT SELECT ON AUDIT\.OTHER\.QUERY_HISTORY"):
        read(Settings(account_usage="AUDIT.OTHER", access_history=False))


def test_the_source_never_shows_the_password(fake: Any, fake_env: str) -> None:
    source = open_warehouse(Settings(), "snowflake")
    try:
        assert fake_env not in repr(source) and fake_env not in str(vars(source))
    finally:
        source.close()


# --- connection selection: fakesnow's server and the real connector -----------------------

_CHILD = """
import json, os, time
from hex_exposures.errors import HexExposuresError
from hex_exposures.records import Settings
from hex_exposures.sources.snowflake import SnowflakeSource

out = {}
for label, name in (("named", "fake"), ("default", None), ("unknown", "nope"), ("broken", None)):
    if label == "broken":  # now the connector's own default name, "default", applies
        del os.environ["SNOWFLAKE_DEFAULT_CONNECTION_NAME"]
    try:
        source = SnowflakeSource.from_settings(Settings(snowflake_connection=name))
        out[label] = [[q.project_id, q.run_count] for q in source.queries(14)]
        source.close()
    except HexExposuresError as err:
        out[label] = {"error": str(err), "exit": err.exit_code}
print(json.dumps(out))
"""


def _toml(name: str, port: int, password: str) -> str:
    return textwrap.dedent(
        f"""
        [{name}]
        account = "fakesnow"
        user = "fake"
        password = "{password}"
        host = "127.0.0.1"
        port = {port}
        protocol = "http"
        database = "SNOWFLAKE"
        network_timeout = 2
        login_timeout = 2

        [{name}.session_parameters]
        CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false
        """
    )


def test_connections_toml_selects_the_connection(tmp_path: Path, no_snowflake_env: None) -> None:
    with fakesnow.server() as kwargs:
        conn = snowflake.connector.connect(**kwargs, paramstyle="qmark")
        try:
            create_history(conn, HISTORY)
        finally:
            conn.close()
        home = tmp_path / "snowflake_home"
        home.mkdir()
        # "default" points at a closed port: choosing it by mistake fails to connect.
        broken_password = "broken-" + uuid.uuid4().hex
        toml = _toml("fake", kwargs["port"], "snow-" + uuid.uuid4().hex) + _toml(
            "default", 9, broken_password
        )
        (home / "connections.toml").write_text(toml, encoding="utf-8")
        (home / "connections.toml").chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWFLAKE_")}
        env.update(SNOWFLAKE_HOME=str(home), SNOWFLAKE_DEFAULT_CONNECTION_NAME="fake")
        child = subprocess.run(
            [sys.executable, "-c", _CHILD],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert child.returncode == 0, child.stderr[-2000:]
    out = json.loads(child.stdout.strip().splitlines()[-1])
    expected = sorted([[P_ORDERS, 2], [P_ORDERS, 1], [P_TWIN, 1], [P_STAGING, 1], [P_RAW, 2]])
    assert sorted(out["named"]) == expected
    assert sorted(out["default"]) == expected
    assert out["unknown"]["exit"] == 2
    assert "'nope'" in out["unknown"]["error"] and "'fake'" in out["unknown"]["error"]
    assert out["broken"]["exit"] == 3
    assert out["broken"]["error"].startswith("Snowflake: could not connect to Snowflake")
    assert broken_password not in child.stdout + child.stderr


# --- end to end: the pipeline and the command line -----------------------------------------

TITLES = {
    P_ORDERS: "Orders",
    P_TWIN: "Orders (copy)",
    P_STAGING: "Customers",
    P_RAW: "CRM customers",
    P_OLD: "Old",
    P_FAILED: "Broken",
}


def shop_manifest() -> dict[str, Any]:
    """A Snowflake project: `customers` is both a staging model's alias and a CRM source."""
    from tests.manifest_factory import manifest, model, source

    return manifest(
        model("fct_orders"),
        model("dim_products"),
        model("stg_customers", schema="staging", alias="customers"),
        source("crm", "customers", database="analytics", schema="raw"),
        adapter="snowflake",
    )


def api_projects() -> list[dict[str, Any]]:
    from tests.servers.hex_server import make_project

    return [
        {**make_project(i), "id": pid, "title": title}
        for i, (pid, title) in zip((2, 3, 4, 5, 6, 8), TITLES.items(), strict=True)
    ]


def expected_dependencies(access: bool) -> dict[str, tuple[str, ...]]:
    return {
        # dim_products is named only by ACCESS_HISTORY (union with the parsed tables)
        P_ORDERS: ("ref('dim_products')", "ref('fct_orders')")
        if access
        else ("ref('fct_orders')",),
        P_TWIN: ("ref('fct_orders')",),
        P_STAGING: ("ref('stg_customers')",),  # `customers` in STAGING context
        P_RAW: ("source('crm', 'customers')",),  # `customers` in RAW context
    }


@pytest.mark.parametrize("access", [True, False])
def test_full_sync_produces_the_expected_exposures(fake: Any, fake_env: str, access: bool) -> None:
    from hex_exposures import pipeline

    create_history(fake, HISTORY, access_history=access)
    settings = Settings(access_history=access or None)
    projects = [HexProject.from_api(p) for p in api_projects()]
    result = pipeline.run(shop_manifest(), projects, read(settings), settings=settings)
    assert result.warehouse == "snowflake"  # from the manifest's adapter_type
    assert {e.project_id: e.depends_on for e in result.exposures} == expected_dependencies(access)
    status = {r.project_id: r.status for r in result.report.projects}
    assert status[P_OLD] == status[P_FAILED] == "not_run"
    for deps in expected_dependencies(access).values():
        for dep in deps:
            assert dep in result.text


def test_cli_snapshot_and_sync_against_snowflake(
    fake: Any,
    fake_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hex_exposures.cli import main
    from tests.servers.hex_server import TOKEN, serve

    create_history(fake, HISTORY, access_history=True)
    project = tmp_path / "shop"
    (project / "models").mkdir(parents=True)
    (project / "target").mkdir()
    (project / "dbt_project.yml").write_text("name: proj\nversion: '1.0'\nprofile: proj\n")
    (project / "target" / "manifest.json").write_text(json.dumps(shop_manifest()))
    output = project / "models" / "hex_exposures.yml"
    snap = tmp_path / "snap.json"
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    with serve(projects=api_projects(), rate_limit=None, lifetime=60) as hex_server:
        common = ["--project-dir", str(project), "--hex-url", hex_server.url, "--no-queried-tables"]
        assert main(["snapshot", "-o", str(snap), *common]) == 0
        assert main(["sync", *common]) == 0
        written = output.read_bytes()
        # A role that cannot read the view: one line naming the grant, exit 3, nothing written.
        fake.cursor().execute("drop table SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY")
        capsys.readouterr()
        output.write_bytes(written + b"# a person's comment\n")
        assert main(["sync", *common]) == 3
        err = capsys.readouterr().err
    assert output.read_bytes() == written + b"# a person's comment\n"
    [line] = [x for x in err.splitlines() if "error" in x]
    assert "GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE" in line
    assert "SNOWFLAKE.GOVERNANCE_VIEWER" in line
    assert fake_env not in err and TOKEN not in err

    data = snapshot_doc(snap)
    assert (data["format"], data["version"], data["warehouse"]) == (
        "hex-exposures-snapshot",
        2,
        "snowflake",
    )
    assert {p["id"] for p in data["projects"]} == set(TITLES)
    rows = {(q["project_id"], q["schema"], q["run_count"]) for q in data["queries"]}
    assert rows == {
        (P_ORDERS, "MARTS", 2),
        (P_ORDERS, "MARTS", 1),
        (P_TWIN, "MARTS", 1),
        (P_STAGING, "STAGING", 1),
        (P_RAW, "RAW", 2),
    }
    assert fake_env not in snap.read_text() and TOKEN not in snap.read_text()
    text = written.decode()
    for deps in expected_dependencies(True).values():
        for dep in deps:
            assert dep in text
    # The snapshot alone reproduces the live sync.
    output.write_bytes(written)
    offline = ["check", "--project-dir", str(project), "--from-snapshot", str(snap)]
    assert main([*offline, "--hex-url", data["hex_url"]]) == 0


# --- --hex-user on the command line (issue 17, class 6) -------------------------------------

CONNECTION_ID = "9b0c1d2e-0000-4000-8000-00000000c001"


def test_cli_hex_user_explicit_repeated_auto_and_from_a_snapshot(
    fake: Any,
    fake_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A forged comment (MALLORY's) adds dim_products to Orders unless --hex-user keeps to
    the user Hex's connection logs in as; report lists both users so a team can choose."""
    from hex_exposures.cli import main
    from tests.servers.hex_server import TOKEN, make_connection, serve

    forged = "select * from analytics.marts.dim_products"
    create_history(fake, [*HISTORY, Run(P_ORDERS, forged, 1, user="MALLORY")])
    project = tmp_path / "shop"
    (project / "models").mkdir(parents=True)
    (project / "target").mkdir()
    (project / "dbt_project.yml").write_text("name: proj\nversion: '1.0'\nprofile: proj\n")
    (project / "target" / "manifest.json").write_text(json.dumps(shop_manifest()))
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    conn = make_connection(CONNECTION_ID, "snowflake", "Snowflake prod", username="hex_service")
    snap = tmp_path / "snap.jsonl"

    errors: list[str] = []

    def report(*args: str) -> dict[str, Any]:
        capsys.readouterr()
        assert main(["report", "--format", "json", *common, *args]) == 0
        out, err = capsys.readouterr()
        errors.append(err)
        return dict(json.loads(out))

    def orders(doc: dict[str, Any]) -> list[str]:
        return next(p["depends_on"] for p in doc["projects"] if p["project_id"] == P_ORDERS)

    def users(doc: dict[str, Any]) -> dict[str, int]:
        return {u["user"]: u["runs"] for u in doc["warehouse_users"]}

    with serve(projects=api_projects(), connections=[conn], rate_limit=None, lifetime=60) as hx:
        common = ["--project-dir", str(project), "--hex-url", hx.url, "--no-queried-tables"]
        everyone = report()
        assert orders(everyone) == ["ref('dim_products')", "ref('fct_orders')"]
        assert users(everyone) == {"HEX_SERVICE": 7, "MALLORY": 1}
        assert not any("data-connections" in r.path for r in hx.requests)

        hex_only = report("--hex-user", "hex_service")
        assert orders(hex_only) == ["ref('fct_orders')"]
        assert users(hex_only) == {"HEX_SERVICE": 7}
        both = report("--hex-user", "HEX_SERVICE", "--hex-user", "mallory")
        assert orders(both) == orders(everyone) and users(both) == users(everyone)

        auto = report("--hex-user", "auto")
        assert auto == hex_only
        assert "hex-exposures: --hex-user auto: hex_service (Hex's data connections)" in errors[-1]
        assert sum(r.path.endswith("/data-connections") for r in hx.requests) == 1

        capsys.readouterr()
        assert main(["snapshot", "-o", str(snap), *common, "--hex-user", "auto"]) == 0
    doc = snapshot_doc(snap)
    assert doc["hex_users"] == ["hex_service"]
    assert {q["warehouse_user"] for q in doc["queries"]} == {"HEX_SERVICE"}

    offline = ["--project-dir", str(project), "--from-snapshot", str(snap)]
    common = offline
    assert report("--hex-user", "auto") == hex_only
    assert report() == hex_only  # the capture holds only Hex's user
    assert report("--hex-user", "mallory")["warehouse_users"] == []


@pytest.mark.parametrize("access", [False, True])
def test_a_projects_temp_table_shadows_its_later_reads_live_and_from_a_snapshot(
    fake: Any, fake_env: str, access: bool, tmp_path: Path
) -> None:
    """Issue 17: rows read from QUERY_HISTORY (and ACCESS_HISTORY, which names the temp table
    like any table) with a temp table made in one text and read in another: that project
    loses the dependency, the other project reading the same name keeps it."""
    from hex_exposures import pipeline
    from hex_exposures.sources import snapshot

    fct = [("Table", "ANALYTICS.MARTS.FCT_ORDERS")]
    runs = [
        Run(P_ORDERS, "create temporary table fct_orders as select 1 as order_id", 2),
        Run(P_ORDERS, "select * from fct_orders", 1, objects=fct),
        Run(P_ORDERS, "select * from analytics.marts.dim_products", 1),
        Run(P_TWIN, "select * from fct_orders", 1, objects=fct),
    ]
    create_history(fake, runs, access_history=access)
    settings = Settings(access_history=access or None, columns=False)
    projects = [HexProject.from_api(p) for p in api_projects()]
    live = read(settings)
    path = tmp_path / "snap.jsonl"
    path.write_text(
        snapshot.dumps(
            projects,
            live,
            warehouse="snowflake",
            workspace="acme",
            hex_url="https://app.hex.tech",
            captured_at="2026-01-01T00:00:00Z",
        )
    )
    for queries in (live, list(snapshot.load(str(path)).queries)):
        result = pipeline.run(shop_manifest(), projects, queries, settings=settings)
        deps = {e.project_id: e.depends_on for e in result.exposures}
        assert deps == {P_ORDERS: ("ref('dim_products')",), P_TWIN: ("ref('fct_orders')",)}
        orders = next(p for p in result.report.projects if p.project_id == P_ORDERS)
        assert {s["table"] for s in orders.shadowed} == {"ANALYTICS.MARTS.FCT_ORDERS"}
