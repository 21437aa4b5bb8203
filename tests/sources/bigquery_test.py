"""The BigQuery source: the real google-cloud-bigquery client against a loopback jobs API.

The loopback server (tests/servers/bigquery_server.py) runs the SQL it receives on DuckDB
over a fake INFORMATION_SCHEMA.JOBS_BY_PROJECT, so filters, grouping and the `@days`
parameter are exercised, not just the HTTP calls.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import sqlglot
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from sqlglot import exp

from hex_exposures.errors import ConfigError, MissingExtraError, WarehouseError
from hex_exposures.identifiers import parse_table_name
from hex_exposures.records import HexProject, HexQuery, Settings, TableRef
from hex_exposures.sources import bigquery as bq
from hex_exposures.sources import open_warehouse
from tests.servers.bigquery_server import NOW, BigQueryServer, Failure, Job
from tests.snapshot_lines import snapshot_doc

PROJECT_A = "4e500000-0000-0000-0000-00000000000a"
PROJECT_B = "4e500000-0000-0000-0000-00000000000b"
SA = "hex@my-proj.iam.gserviceaccount.com"  # the Job default: Hex's connection's account


def hex_sql(sql: str, project_id: str, context: str = "SCHEDULED_RUN", trace_id: str = "") -> str:
    """A query as Hex sends it: the statement, then its metadata comment on the last line.

    Hex sends 32 hex digits as trace_id; the source blanks it in SQL, so tests that compare
    texts leave it blank and the one about grouping sets it."""
    meta = {
        "categories": ["Finance"],
        "cell_type": "SQL",
        "connection": "BigQuery prod",
        "context": context,
        "project_id": project_id,
        "project_name": "Weekly numbers",
        "project_url": f"https://app.hex.tech/acme/hex/{project_id}/draft/logic",
        "status": "Production",
        "trace_id": trace_id,
        "user_email": "ana@acme.com",
    }
    return f"{sql}\n-- Hex query metadata: {json.dumps(meta, sort_keys=True)}"


def ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this, ADC would ask the GCE metadata server (the network) for credentials."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[BigQueryServer] = []

    def start(
        jobs: Mapping[tuple[str, str], Sequence[Job]], **kw: Any
    ) -> tuple[BigQueryServer, Any]:
        server = BigQueryServer(jobs, lifetime=20, **kw).start()
        servers.append(server)

        def factory(project: str) -> bigquery.Client:
            return bigquery.Client(
                project=project,
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": server.url},
            )

        return server, factory

    yield start
    for server in servers:
        server.stop()
        assert server.unhandled == []


def read(factory: Any, days: int = 14, **settings: Any) -> list[HexQuery]:
    source = bq.BigQuerySource.from_settings(Settings(**settings), client_factory=factory)
    try:
        return sorted(source.queries(days))
    finally:
        source.close()


# --- the SQL ------------------------------------------------------------------------------


def test_sql_parses_as_bigquery_and_reads_the_regional_jobs_view() -> None:
    tree = sqlglot.parse_one(bq.jobs_sql("example.com:my-proj", "europe-west2"), read="bigquery")
    views = [t for t in tree.find_all(exp.Table) if t.name.endswith("JOBS_BY_PROJECT")]
    assert [(t.catalog, t.db) for t in views] == [("example.com:my-proj", "region-europe-west2")]
    assert [p.name for p in tree.find_all(exp.Parameter)] == ["days"]
    tree = sqlglot.parse_one(bq.jobs_sql("my-proj", "us", users=True), read="bigquery")
    assert sorted(p.name for p in tree.find_all(exp.Parameter)) == ["days", "hex_users"]


@pytest.mark.parametrize(
    ("region", "location"),
    [("us", "US"), ("eu", "EU"), ("europe-west2", "europe-west2"), ("asia-east2", "asia-east2")],
)
def test_location_matches_the_region_qualifier(region: str, location: str) -> None:
    assert bq.location_for(region) == location


@pytest.mark.parametrize(
    "settings",
    [
        {"bigquery_project": ("my-proj`; DROP TABLE x; --",)},
        {"bigquery_project": ("My-Proj",)},
        {"bigquery_project": ("my-proj",), "bigquery_region": ("us west",)},
        {"bigquery_project": ("my-proj",), "bigquery_region": ("us`.x",)},
    ],
)
def test_identifiers_spliced_into_the_sql_are_validated(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="--bigquery-"):
        bq.BigQuerySource.from_settings(Settings(**settings), client_factory=pytest.fail)


def test_no_project_anywhere_names_the_option() -> None:
    with pytest.raises(ConfigError, match="--bigquery-project"):
        bq.BigQuerySource.from_settings(Settings(), client_factory=pytest.fail)


def test_projects_default_to_the_manifest_and_regions_to_us() -> None:
    made: list[str] = []

    def factory(project: str) -> object:
        made.append(project)
        return object()

    source = bq.BigQuerySource.from_settings(
        Settings(bigquery_region=("US", "region-europe-west2")),
        default_projects=["my-proj", "raw-data-proj", "my-proj"],
        client_factory=factory,
    )
    assert (source.projects, source.regions) == (
        ("my-proj", "raw-data-proj"),
        ("us", "europe-west2"),
    )
    given = bq.BigQuerySource.from_settings(
        Settings(bigquery_project=("billing-proj",)),
        default_projects=["my-proj"],
        client_factory=factory,
    )
    assert (given.projects, given.regions) == (("billing-proj",), ("us",))
    assert made == ["my-proj", "billing-proj"]


# --- reading history through the real client --------------------------------------------

ORDERS = (("my-proj", "Dbt_Marts", "Orders"),)


def test_history_is_filtered_grouped_and_aggregated_in_sql(serve: Any) -> None:
    def q1(trace: str) -> str:
        return hex_sql("SELECT * FROM `Dbt_Marts`.`Orders`", PROJECT_A, trace_id=trace * 32)

    q2 = hex_sql("SELECT * FROM Dbt_Marts.Payments", PROJECT_B)
    script = hex_sql("DECLARE d DATE; SELECT * FROM Dbt_Marts.Refunds", PROJECT_B)
    jobs = [
        # three runs of q1, each with its own trace_id as Hex sends them; the two cached
        # ones have no referenced_tables
        Job(q1("a"), ago(days=3), ORDERS),
        Job(q1("b"), ago(hours=2), cache_hit=True),
        Job(q1("c"), ago(hours=1), cache_hit=True),
        # what must not count
        Job(q2, ago(days=1), error_reason="accessDenied"),
        Job(q2, ago(minutes=5), state="RUNNING"),
        Job(q2, ago(days=20), (("my-proj", "Dbt_Marts", "Payments"),)),
        Job("SELECT 1 -- not Hex", ago(days=1)),
        Job(q1("d"), ago(days=1), job_type="LOAD"),
        # a script: the parent counts, its child statement does not
        Job(script, ago(days=2), statement_type="SCRIPT", job_id="parent_1"),
        Job("SELECT * FROM Dbt_Marts.Refunds", ago(days=2), parent_job_id="parent_1"),
        Job(script, ago(days=2), parent_job_id="parent_1"),
    ]
    server, factory = serve({("my-proj", "us"): jobs})
    got = read(factory, bigquery_project=("my-proj",))

    assert got == [
        HexQuery(
            PROJECT_A,
            q1(""),  # the trace_id blanked in SQL, so the three runs are one record
            "my-proj",
            None,
            3,
            ago(hours=1).isoformat(),
            (),
            ("`my-proj`.`Dbt_Marts`.`Orders`",),
            warehouse_user=SA,
        ),
        HexQuery(PROJECT_B, script, "my-proj", None, 1, ago(days=2).isoformat(), warehouse_user=SA),
    ]
    [insert] = server.inserts()
    assert insert.location == "US"
    assert insert.parameters == [
        {"name": "days", "parameterType": {"type": "INT64"}, "parameterValue": {"value": "14"}}
    ]
    assert insert.query == bq.jobs_sql("my-proj", "us")


def test_only_a_comment_on_the_last_line_is_fetched(serve: Any) -> None:
    """Issue 17: a Hex text extended with more SQL is not Hex's; the server runs the filter
    (DuckDB's RE2, as BigQuery's), so a regex that ignored the end of the text would fail."""
    pasted = "6f1c2a8e-1d7b-4c2e-9a0e-3b5d7c9e1f07"
    hex_text = hex_sql("SELECT * FROM Dbt_Marts.Orders", PROJECT_A)
    ended = hex_sql("SELECT * FROM Dbt_Marts.Payments;", PROJECT_B) + "\n  \n\t"
    crlf = hex_sql("SELECT 1\r\nFROM Dbt_Marts.Refunds", PROJECT_B).replace("\n", "\r\n")
    earlier = hex_sql("SELECT 2", pasted) + "\n" + hex_sql("SELECT 2", PROJECT_A, "APP_VIEW")
    jobs = [
        Job(hex_text, ago(days=1), ORDERS),
        Job(
            hex_sql("SELECT * FROM Dbt_Marts.Orders", pasted) + "\nUNION ALL SELECT 3", ago(hours=3)
        ),
        Job(hex_text + "\nUNION ALL SELECT * FROM Dbt_Marts.Secret", ago(hours=2), ORDERS),
        Job(hex_text + "\n-- a person's note", ago(hours=2)),
        Job(hex_text + " AND more", ago(hours=2)),
        Job(ended, ago(hours=4)),
        Job(crlf + "\r\n", ago(hours=5)),
        Job(earlier, ago(hours=6)),
    ]
    _, factory = serve({("my-proj", "us"): jobs})
    got = read(factory, bigquery_project=("my-proj",))
    assert sorted((q.project_id, q.query_text) for q in got) == sorted(
        [
            (PROJECT_A, hex_text),
            (PROJECT_B, ended),
            (PROJECT_B, crlf + "\r\n"),
            (PROJECT_A, earlier),  # the last line's project, not the first comment's
        ]
    )
    assert all(q.run_count == 1 for q in got)


def test_hex_user_is_an_array_parameter_the_server_really_filters_on(serve: Any) -> None:
    """Issue 17, class 6: only the users Hex's connections log in as, emails compared in
    lower case; every record names its user (so report can count them)."""
    sa = "hex@my-proj.iam.gserviceaccount.com"
    q = hex_sql("SELECT * FROM Dbt_Marts.Orders", PROJECT_A)
    jobs = [
        Job(q, ago(days=1), ORDERS, user_email=sa),
        Job(q, ago(days=2), ORDERS, user_email=sa),
        Job(q, ago(days=1), (("my-proj", "Dbt_Marts", "Secret"),), user_email="eve@acme.com"),
        Job(hex_sql("SELECT 1", PROJECT_B), ago(days=1), user_email="HEX-EU@my-proj.iam.x"),
    ]
    server, factory = serve({("my-proj", "us"): jobs})
    everyone = read(factory, bigquery_project=("my-proj",))
    assert sorted((q.project_id, q.warehouse_user, q.run_count) for q in everyone) == [
        (PROJECT_A, "eve@acme.com", 1),
        (PROJECT_A, sa, 2),
        (PROJECT_B, "HEX-EU@my-proj.iam.x", 1),
    ]
    users = (sa.upper(), "hex-eu@my-proj.iam.x")
    only = read(factory, bigquery_project=("my-proj",), hex_user=users)
    assert sorted((q.project_id, q.warehouse_user, q.run_count) for q in only) == [
        (PROJECT_A, sa, 2),
        (PROJECT_B, "HEX-EU@my-proj.iam.x", 1),
    ]
    assert only[0].fallback_tables == ("`my-proj`.`Dbt_Marts`.`Orders`",)
    insert = server.inserts()[-1]
    assert insert.query == bq.jobs_sql("my-proj", "us", users=True)
    assert insert.parameters is not None and insert.parameters[1] == {
        "name": "hex_users",
        "parameterType": {"type": "ARRAY", "arrayType": {"type": "STRING"}},
        "parameterValue": {"arrayValues": [{"value": sa}, {"value": "hex-eu@my-proj.iam.x"}]},
    }
    assert read(factory, bigquery_project=("my-proj",), hex_user=("nobody@x",)) == []


def test_days_is_a_parameter_that_widens_the_window(serve: Any) -> None:
    q = hex_sql("SELECT * FROM Dbt_Marts.Payments", PROJECT_B)
    server, factory = serve({("my-proj", "us"): [Job(q, ago(days=20))]})
    assert read(factory, days=14, bigquery_project=("my-proj",)) == []
    [found] = read(factory, days=30, bigquery_project=("my-proj",))
    assert found.project_id == PROJECT_B
    assert [i.parameters[0]["parameterValue"]["value"] for i in server.inserts()] == ["14", "30"]
    assert server.inserts()[0].query == server.inserts()[1].query


@pytest.mark.parametrize(("max_page_bytes", "tokens"), [(20 * 2**20, 2), (1, 4)])
def test_rows_stream_over_pages(
    serve: Any, monkeypatch: pytest.MonkeyPatch, max_page_bytes: int, tokens: int
) -> None:
    """5 rows at 2 a page: 2 + 2 + 1; pages BigQuery trims by size (here 1 row) are followed."""
    monkeypatch.setattr(bq, "PAGE_SIZE", 2)
    texts = [hex_sql(f"SELECT {i} AS n FROM Dbt_Marts.Orders", PROJECT_A) for i in range(5)]
    server, factory = serve(
        {("my-proj", "us"): [Job(t, ago(days=1), ORDERS) for t in texts]},
        pending_polls=1,
        max_page_bytes=max_page_bytes,
    )
    got = read(factory, bigquery_project=("my-proj",))
    assert sorted(q.query_text for q in got) == sorted(texts)
    pages = [r for r in server.requests if "/queries/" in r.path and r.params.get("maxResults")]
    assert {r.params["maxResults"] for r in pages} == {"2"}
    assert sum("pageToken" in r.params for r in pages) == tokens


def test_every_project_and_region_is_queried_in_its_location(serve: Any) -> None:
    us = hex_sql("SELECT * FROM Dbt_Marts.Orders", PROJECT_A)
    eu = hex_sql("SELECT * FROM Dbt_Marts_EU.Orders", PROJECT_B)
    other = hex_sql("SELECT * FROM Reporting.Daily", PROJECT_B)
    server, factory = serve(
        {
            ("my-proj", "us"): [Job(us, ago(days=1))],
            ("my-proj", "europe-west2"): [Job(eu, ago(days=2))],
            ("billing-proj", "us"): [Job(other, ago(days=3))],
            ("billing-proj", "europe-west2"): [],
        }
    )
    got = read(
        factory,
        bigquery_project=("my-proj", "billing-proj"),
        bigquery_region=("us", "europe-west2"),
    )
    assert {(q.query_text, q.database) for q in got} == {
        (us, "my-proj"),
        (eu, "my-proj"),
        (other, "billing-proj"),
    }
    assert sorted((i.path, i.location) for i in server.inserts()) == [
        ("/bigquery/v2/projects/billing-proj/jobs", "US"),
        ("/bigquery/v2/projects/billing-proj/jobs", "europe-west2"),
        ("/bigquery/v2/projects/my-proj/jobs", "US"),
        ("/bigquery/v2/projects/my-proj/jobs", "europe-west2"),
    ]


def test_fallback_tables_parse_back_in_the_bigquery_dialect(serve: Any) -> None:
    q = hex_sql("SELECT * FROM x", PROJECT_A)
    # table names may hold spaces, dashes and any letter; each part is quoted on its own
    refs = (("my-proj", "Dbt_Marts", "Orders"), ("raw-data-proj", "Stripe_Raw", "Charges 2024-é"))
    _, factory = serve({("my-proj", "us"): [Job(q, ago(days=1), refs)]})
    [found] = read(factory, bigquery_project=("my-proj",))
    assert [parse_table_name(t, "bigquery") for t in found.fallback_tables] == [
        TableRef("my-proj", "Dbt_Marts", "Orders"),
        TableRef("raw-data-proj", "Stripe_Raw", "Charges 2024-é"),
    ]


def test_emulator_host_gets_anonymous_credentials(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = hex_sql("SELECT * FROM Dbt_Marts.Orders", PROJECT_A)
    server, _ = serve({("my-proj", "us"): [Job(q, ago(days=1))]})
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", server.url)  # ADC would fail (fixture above)
    source = open_warehouse(Settings(), "bigquery", default_projects=["my-proj"])
    try:
        assert [q.project_id for q in source.queries(14)] == [PROJECT_A]
    finally:
        source.close()


# --- errors: one line, exit 3, naming what to grant or set -------------------------------


def _one_line_source_error(err: pytest.ExceptionInfo[WarehouseError]) -> str:
    text = str(err.value)
    assert "\n" not in text and err.value.exit_code == 3 and err.value.__cause__ is not None
    return text


@pytest.mark.parametrize("on_insert", [True, False])
def test_permission_denied_names_the_permission_roles_and_project(
    serve: Any, on_insert: bool
) -> None:
    denied = Failure(
        403,
        "accessDenied",
        "Access Denied: Table my-proj:region-us.INFORMATION_SCHEMA.JOBS_BY_PROJECT: User does "
        "not have permission to query table my-proj:region-us.INFORMATION_SCHEMA.JOBS_BY_PROJECT",
        on_insert,
    )
    _, factory = serve({("my-proj", "us"): []}, failures={("my-proj", "us"): denied})
    with pytest.raises(WarehouseError) as err:
        read(factory, bigquery_project=("my-proj",))
    text = _one_line_source_error(err)
    for needle in ("bigquery.jobs.listAll", "roles/bigquery.resourceViewer", "project my-proj"):
        assert needle in text
    assert type(err.value.__cause__).__name__ == "Forbidden"


def test_a_manifest_default_project_says_how_to_choose_others(serve: Any) -> None:
    denied = Failure(403, "accessDenied", "Access Denied", True)
    _, factory = serve({}, failures={("bigquery-public-data", "us"): denied})
    source = bq.BigQuerySource.from_settings(
        Settings(), default_projects=["bigquery-public-data"], client_factory=factory
    )
    with pytest.raises(WarehouseError, match="taken from the manifest; pass --bigquery-project"):
        list(source.queries(14))


def test_a_passing_rate_limit_is_retried_by_the_client(serve: Any) -> None:
    q = hex_sql("SELECT * FROM Dbt_Marts.Orders", PROJECT_A)
    limited = Failure(403, "rateLimitExceeded", "Exceeded rate limits", True, times=1)
    server, factory = serve(
        {("my-proj", "us"): [Job(q, ago(days=1))]}, failures={("my-proj", "us"): limited}
    )
    assert [r.project_id for r in read(factory, bigquery_project=("my-proj",))] == [PROJECT_A]
    assert len(server.inserts()) == 2


def test_a_lasting_rate_limit_is_not_reported_as_a_permission() -> None:
    # The client retries rate limits for 10 minutes, then gives up with a RetryError.
    from google.api_core import exceptions as api

    limited = api.Forbidden(
        "Exceeded rate limits", errors=[{"reason": "rateLimitExceeded", "message": "x"}]
    )
    err = bq._translate(
        api.RetryError("Deadline exceeded", cause=limited), "my-proj", "us", from_manifest=False
    )
    assert isinstance(err, WarehouseError)
    assert "rate limit" in str(err) and "listAll" not in str(err)


def test_a_region_without_the_view_points_at_the_region_option(serve: Any) -> None:
    _, factory = serve({("my-proj", "us"): []})
    with pytest.raises(WarehouseError) as err:
        read(factory, bigquery_project=("my-proj",), bigquery_region=("us", "xx-nowhere1"))
    text = _one_line_source_error(err)
    assert "--bigquery-region" in text and "region-xx-nowhere1" in text
    assert "not found in location xx-nowhere1" in text


def test_a_query_the_server_rejects_is_one_line_with_its_status(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        bq, "JOBS_SQL", bq.JOBS_SQL.replace("error_result IS NULL", "errors IS NULL")
    )
    _, factory = serve({("my-proj", "us"): []})
    with pytest.raises(WarehouseError) as err:
        read(factory, bigquery_project=("my-proj",))
    text = _one_line_source_error(err)
    assert "(400)" in text and "errors" in text and "project my-proj region-us" in text


def test_days_must_be_positive(serve: Any) -> None:
    _, factory = serve({("my-proj", "us"): []})
    with pytest.raises(ConfigError, match="--days"):
        read(factory, days=0, bigquery_project=("my-proj",))


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(WarehouseError) as err:
        bq.BigQuerySource.from_settings(Settings(bigquery_project=("my-proj",)))
    text = _one_line_source_error(err)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in text
    assert "gcloud auth application-default login" in text


def test_missing_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.cloud

    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    monkeypatch.delattr(google.cloud, "bigquery")
    with pytest.raises(MissingExtraError, match=r"hex-exposures\[bigquery\]"):
        bq.BigQuerySource.from_settings(Settings(bigquery_project=("my-proj",)))


# --- the full sync on a BigQuery-flavoured manifest --------------------------------------


def _manifest() -> dict[str, Any]:
    from tests import manifest_factory as mf

    return mf.manifest(
        mf.model("orders", database="my-proj", schema="Dbt_Marts", alias="Orders"),
        mf.model("customers_v", database="my-proj", schema="Dbt_Marts", materialized="view"),
        mf.model("stg_customers", database="my-proj", schema="Dbt_Staging"),
        mf.model("payments", database="my-proj", schema="Dbt_Marts", alias="Payments"),
        mf.model("refunds", database="my-proj", schema="Dbt_Marts", alias="Refunds"),
        mf.source(
            "stripe", "charges", database="raw-data-proj", schema="Stripe_Raw", identifier="Charges"
        ),
        adapter="bigquery",
    )


def _history() -> dict[tuple[str, str], list[Job]]:
    view = hex_sql(
        "SELECT o.order_id, c.name\nFROM `Dbt_Marts`.`Orders` AS o\n"
        "JOIN `my-proj.Dbt_Marts.customers_v` AS c USING (customer_id)",
        PROJECT_A,
    )
    source = hex_sql("SELECT * FROM `raw-data-proj`.Stripe_Raw.Charges", PROJECT_A, "APP_VIEW")
    wrong_case = hex_sql("SELECT * FROM dbt_marts.orders", PROJECT_A)
    # valid GoogleSQL that sqlglot cannot parse: referenced_tables is the evidence
    unparsed = hex_sql(
        "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=10, delta=.01, "
        "privacy_unit_column=customer_id) SUM(amount) AS total FROM Dbt_Marts.Payments",
        PROJECT_B,
    )
    failed = hex_sql("SELECT * FROM Dbt_Marts.Refunds", PROJECT_B)
    return {
        ("my-proj", "us"): [
            # the view's run lists its base table, not the view: parsing wins
            Job(view, ago(days=2), (*ORDERS, ("my-proj", "Dbt_Staging", "stg_customers"))),
            Job(view, ago(hours=3), cache_hit=True),
            Job(source, ago(days=1), (("raw-data-proj", "Stripe_Raw", "Charges"),)),
            Job(wrong_case, ago(days=1)),
            Job(unparsed, ago(days=4), (("my-proj", "Dbt_Marts", "Payments"),)),
            Job(failed, ago(days=1), error_reason="invalidQuery"),
        ],
        ("raw-data-proj", "us"): [],
    }


def _hex_projects() -> list[HexProject]:
    from tests.servers.hex_server import make_project

    return [
        HexProject.from_api({**make_project(0), "id": PROJECT_A, "title": "Weekly Revenue"}),
        HexProject.from_api({**make_project(3), "id": PROJECT_B, "title": "Payments (private)"}),
    ]


def test_full_sync_writes_the_expected_exposures(serve: Any) -> None:
    from hex_exposures import pipeline

    manifest = _manifest()
    server, factory = serve(_history())
    source = bq.BigQuerySource.from_settings(
        Settings(), default_projects=["my-proj", "raw-data-proj"], client_factory=factory
    )
    try:
        queries = list(source.queries(14))
    finally:
        source.close()
    result = pipeline.run(manifest, _hex_projects(), queries, settings=Settings())

    assert {e.project_id: e.depends_on for e in result.exposures} == {
        PROJECT_A: ("ref('customers_v')", "ref('orders')", "source('stripe', 'charges')"),
        PROJECT_B: ("ref('payments')",),
    }
    assert {e.project_id: e.name for e in result.exposures} == {
        PROJECT_A: "hex_weekly_revenue",
        PROJECT_B: "hex_payments_private",
    }
    assert "depends_on:\n      - ref('customers_v')" in result.text
    report = {p.project_id: p for p in result.report.projects}
    assert report[PROJECT_A].unmatched == ("my-proj.dbt_marts.orders",)
    assert report[PROJECT_A].runs == 4 and report[PROJECT_B].unparsed == 1
    assert {i.path for i in server.inserts()} == {
        "/bigquery/v2/projects/my-proj/jobs",
        "/bigquery/v2/projects/raw-data-proj/jobs",
    }


# --- the CLI against BigQuery (loopback Hex API + BIGQUERY_EMULATOR_HOST) -----------------


@pytest.fixture
def dbt_project(tmp_path: Any) -> Any:
    (tmp_path / "dbt_project.yml").write_text("name: proj\nprofile: proj\nmodel-paths: [models]\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(_manifest()))
    return tmp_path


@pytest.fixture
def live(serve: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from tests.servers import hex_server

    projects = [dict(p.raw) for p in _hex_projects()]
    with hex_server.serve(projects=projects, rate_limit=None, lifetime=20) as hex_api:
        monkeypatch.setenv("HEX_URL", hex_api.url)
        monkeypatch.setenv("HEX_API_TOKEN", hex_server.TOKEN)

        def start(**kw: Any) -> BigQueryServer:
            server, _ = serve(_history(), **kw)
            monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", server.url)
            return server

        yield start


def _depends_on(path: Any) -> dict[str, list[str]]:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(path.read_text())
    return {e["name"]: e["depends_on"] for e in doc["exposures"]}


def test_cli_sync_and_snapshot_against_bigquery(
    live: Any, dbt_project: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from hex_exposures.cli import main

    live()
    assert main(["sync", "--project-dir", str(dbt_project)]) == 0
    written = dbt_project / "models" / "hex_exposures.yml"
    assert _depends_on(written) == {
        "hex_payments_private": ["ref('payments')"],
        "hex_weekly_revenue": [
            "ref('customers_v')",
            "ref('orders')",
            "source('stripe', 'charges')",
        ],
    }

    snap = dbt_project / "snap.json"
    assert main(["snapshot", "-o", str(snap), "--project-dir", str(dbt_project)]) == 0
    doc = snapshot_doc(snap)
    assert doc["warehouse"] == "bigquery"
    assert {(q["project_id"], q["database"], q["run_count"]) for q in doc["queries"]} == {
        (PROJECT_A, "my-proj", 2),
        (PROJECT_A, "my-proj", 1),
        (PROJECT_B, "my-proj", 1),
    }
    from tests.servers.hex_server import TOKEN

    assert TOKEN not in snap.read_text() and TOKEN not in capsys.readouterr().err

    # the snapshot reproduces the live run offline, byte for byte
    before = written.read_bytes()
    written.unlink()
    offline = ["sync", "--project-dir", str(dbt_project), "--from-snapshot", str(snap)]
    assert main(offline) == 0
    assert written.read_bytes() == before


def test_cli_permission_error_exits_3_and_writes_nothing(
    live: Any, dbt_project: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from hex_exposures.cli import main

    live(failures={("my-proj", "us"): Failure(403, "accessDenied", "Access Denied", True)})
    snap = dbt_project / "snap.json"
    assert main(["sync", "--project-dir", str(dbt_project)]) == 3
    assert main(["snapshot", "-o", str(snap), "--project-dir", str(dbt_project)]) == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 2 and all("bigquery.jobs.listAll" in line for line in errors)
    assert not (dbt_project / "models" / "hex_exposures.yml").exists() and not snap.exists()


def test_cli_hex_user_auto_without_a_user_from_hex_counts_every_user(
    serve: Any, dbt_project: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Hex documents no user for BigQuery connections: auto says so in one line and keeps
    every user (the default), while an explicit email still filters in SQL."""
    from hex_exposures.cli import main
    from tests.servers import hex_server

    projects = [dict(p.raw) for p in _hex_projects()]
    bq_conn = hex_server.make_connection("c-bq", "bigquery", "BigQuery prod", projectId="my-proj")
    with hex_server.serve(
        projects=projects, connections=[bq_conn], rate_limit=None, lifetime=20
    ) as hex_api:
        monkeypatch.setenv("HEX_URL", hex_api.url)
        monkeypatch.setenv("HEX_API_TOKEN", hex_server.TOKEN)
        server, _ = serve(_history())
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", server.url)
        args = ["report", "--project-dir", str(dbt_project), "--format", "json"]
        capsys.readouterr()
        assert main([*args, "--hex-user", "auto", "--no-queried-tables"]) == 0
        out, err = capsys.readouterr()
        assert [line for line in err.splitlines() if "--hex-user" in line] == [
            "hex-exposures: --hex-user auto found no warehouse user: Hex names no user for its "
            "1 bigquery data connection(s); counting every user"
        ]
        assert json.loads(out)["warehouse_users"] == [{"user": SA, "queries": 4, "runs": 5}]
        assert all(len(i.parameters or ()) == 1 for i in server.inserts())  # no filter
        assert main([*args, "--hex-user", "eve@acme.com", "--no-queried-tables"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["warehouse_users"] == [] and doc["summary"]["queries"] == 0
        assert server.inserts()[-1].parameters[1]["parameterValue"] == {  # type: ignore[index]
            "arrayValues": [{"value": "eve@acme.com"}]
        }


def test_a_projects_temp_table_shadows_its_bare_reads_in_other_jobs(serve: Any) -> None:
    """Issue 17: jobs read from the loopback JOBS view; a temp table one of a project's jobs
    creates is what its other jobs' bare reads name; another project's bare read is the
    model; `_SESSION.` names are never tables."""
    from hex_exposures import pipeline

    history = {
        ("my-proj", "us"): [
            Job(
                hex_sql("CREATE TEMP TABLE Orders AS SELECT 1 AS order_id", PROJECT_A), ago(days=1)
            ),
            Job(hex_sql("SELECT * FROM Orders", PROJECT_A), ago(hours=5)),
            Job(hex_sql("SELECT * FROM _SESSION.Payments", PROJECT_A), ago(hours=4)),
            Job(hex_sql("SELECT * FROM Dbt_Marts.Refunds", PROJECT_A), ago(hours=3)),
            Job(hex_sql("SELECT * FROM Orders", PROJECT_B), ago(hours=2)),
        ],
        ("raw-data-proj", "us"): [],
    }
    _, factory = serve(history)
    queries = read(factory, bigquery_project=("my-proj", "raw-data-proj"))
    result = pipeline.run(_manifest(), _hex_projects(), queries, settings=Settings())
    assert {e.project_id: e.depends_on for e in result.exposures} == {
        PROJECT_A: ("ref('refunds')",),
        PROJECT_B: ("ref('orders')",),
    }
    report = {p.project_id: p for p in result.report.projects}
    assert [s["temp_table"] for s in report[PROJECT_A].shadowed] == ["Orders"]
    assert report[PROJECT_A].unmatched == ()
