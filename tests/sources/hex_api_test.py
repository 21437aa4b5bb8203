"""HexApiSource against a real loopback Hex API (tests/servers/hex_server.py), real httpx.

Clocks are injected (client and server share a FakeClock) so rate-limit waits cost nothing.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from hex_exposures import __version__
from hex_exposures.errors import ConfigError, HexApiError
from hex_exposures.records import HexProject, Settings
from hex_exposures.sources import open_hex
from hex_exposures.sources.hex_api import HexApiSource, RateLimiter, api_root, qualify
from tests.servers.hex_server import (
    ORG_ID,
    RESET,
    TOKEN,
    FakeClock,
    Fault,
    HexServer,
    make_connection,
    make_project,
    serve,
)

PROJECTS = "/api/v1/projects"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def srv(clock: FakeClock) -> Iterator[HexServer]:
    with serve(project_count=250, clock=clock, lifetime=30) as server:
        yield server


def make_source(server: HexServer, clock: FakeClock, **kw: Any) -> HexApiSource:
    kw.setdefault("clock", clock)
    kw.setdefault("sleep", clock.sleep)
    kw.setdefault("jitter", lambda: 0.5)
    return HexApiSource(server.url, kw.pop("token", TOKEN), **kw)


def most_in_any_window(times: Sequence[float], window: float = 60.0) -> int:
    """The largest number of requests inside any half-open [t, t + window)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --- listing --------------------------------------------------------------------------------


def test_lists_every_page_following_opaque_cursors(srv: HexServer, clock: FakeClock) -> None:
    lines: list[str] = []
    with make_source(srv, clock, progress=lines.append) as source:
        projects = source.projects()

    expected = [p["id"] for p in srv.state.projects]
    assert [p.id for p in projects] == expected  # trashed, archived and components included
    reqs = srv.requests
    assert len(reqs) == 3 == source.request_count
    assert all(r.query["limit"] == ["100"] for r in reqs)
    for flag in ("includeComponents", "includeArchived", "includeTrashed"):
        assert all(r.query[flag] == ["true"] for r in reqs)
    cursors = [r.query.get("after", [None])[0] for r in reqs]
    assert cursors[0] is None and cursors[1] and cursors[2] and cursors[1] != cursors[2]
    assert all(c in srv.state.cursors for c in cursors[1:])  # sent back exactly as received
    assert lines == [
        "fetched 100 projects (1 requests)",
        "fetched 200 projects (2 requests)",
        "fetched 250 projects (3 requests)",
    ]
    assert {p.type for p in projects} == {"PROJECT", "COMPONENT"}
    assert any(p.trashed for p in projects) and any(p.archived for p in projects)


def test_odd_but_valid_projects_survive(srv: HexServer, clock: FakeClock) -> None:
    by_id = {p.id: p for p in make_source(srv, clock).projects()}
    raw = {p["id"]: p for p in srv.state.projects}
    null_status = next(pid for pid, p in raw.items() if p["status"] is None)
    no_categories = next(pid for pid, p in raw.items() if p["categories"] == [])
    assert by_id[null_status].status is None
    assert by_id[no_categories].categories == ()
    assert by_id[make_project(1)["id"]].title == "Ventes été – 売上ダッシュボード 📈"
    assert by_id[make_project(1)["id"]].raw == make_project(1)  # kept unchanged for snapshots


def test_components_left_out_when_asked(srv: HexServer, clock: FakeClock) -> None:
    projects = make_source(srv, clock, include_components=False).projects()
    assert projects and all(p.type == "PROJECT" for p in projects)
    assert srv.requests[0].query["includeComponents"] == ["false"]


def test_malformed_items_are_skipped_and_counted(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    items = [make_project(0), "junk", {"title": "no id"}, {"id": 12}, make_project(1)]
    with serve(projects=items, clock=clock, lifetime=30) as server:
        source = make_source(server, clock)
        projects = source.projects()
    assert [p.id for p in projects] == [make_project(0)["id"], make_project(1)["id"]]
    assert source.malformed == 3
    assert "skipped 3 malformed project(s)" in caplog.text


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/v1", "/api/v1/"])
def test_base_url_suffixes_are_tolerated(srv: HexServer, clock: FakeClock, suffix: str) -> None:
    source = HexApiSource(srv.url + suffix, TOKEN, clock=clock, sleep=clock.sleep)
    assert source.workspace() == ORG_ID
    assert [r.path for r in srv.requests] == ["/api/v1/users/me"]
    assert repr(source) == f"HexApiSource({srv.url!r})"


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://app.hex.tech", "https://app.hex.tech/api"),
        ("https://eu.hex.tech/", "https://eu.hex.tech/api"),
        ("acme.hex.tech", "https://acme.hex.tech/api"),
        ("https://acme.hex.tech/api/v1/", "https://acme.hex.tech/api"),
    ],
)
def test_api_root(given: str, root: str) -> None:
    assert api_root(given) == root


@pytest.mark.parametrize("bad", ["", "ftp://app.hex.tech", "https://me:pw@app.hex.tech"])
def test_bad_urls_are_usage_errors(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        api_root(bad)
    assert info.value.exit_code == 2 and "pw" not in str(info.value)


@pytest.mark.parametrize("token", ["hxtw_" + "ab" * 48, "hxtp_" + "cd" * 48])
def test_workspace_and_personal_tokens_both_work(clock: FakeClock, token: str) -> None:
    with serve(project_count=5, token=token, clock=clock, lifetime=30) as server:
        source = make_source(server, clock, token=token)
        assert len(source.projects()) == 5
        assert source.workspace() == ORG_ID
        source.workspace()  # cached
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {token}"] * 2


def test_token_required_and_must_be_a_header_value() -> None:
    with pytest.raises(ConfigError) as info:
        HexApiSource.from_settings(Settings())
    assert str(info.value) == (
        "--hex-token / HEX_API_TOKEN is required unless --from-snapshot is given"
    )
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError, match="is required"):
        HexApiSource.from_settings(Settings(hex_token="  \n"))
    with pytest.raises(ConfigError) as info:
        HexApiSource("https://app.hex.tech", "hxtw_abc déf")
    assert "déf" not in str(info.value)


def test_open_hex_uses_settings_and_the_given_client(srv: HexServer) -> None:
    settings = Settings(hex_url=srv.url + "/api/v1", hex_token=TOKEN, include_components=False)
    with httpx.Client() as client:
        source = open_hex(settings, client=client)
        assert source.workspace() == ORG_ID
        source.close()
        assert not client.is_closed  # a client passed in belongs to the caller
    assert srv.requests[0].headers["user-agent"] == f"hex-exposures/{__version__}"


# --- rate limits ---------------------------------------------------------------------------


def test_stays_within_sixty_requests_a_minute(clock: FakeClock) -> None:
    lines: list[str] = []
    with serve(
        project_count=1300, max_page=10, clock=clock, retry_after=False, lifetime=30
    ) as server:
        source = make_source(server, clock, progress=lines.append)
        projects = source.projects()
    reqs = server.requests
    assert len(projects) == 1300
    assert len(reqs) == source.request_count == 130
    assert all(r.status == 200 for r in reqs)  # never needed a 429
    assert most_in_any_window([r.at for r in reqs]) == 60
    assert clock.sleeps == [60.0, 60.0]
    assert lines.count("rate limited: waiting 60 s") == 2


def test_429_burst_without_retry_after_waits_out_the_window(clock: FakeClock) -> None:
    """Our own limit lifted: Hex's 429s alone must get us through, a window at a time."""
    lines: list[str] = []
    with serve(
        project_count=700, max_page=10, clock=clock, retry_after=False, lifetime=30
    ) as server:
        source = make_source(server, clock, rate_limit=None, progress=lines.append)
        projects = source.projects()
    statuses = [r.status for r in server.requests]
    assert len(projects) == 700
    assert statuses.count(429) == 1 and statuses.count(200) == 70
    assert statuses.index(429) == 60
    limited = next(r for r in server.requests if r.status == 429)
    assert "retry-after" not in limited.sent and "x-ratelimit-reset" not in limited.sent
    assert clock.sleeps == [60.0]
    assert "rate limited: waiting 60 s" in lines


@pytest.mark.parametrize(
    ("retry_after", "reset_header", "expected"),
    [(True, False, 40.0), (False, True, 40.0), (False, False, 60.0)],
)
def test_429_mid_window_uses_the_servers_reset_hint(
    clock: FakeClock, retry_after: bool, reset_header: bool, expected: float
) -> None:
    with serve(
        project_count=400,
        max_page=10,
        clock=clock,
        retry_after=retry_after,
        reset_header=reset_header,
        lifetime=30,
    ) as server:
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as other:
            for _ in range(30):  # another process spent half the window 20 s ago
                other.get(server.url + "/api/v1/users/me").raise_for_status()
        clock.now += 20
        source = make_source(server, clock, rate_limit=None)
        assert len(source.projects()) == 400
    assert [r.status for r in server.requests].count(429) == 1
    assert clock.sleeps == [expected]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": email.utils.formatdate(1_700_000_030, usegmt=True)}, 30.0),
        ({"X-RateLimit-Reset": "12"}, 12.0),
        ({"X-RateLimit-Reset": "1700000042"}, 42.0),
        ({"RateLimit-Reset": "1700000009000"}, 9.0),
        ({}, 60.0),
    ],
)
def test_429_honours_retry_after_and_reset_headers(
    srv: HexServer, clock: FakeClock, headers: dict[str, str], expected: float
) -> None:
    srv.script(PROJECTS, Fault(status=429, headers=headers, body={"reason": "Too many"}))
    source = make_source(srv, clock, wall=lambda: 1_700_000_000.0)
    assert len(source.projects()) == 250
    assert clock.sleeps == [pytest.approx(expected)]


def test_endless_429_gives_up(srv: HexServer, clock: FakeClock) -> None:
    srv.script(PROJECTS, *[429] * 4)
    with pytest.raises(HexApiError, match="kept answering 429"):
        make_source(srv, clock, max_rate_limit_waits=3).projects()
    assert len(srv.requests) == 4


def test_rate_limiter_is_a_sliding_window() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    clock.now = 4.0
    limiter.acquire()  # waits until the first stamp leaves the window
    assert clock.sleeps == [6.0] and clock.now == 10.0
    clock.now = 13.9
    limiter.acquire()  # the three stamps at 0 all left the window at 10
    limiter.acquire()
    assert clock.sleeps == [6.0]
    limiter.acquire()  # stamps 10, 13.9, 13.9: the fourth waits for 10 to leave
    assert clock.sleeps == [6.0, pytest.approx(6.1)]


# --- failures ------------------------------------------------------------------------------


def test_500_then_success_is_retried_with_jittered_back_off(
    srv: HexServer, clock: FakeClock
) -> None:
    srv.script(PROJECTS, 500, 502)
    source = make_source(srv, clock)
    assert len(source.projects()) == 250
    assert clock.sleeps == [0.75, 1.5]  # 1 s then 2 s, times the injected jitter factor
    assert [r.status for r in srv.requests][:3] == [500, 502, 200]


def test_a_retry_line_names_the_service_and_the_reason(
    srv: HexServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    srv.script(PROJECTS, 503, RESET)
    with caplog.at_level(logging.INFO, logger="hex_exposures"):
        assert len(make_source(srv, clock).projects()) == 250
    lines = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert lines == [
        "Hex API: HTTP 503, retrying in 0.8 s (attempt 2 of 5)",
        "Hex API: connection reset, retrying in 1.5 s (attempt 3 of 5)",
    ]


def test_5xx_retries_are_bounded_in_count(srv: HexServer, clock: FakeClock) -> None:
    srv.script(PROJECTS, *[503] * 6)
    with pytest.raises(HexApiError) as info:
        make_source(srv, clock).projects()
    assert "503 Service Unavailable" in str(info.value)
    assert "gave up after 5 attempts" in str(info.value)
    assert info.value.exit_code == 3
    assert len(srv.requests) == 5


def test_5xx_retries_are_bounded_in_time(srv: HexServer, clock: FakeClock) -> None:
    srv.script(PROJECTS, *[500] * 6)
    with pytest.raises(HexApiError, match="gave up after 3 attempts"):
        make_source(srv, clock, max_retry_seconds=2.5).projects()
    assert clock.sleeps == [0.75, 1.5]


def test_connection_reset_is_retried(srv: HexServer, clock: FakeClock) -> None:
    srv.script(PROJECTS, RESET)
    source = make_source(srv, clock)
    assert len(source.projects()) == 250
    assert [r.status for r in srv.requests][:2] == ["reset", 200]


def test_persistent_resets_fail_with_the_httpx_error_chained(
    srv: HexServer, clock: FakeClock
) -> None:
    srv.script(PROJECTS, *[RESET] * 5)
    with pytest.raises(HexApiError, match="cannot reach Hex") as info:
        make_source(srv, clock).projects()
    assert isinstance(info.value.__cause__, httpx.TransportError)


def test_every_request_has_a_timeout(srv: HexServer, clock: FakeClock) -> None:
    srv.script(PROJECTS, Fault(status=200, body={}, delay=0.5))
    source = make_source(srv, clock, timeout=httpx.Timeout(0.15))
    assert len(source.projects()) == 250  # the stalled answer timed out and was retried
    assert len(clock.sleeps) == 1


def test_nothing_listening_is_a_source_error(clock: FakeClock) -> None:
    with serve(project_count=1, lifetime=30) as server:
        url = server.url
    with pytest.raises(HexApiError, match="cannot reach Hex") as info:
        HexApiSource(url, TOKEN, clock=clock, sleep=clock.sleep).projects()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert url in str(info.value)


def test_401_names_token_and_url_never_the_token(srv: HexServer, clock: FakeClock) -> None:
    wrong = "hxtp_" + "0" * 96
    with pytest.raises(HexApiError) as info:
        make_source(srv, clock, token=wrong).projects()
    message = str(info.value)
    assert message.startswith(f"Hex API answered 401 Unauthorized at {srv.url}/api/v1/projects")
    assert "token is invalid or expired, or --hex-url is wrong" in message
    assert wrong not in message and info.value.exit_code == 3
    assert len(srv.requests) == 1  # not retried


def test_403_names_the_missing_scope(clock: FakeClock) -> None:
    with (
        serve(project_count=3, clock=clock, forbidden=["projects"], lifetime=30) as server,
        pytest.raises(HexApiError, match="lacks the 'Read projects' scope"),
    ):
        make_source(server, clock).projects()


def test_404_on_the_base_url_says_check_hex_url(srv: HexServer, clock: FakeClock) -> None:
    source = HexApiSource(srv.url + "/not-hex", TOKEN, clock=clock, sleep=clock.sleep)
    with pytest.raises(HexApiError) as info:
        source.projects()
    assert f"404 Not Found at {srv.url}/not-hex/api/v1/projects: check --hex-url" in str(info.value)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(status=200, body=None), "not JSON: check --hex-url"),
        (Fault(status=200, body=["a", "list"]), "not a JSON object"),
        (Fault(status=200, body={"pagination": {"after": None}}), "no 'values' list"),
        (Fault(status=301, headers={"Location": "https://app.hex.tech/login"}), "redirecting to"),
        (Fault(status=400, body={"reason": "limit must be <= 100"}), "limit must be <= 100"),
    ],
)
def test_unexpected_answers_are_one_line_errors(
    srv: HexServer, clock: FakeClock, fault: Fault, message: str
) -> None:
    srv.script(PROJECTS, fault)
    with pytest.raises(HexApiError, match=message) as info:
        make_source(srv, clock).projects()
    assert "\n" not in str(info.value)


def test_a_repeated_cursor_stops_instead_of_looping(srv: HexServer, clock: FakeClock) -> None:
    page = {"values": [], "pagination": {"after": "c2FtZQ", "before": None}}
    srv.script(PROJECTS, Fault(status=200, body=page), Fault(status=200, body=page))
    with pytest.raises(HexApiError, match="repeated page cursor"):
        make_source(srv, clock).projects()


# --- secrets -------------------------------------------------------------------------------


def test_token_never_leaks(
    srv: HexServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    lines: list[str] = []
    # A server that echoes the token back in its error reason, then resets, then stalls.
    srv.script(PROJECTS, Fault(status=401, body={"reason": f"bad token {TOKEN}"}))
    texts: list[str] = []
    for faults in ([], [RESET] * 5, [500] * 5):
        srv.script(PROJECTS, *faults)
        source = make_source(srv, clock, progress=lines.append)
        texts += [repr(source), str(vars(source))]
        with pytest.raises(HexApiError) as info:
            source.projects()
        err = info.value
        texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
    source = make_source(srv, clock, progress=lines.append)
    source.projects()
    source.workspace()
    out, errout = capsys.readouterr()
    texts += [caplog.text, out, errout, *lines, repr(Settings(hex_token=TOKEN))]
    assert "***" in texts[2]  # the echoed token was scrubbed, not just absent
    for text in texts:
        assert TOKEN not in text
    for req in srv.requests:  # sent in the Authorization header and nowhere else
        assert req.headers["authorization"] == f"Bearer {TOKEN}"
        others = {k: v for k, v in req.headers.items() if k != "authorization"}
        assert TOKEN not in json.dumps([req.path, req.query, others])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the "hex_exposures" logger; put it back for caplog in later tests."""
    logger = logging.getLogger("hex_exposures")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


@pytest.mark.usefixtures("restore_logging")
def test_a_failed_run_writes_nothing(
    srv: HexServer,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hex_exposures import cli
    from tests.manifest_factory import manifest, model

    (tmp_path / "models").mkdir()
    (tmp_path / "target").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: proj\nmodel-paths: [models]\n")
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(manifest(model("orders"))))
    existing = tmp_path / "models" / "hex_exposures.yml"
    existing.write_bytes(b"version: 2\nexposures: []\n")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    monkeypatch.setenv("HEX_API_TOKEN", "hxtw_" + "f" * 96)  # not the server's token
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")  # the local preflight passes; Hex fails
    code = cli.main(["sync", "--project-dir", str(tmp_path), "--hex-url", srv.url])
    err = capsys.readouterr().err
    assert code == 3
    assert "401 Unauthorized" in err and srv.url in err and "f" * 96 not in err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert existing.read_bytes() == b"version: 2\nexposures: []\n"


# --- queriedTables -------------------------------------------------------------------------

SNOW_A = "11111111-1111-4111-8111-111111111111"
SNOW_B = "22222222-2222-4222-8222-222222222222"
BQ = "33333333-3333-4333-8333-333333333333"
PG = "44444444-4444-4444-8444-444444444444"
CONNECTIONS = [
    make_connection(SNOW_A, "snowflake", "Snowflake prod", database="ANALYTICS", schema="PUBLIC"),
    make_connection(SNOW_B, "snowflake", "Snowflake raw", database="raw"),
    make_connection(BQ, "bigquery", "BigQuery", projectId="acme-prod"),
    make_connection(PG, "postgres", "Postgres", database="app", hostname="db"),
]


def _row(conn: str, table: str) -> dict[str, str]:
    return {"dataConnectionId": conn, "dataConnectionName": "x", "tableName": table}


P0, P3, P6 = (make_project(i)["id"] for i in (0, 3, 6))  # published (i % 3 == 0)
QUERIED = {
    P0: [_row(SNOW_A, f"marts.t{n:03d}") for n in range(250)],  # three pages
    P3: [
        _row(SNOW_A, "orders"),
        _row(SNOW_A, 'finance."Revenue Daily"'),
        _row(SNOW_A, "other_db.s.t"),
        _row(SNOW_B, "t_only"),  # no default schema: stays short
        _row(SNOW_B, "stage.events"),
        _row(BQ, "ds.events"),
        _row(PG, "public.users"),
        _row("gone-connection", "x.y.z"),
    ],
}


@pytest.fixture
def lineage(clock: FakeClock) -> Iterator[HexServer]:
    with serve(
        project_count=20, clock=clock, connections=CONNECTIONS, queried=QUERIED, lifetime=30
    ) as server:
        yield server


def test_queried_tables_qualified_in_warehouse_quoting(
    lineage: HexServer, clock: FakeClock
) -> None:
    source = make_source(lineage, clock)
    projects = source.projects()
    snow = {q.project_id: q for q in source.queried_tables(projects, "snowflake")}
    assert set(snow) == {P0, P3}
    assert snow[P3].tables == (
        'ANALYTICS.FINANCE."Revenue Daily"',
        "ANALYTICS.PUBLIC.ORDERS",
        "OTHER_DB.S.T",
        "RAW.STAGE.EVENTS",
        "T_ONLY",
    )
    assert len(snow[P0].tables) == 250 and snow[P0].tables[0] == "ANALYTICS.MARTS.T000"
    assert all(q.query_text == "" and q.run_count == 0 for q in snow.values())
    bq = source.queried_tables(projects, "bigquery")
    assert [(q.project_id, q.tables) for q in bq] == [(P3, ("`acme-prod`.ds.events",))]

    called = [r.path.split("/")[4] for r in lineage.requests if r.path.endswith("queriedTables")]
    published_live = [p.id for p in projects if p.published and p.live]
    assert sorted(set(called)) == sorted(published_live)  # unpublished/trashed never asked
    assert sum(r.path == "/api/v1/data-connections" for r in lineage.requests) == 1
    assert not any(r.path.startswith("/api/v1/data-connections/") for r in lineage.requests)


def test_connection_details_fetched_when_the_list_omits_them(clock: FakeClock) -> None:
    with serve(
        project_count=4,
        clock=clock,
        connections=CONNECTIONS,
        queried=QUERIED,
        list_details=False,
        lifetime=30,
    ) as server:
        source = make_source(server, clock)
        records = source.queried_tables(source.projects(), "snowflake")
    assert "ANALYTICS.PUBLIC.ORDERS" in {t for q in records for t in q.tables}
    detail_calls = [
        r.path for r in server.requests if r.path.startswith("/api/v1/data-connections/")
    ]
    assert sorted(detail_calls) == [f"/api/v1/data-connections/{c}" for c in (SNOW_A, SNOW_B)]


def test_422_for_an_unpublished_project_is_skipped(lineage: HexServer, clock: FakeClock) -> None:
    source = make_source(lineage, clock)
    stale = HexProject.from_api({**make_project(1), "lastPublishedAt": "2026-05-01T00:00:00.000Z"})
    records = source.queried_tables([stale, HexProject.from_api(make_project(3))], "snowflake")
    assert [q.project_id for q in records] == [P3]
    assert [r.status for r in lineage.requests if r.path.endswith("queriedTables")] == [422, 200]


def test_403_turns_queried_tables_off_for_the_run(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hex_exposures")
    with serve(
        project_count=20,
        clock=clock,
        connections=CONNECTIONS,
        queried=QUERIED,
        forbidden=["queriedTables"],
        lifetime=30,
    ) as server:
        source = make_source(server, clock)
        projects = source.projects()
        assert source.queried_tables(projects, "snowflake") == []
        assert source.queried_tables(projects, "bigquery") == []
    assert sum(r.path.endswith("queriedTables") for r in server.requests) == 1
    info = [r for r in caplog.records if r.name == "hex_exposures" and r.levelno == logging.INFO]
    assert len(info) == 1 and "queriedTables is not available" in info[0].getMessage()


def test_403_on_data_connections_also_turns_it_off(clock: FakeClock) -> None:
    with serve(
        project_count=20,
        clock=clock,
        connections=CONNECTIONS,
        queried=QUERIED,
        forbidden=["data-connections"],
        lifetime=30,
    ) as server:
        source = make_source(server, clock)
        assert source.queried_tables(source.projects(), "snowflake") == []
    assert not any(r.path.endswith("queriedTables") for r in server.requests)


def test_switched_off_or_no_matching_connection_costs_no_request(
    lineage: HexServer, clock: FakeClock
) -> None:
    projects = [HexProject.from_api(make_project(i)) for i in range(20)]
    assert (
        make_source(lineage, clock, queried_tables=False).queried_tables(projects, "snowflake")
        == []
    )
    assert lineage.requests == []
    only_pg = [c for c in CONNECTIONS if c["type"] == "postgres"]
    with serve(project_count=20, clock=clock, connections=only_pg, lifetime=30) as server:
        assert make_source(server, clock).queried_tables(projects, "snowflake") == []
    assert [r.path for r in server.requests] == ["/api/v1/data-connections"]


@pytest.mark.parametrize(
    ("name", "db", "schema", "warehouse", "expected"),
    [
        ("orders", "ANALYTICS", "PUBLIC", "snowflake", "ANALYTICS.PUBLIC.ORDERS"),
        ("orders", '"Mixed"', "public", "snowflake", '"Mixed".PUBLIC.ORDERS'),
        ('"order"', "A", "B", "snowflake", 'A.B."order"'),
        ('"ORDER"', "A", "B", "snowflake", 'A.B."ORDER"'),
        ("s.t", None, None, "snowflake", "S.T"),
        ("public.order", "db", None, "snowflake", 'DB.PUBLIC."ORDER"'),
        ("order", "db", None, "snowflake", '"ORDER"'),  # no schema: the db is not used
        ("`d`.`select`", "p", None, "bigquery", "p.d.`select`"),
        ("orders", "my-proj", None, "bigquery", "orders"),
        ("ds.Orders", "my-proj", None, "bigquery", "`my-proj`.ds.Orders"),
        ("`p`.`d`.`t 1`", None, None, "bigquery", "p.d.`t 1`"),
        ("", "A", "B", "snowflake", None),
    ],
)
def test_qualify(
    name: str, db: str | None, schema: str | None, warehouse: str, expected: str | None
) -> None:
    assert qualify(name, db, schema, warehouse) == expected


# --- the loopback server stops by itself ----------------------------------------------------


def test_server_stops_after_its_request_cap_and_its_lifetime(clock: FakeClock) -> None:
    with serve(project_count=1, max_requests=2, lifetime=30) as server:
        source = make_source(server, clock, max_attempts=1)
        assert len(source.projects()) == len(source.projects()) == 1
        with pytest.raises(HexApiError, match="503"):
            source.projects()  # the third request gets the cap's 503, then the server stops
        time.sleep(0.2)
        with pytest.raises(httpx.ConnectError), httpx.Client() as client:
            client.get(server.url + "/api/v1/users/me", timeout=1)
    with serve(project_count=1, lifetime=0.2) as server:
        time.sleep(0.4)
        with pytest.raises(httpx.ConnectError), httpx.Client() as client:
            client.get(server.url + "/api/v1/users/me", timeout=1)


# --- the queriedTables cache between runs -------------------------------------------------


def _cached_run(server: HexServer, clock: FakeClock, path: str) -> tuple[list[Any], int]:
    from hex_exposures.hex_cache import HexApiCache

    before = len(server.requests)
    source = make_source(server, clock, cache=HexApiCache(path, api_root(server.url)))
    records = source.queried_tables(source.projects(), "snowflake")
    return sorted(records), len(server.requests) - before


def test_a_second_run_asks_only_the_listing_and_what_was_published_since(
    clock: FakeClock, tmp_path: Any
) -> None:
    path = str(tmp_path / "target" / "hex_api_cache.json")
    projects = [make_project(i) for i in range(20)]
    with serve(
        projects=projects, clock=clock, connections=CONNECTIONS, queried=QUERIED, lifetime=30
    ) as server:
        first, asked_first = _cached_run(server, clock, path)
        listing = sum(r.path == "/api/v1/projects" for r in server.requests)
        second, asked_second = _cached_run(server, clock, path)
        assert second == first and {q.project_id for q in first} == {P0, P3}
        assert asked_second == listing < asked_first  # no queriedTables, no data connections
        # P3 is published again with other tables: only P3 is asked about.
        server.state.projects[3] = {**projects[3], "lastPublishedAt": "2026-12-01T00:00:00.000Z"}
        server.state._views.clear()  # the server memoises its listing
        server.state.queried[P3] = [_row(SNOW_A, "marts.fresh")]
        before = len(server.requests)
        third, asked_third = _cached_run(server, clock, path)
        lineage = [r.path for r in server.requests[before:] if r.path.endswith("queriedTables")]
    assert lineage == [f"/api/v1/projects/{P3}/queriedTables"]
    assert asked_third == listing + 1 + 1  # the listing, data connections, one project
    assert dict((q.project_id, q.tables) for q in third)[P3] == ("ANALYTICS.MARTS.FRESH",)
    with open(path, encoding="utf-8") as f:
        assert TOKEN not in f.read()


@pytest.mark.parametrize("content", ["{not json", '{"format": 1, "api": "http://other/api"}', "[]"])
def test_a_corrupt_or_foreign_cache_is_an_empty_one(
    clock: FakeClock, tmp_path: Any, content: str
) -> None:
    path = tmp_path / "hex_api_cache.json"
    path.write_text(content)
    with serve(
        project_count=20, clock=clock, connections=CONNECTIONS, queried=QUERIED, lifetime=30
    ) as server:
        records, _ = _cached_run(server, clock, str(path))
        asked = [r.path for r in server.requests if r.path.endswith("queriedTables")]
    assert {q.project_id for q in records} == {P0, P3} and len(asked) > 2
    assert json.loads(path.read_text())["format"] == 1  # rewritten whole


# --- --hex-user auto: who the data connections log in as (issue 17) -------------------------


@pytest.mark.parametrize("list_details", [True, False])
def test_connection_users_are_the_warehouse_connections_usernames(
    clock: FakeClock, list_details: bool
) -> None:
    users = [
        make_connection(SNOW_A, "snowflake", "prod", database="ANALYTICS", username="HEX_SVC"),
        make_connection(SNOW_B, "snowflake", "raw", database="raw", username=" hex_raw "),
        make_connection(BQ, "bigquery", "BigQuery", projectId="acme-prod"),
        make_connection(PG, "postgres", "Postgres", database="app", username="pg_user"),
    ]
    with serve(
        project_count=2, clock=clock, connections=users, list_details=list_details, lifetime=30
    ) as server:
        source = make_source(server, clock)
        assert source.connection_users("snowflake") == (("HEX_SVC", "hex_raw"), None)
        assert source.connection_users("bigquery") == (
            (),
            "Hex names no user for its 1 bigquery data connection(s)",
        )
    assert sum(r.path == "/api/v1/data-connections" for r in server.requests) == 1


def test_connection_users_when_the_token_may_not_list_connections(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hex_exposures")
    with serve(
        project_count=2,
        clock=clock,
        connections=CONNECTIONS,
        queried=QUERIED,
        forbidden=["data-connections"],
        lifetime=30,
    ) as server:
        source = make_source(server, clock)
        users, why = source.connection_users("snowflake")
        assert users == () and why is not None
        assert "refused the data connections (403" in why and "Data connections: read" in why
        assert source.queried_tables(source.projects(), "snowflake") == []  # said once, here
    assert sum(r.path == "/api/v1/data-connections" for r in server.requests) == 1
    said = [r.getMessage() for r in caplog.records if "queriedTables" in r.getMessage()]
    assert len(said) == 1
    with serve(project_count=2, clock=clock, lifetime=30) as server:
        assert make_source(server, clock).connection_users("snowflake") == (
            (),
            "Hex lists no snowflake data connection this token can see",
        )
