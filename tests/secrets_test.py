"""No token and no Snowflake password anywhere we write, print, log or raise (issue 8).

Every failure path reachable through the command line runs with a distinctive Hex token and
Snowflake password in the environment (or on the command line) and ``--verbose``: Hex 401,
403, 5xx exhaustion, an unreachable host, servers that echo the token back, bad config
files, misplaced arguments, Snowflake refusing the login (the real connector too) or the
query, and a successful `snapshot`. For each we scan stdout, stderr, every log record at
DEBUG (root and the tool's own logger, before its scrubbing filter), files written, and,
for the lower-level calls, exception messages, reprs and formatted tracebacks.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hex_exposures import cli
from hex_exposures.errors import HexExposuresError
from hex_exposures.records import Settings
from hex_exposures.sources import hex_api, snapshot
from hex_exposures.sources.hex_api import HexApiSource
from tests.manifest_factory import manifest, model
from tests.servers.hex_server import RESET, Fault, make_project, record_connections, serve
from tests.servers.snowflake_history import Run, create_history

TOKEN = "hxtw_SECRET" + "0a1b2c3d4e5f" * 7 + "9z"
OTHER_TOKEN = "hxtw_" + "f" * 96  # what the loopback server accepts in the 401 scenarios
PASSWORD = "pw-SECRET-hunter2-" + "7f3e91c4" * 2
SECRETS = (TOKEN, PASSWORD)
PROJECTS = [make_project(i) for i in range(3)]
PAGE = "/api/v1/projects"


def leaks(text: str) -> list[str]:
    return [s[:16] + "..." for s in SECRETS if s in text]


def own_frames_locals(err: BaseException) -> str:
    """Locals of the tool's own frames in `err`'s traceback and causes (debuggers show them)."""
    shown = traceback.TracebackException.from_exception(err, capture_locals=True)
    parts: list[str] = []
    seen: set[int] = set()
    item: traceback.TracebackException | None = shown
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        for frame in item.stack:
            if f"{os.sep}hex_exposures{os.sep}" in frame.filename:
                parts += [f"{k} = {v}" for k, v in (frame.locals or {}).items()]
        item = item.__cause__ or item.__context__
    return "\n".join(parts)


class _Records(logging.Handler):
    """Keeps every record as it was emitted (before the CLI's scrubbing filter runs)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self._formatter.format(record))


class Scanner:
    """Runs the CLI like a fresh process would and collects every text it produces."""

    def __init__(self, caplog: pytest.LogCaptureFixture, raw: _Records) -> None:
        self.caplog = caplog
        self.raw = raw
        self.texts: dict[str, str] = {}

    def run(self, label: str, argv: list[str]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        self.texts[f"{label}: stdout"] = out.getvalue()
        self.texts[f"{label}: stderr"] = err.getvalue()
        return code, out.getvalue(), err.getvalue()

    def add(self, label: str, text: str) -> None:
        self.texts[label] = text

    def assert_clean(self) -> None:
        self.texts["log records (root, DEBUG)"] = "\n".join(
            logging.Formatter("%(name)s %(message)s").format(r) for r in self.caplog.records
        )
        self.texts["log records (hex_exposures, raw)"] = "\n".join(self.raw.texts)
        found = {label: leaks(text) for label, text in self.texts.items() if leaks(text)}
        assert not found, found


@pytest.fixture
def scanner(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scanner]:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(cli, "_SECRETS", set())  # what a new process starts with
    for name in list(os.environ):
        if name.startswith(("SNOWFLAKE_", "HEX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", PASSWORD)
    defaults = hex_api.HexApiSource.__init__.__kwdefaults__
    assert defaults is not None and "sleep" in defaults
    monkeypatch.setitem(defaults, "sleep", lambda s: None)
    raw = _Records()
    logger = logging.getLogger("hex_exposures")
    real_setup = cli._setup_logging

    def setup(settings: Settings) -> None:
        real_setup(settings)
        logger.handlers.insert(0, raw)

    monkeypatch.setattr(cli, "_setup_logging", setup)
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield Scanner(caplog, raw)
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def tiny_project(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "target").mkdir()
    (root / "dbt_project.yml").write_text("name: proj\nmodel-paths: [models]\n")
    (root / "target" / "manifest.json").write_text(json.dumps(manifest(model("fct_orders"))))
    return root


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- Hex failures through the command line --------------------------------------------------

HEX_FAILURES: dict[str, tuple[dict[str, Any], list[Any], str]] = {
    # name: (serve() keywords, scripted faults on /projects, what the error line says)
    "401": ({"token": OTHER_TOKEN}, [], "401 Unauthorized"),
    "401 echoing the token": (
        {},
        [Fault(status=401, body={"reason": f"bad token Bearer {TOKEN}"})],
        "401 Unauthorized",
    ),
    "403": ({"forbidden": ["projects"]}, [], "403"),
    "5xx echoing the token": (
        {},
        [Fault(status=503, body={"reason": f"upstream saw {TOKEN}"})] * 5,
        "503 Service Unavailable",
    ),
    "resets": ({}, [RESET] * 5, "cannot reach Hex"),
    "garbage": ({}, [Fault(status=200, body=["Bearer " + TOKEN])], "not a JSON object"),
}


@pytest.mark.parametrize("case", sorted(HEX_FAILURES))
@pytest.mark.parametrize("token_from", ["env", "flag"])
def test_hex_failures_never_show_the_token(
    scanner: Scanner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    token_from: str,
) -> None:
    kwargs, faults, says = HEX_FAILURES[case]
    root = tiny_project(tmp_path / "p")
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")  # the local preflight passes; Hex fails
    flag = []
    if token_from == "flag":
        monkeypatch.delenv("HEX_API_TOKEN")
        flag = ["--hex-token", TOKEN]
    with serve(
        projects=PROJECTS, rate_limit=None, lifetime=30, **{"token": TOKEN, **kwargs}
    ) as srv:
        srv.script(PAGE, *faults)
        argv = ["sync", "--project-dir", str(root), "--hex-url", srv.url, "--verbose", *flag]
        code, _out, err = scanner.run(case, argv)
    assert code == 3
    assert says in one_error_line(err)
    if "echoing" in case:
        assert "***" in err  # the echoed token was scrubbed, not just absent
    assert not (root / "models" / "hex_exposures.yml").exists()
    scanner.assert_clean()


def test_an_unreachable_hex_never_shows_the_token(
    scanner: Scanner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tiny_project(tmp_path / "p")
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")  # the local preflight passes; Hex fails
    with serve(project_count=1, lifetime=30) as srv:
        url = srv.url  # closed when the block ends
    code, _out, err = scanner.run(
        "unreachable", ["sync", "--project-dir", str(root), "--hex-url", url, "-v"]
    )
    assert code == 3 and "cannot reach Hex" in one_error_line(err)
    scanner.assert_clean()


def test_the_hex_client_never_shows_the_token_in_errors_reprs_or_tracebacks(
    scanner: Scanner,
) -> None:
    """Lower level: the exceptions themselves, their causes, tracebacks and reprs."""
    failures = [
        [Fault(status=401, body={"reason": f"bad {TOKEN}"})],
        [Fault(status=403, body={"reason": "no scope"})],
        [Fault(status=500, body={"reason": TOKEN})] * 5,
        [RESET] * 5,
        [Fault(status=301, headers={"Location": "https://app.hex.tech/login"})],
        [Fault(status=200, body=None)],
    ]
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        for n, faults in enumerate(failures):
            srv.script(PAGE, *faults)
            lines: list[str] = []
            source = HexApiSource(srv.url, TOKEN, sleep=lambda s: None, progress=lines.append)
            scanner.add(f"client {n}: repr", repr(source) + str(vars(source)) + str(dir(source)))
            with pytest.raises(HexExposuresError) as info:
                source.projects()
            err = info.value
            assert "\n" not in str(err) and err.exit_code == 3
            scanner.add(f"client {n}: str/repr", f"{err} {err!r} {err.args!r}")
            scanner.add(f"client {n}: traceback", "".join(traceback.format_exception(err)))
            scanner.add(f"client {n}: own locals", own_frames_locals(err))
            scanner.add(f"client {n}: progress", "\n".join(lines))
        ok = HexApiSource(srv.url, TOKEN)
        assert len(ok.projects()) == 3 and ok.workspace()
        scanner.add("client ok", repr(ok) + str(vars(ok)))
    scanner.add("settings repr", repr(Settings(hex_token=TOKEN)) + str(Settings(hex_token=TOKEN)))
    with pytest.raises(HexExposuresError) as bad:
        HexApiSource("https://app.hex.tech", TOKEN + " x")
    scanner.add("bad token format", str(bad.value) + "".join(traceback.format_exception(bad.value)))
    scanner.assert_clean()


# --- configuration and usage errors --------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        f"hex_token: {TOKEN}\n",
        f"token: {TOKEN}\n",
        f"hex-token: {TOKEN}\nwarehouse: snowflake\n",
        f"password: {PASSWORD}\n",
        f"snowflake_password: {PASSWORD}\n",
        f"hex_url: [{TOKEN}\n",  # invalid YAML on the token's line
        f"days: {TOKEN}\n",  # wrong type
        f"{TOKEN}: 1\n",  # as a key
    ],
)
def test_a_config_file_holding_a_secret_is_refused_without_echoing_it(
    scanner: Scanner, tmp_path: Path, config: str
) -> None:
    root = tiny_project(tmp_path / "p")
    (root / "hex_exposures.yml").write_text(config)
    code, _out, err = scanner.run("config", ["sync", "--project-dir", str(root), "-v"])
    assert code == 2
    assert str(root / "hex_exposures.yml") in one_error_line(err)
    scanner.assert_clean()


@pytest.mark.parametrize(
    "misplaced",
    [
        ["--hex-url", TOKEN],  # a token pasted into the wrong option
        ["--warehouse", TOKEN],
        ["--days", TOKEN],
        [TOKEN],  # or left as a stray argument
        ["--snowflake-connection", PASSWORD, "--account-usage", PASSWORD],
    ],
    ids=["hex-url", "warehouse", "days", "stray", "account-usage"],
)
def test_a_secret_pasted_into_the_wrong_argument_is_not_echoed(
    scanner: Scanner, tmp_path: Path, misplaced: list[str]
) -> None:
    """The secret is also in the environment, so the tool knows it and can scrub it."""
    root = tiny_project(tmp_path / "p")
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        argv = ["sync", "--project-dir", str(root), "--hex-url", srv.url, *misplaced]
        code, _out, err = scanner.run("usage", argv)
    assert code == 2 and err
    scanner.assert_clean()


def test_help_never_shows_a_token_default(scanner: Scanner) -> None:
    for argv in (["--help"], ["sync", "--help"], ["snapshot", "--help"], ["check", "-h"]):
        code, out, _err = scanner.run(" ".join(argv), argv)
        assert code == 0 and "Usage:" in out
    assert "HEX_API_TOKEN" in scanner.texts["sync --help: stdout"]  # says where it comes from
    scanner.assert_clean()


# --- Snowflake -----------------------------------------------------------------------------


@pytest.fixture
def snowflake_env(monkeypatch: pytest.MonkeyPatch, scanner: Scanner) -> None:
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")
    monkeypatch.setenv("SNOWFLAKE_USER", "HEX_AUDIT")
    monkeypatch.setenv("SNOWFLAKE_DATABASE", "SNOWFLAKE")


def _connector() -> Any:
    return pytest.importorskip("snowflake.connector")


CONNECT_FAILURES: dict[str, Callable[[Any], BaseException]] = {
    "login refused": lambda sf: sf.errors.DatabaseError(
        msg=f"250001: Failed to login as HEX_AUDIT\nwith password {PASSWORD}", errno=250001
    ),
    "login refused, password not echoed": lambda sf: sf.errors.OperationalError(
        msg="Incorrect username or password was specified.", errno=250001
    ),
    "bad key file": lambda sf: ValueError(f"could not decrypt key with passphrase={PASSWORD}"),
    "unknown connection": lambda sf: sf.errors.Error(msg=f"no connection named {PASSWORD}"),
}


@pytest.mark.usefixtures("snowflake_env")
@pytest.mark.parametrize("case", sorted(CONNECT_FAILURES))
def test_snowflake_connect_failures_never_show_the_password(
    scanner: Scanner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    connector = _connector()
    seen: dict[str, Any] = {}

    def refuse(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise CONNECT_FAILURES[case](connector)

    monkeypatch.setattr(connector, "connect", refuse)
    root = tiny_project(tmp_path / "p")
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        argv = ["sync", "--project-dir", str(root), "--hex-url", srv.url, "-v"]
        code, _out, err = scanner.run(case, argv)
    assert seen["password"] == PASSWORD  # the connector was given it
    assert code in (2, 3) and "Snowflake" in one_error_line(err)
    scanner.assert_clean()


def _refused_connect(monkeypatch: pytest.MonkeyPatch, case: str) -> HexExposuresError:
    """The error SnowflakeSource raises when the connector refuses with CONNECT_FAILURES[case]."""
    from hex_exposures.sources.snowflake import SnowflakeSource

    connector = _connector()

    def refuse(**kwargs: Any) -> None:
        raise CONNECT_FAILURES[case](connector)

    monkeypatch.setattr(connector, "connect", refuse)
    with pytest.raises(HexExposuresError) as info:
        SnowflakeSource.from_settings(Settings())
    return info.value


@pytest.mark.usefixtures("snowflake_env")
@pytest.mark.parametrize("case", sorted(CONNECT_FAILURES))
def test_the_snowflake_source_never_shows_the_password_in_tracebacks(
    scanner: Scanner, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    err = _refused_connect(monkeypatch, case)
    assert "\n" not in str(err)
    scanner.add(f"{case}: str/repr", f"{err} {err!r}")
    scanner.add(f"{case}: traceback", "".join(traceback.format_exception(err)))
    scanner.assert_clean()


@pytest.mark.usefixtures("snowflake_env")
@pytest.mark.parametrize("case", sorted(CONNECT_FAILURES))
def test_the_snowflake_source_keeps_the_password_out_of_its_own_frames_locals(
    scanner: Scanner, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Debuggers, error trackers and `pytest -l` print locals: ours must not hold it in the
    clear (`Secrets` is there for that; the connect keywords dict must be masked too)."""
    scanner.add(f"{case}: own locals", own_frames_locals(_refused_connect(monkeypatch, case)))
    scanner.assert_clean()


@pytest.fixture
def fake_snowflake(snowflake_env: None) -> Iterator[Any]:
    fakesnow = pytest.importorskip("fakesnow")
    connector = _connector()
    with fakesnow.patch():
        conn = connector.connect(paramstyle="qmark")
        runs = [
            Run(None, f"select * from fct_orders\n-- Hex query metadata: {meta}", 1)
            for meta in (
                json.dumps({"context": "APP_VIEW", "project_id": p["id"]}, sort_keys=True)
                for p in PROJECTS
            )
        ]
        create_history(conn, runs)  # texts verbatim (project None), an hour ago
        try:
            yield conn
        finally:
            conn.close()


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
def test_snapshot_and_a_failing_query_never_show_either_secret(
    scanner: Scanner, tmp_path: Path, fake_snowflake: Any
) -> None:
    root = tiny_project(tmp_path / "p")
    snap = tmp_path / "snap.json"
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        common = ["--project-dir", str(root), "--hex-url", srv.url, "-v", "--no-access-history"]
        code, _out, err = scanner.run("snapshot", ["snapshot", "-o", str(snap), *common])
        assert code == 0, err
        assert scanner.run("sync", ["sync", *common])[0] == 0
        fake_snowflake.cursor().execute("drop table SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY")
        code, _out, err = scanner.run("query fails", ["sync", *common])
        assert code == 3 and "QUERY_HISTORY" in one_error_line(err)
    lines = [json.loads(line) for line in snap.read_text().splitlines()]  # v2: JSON Lines
    assert lines[0]["format"] == "hex-exposures-snapshot" and lines[0]["version"] == 2
    loaded = snapshot.load(str(snap))
    assert len(loaded.projects) == 3 and len(loaded.queries) == 3
    scanner.add("snapshot file", snap.read_text())
    scanner.add("exposures file", (root / "models" / "hex_exposures.yml").read_text())
    assert "running on Snowflake" in scanner.texts["snapshot: stderr"]  # debug really was on
    scanner.assert_clean()


_REAL_CONNECTOR = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                    format="%(name)s %(levelname)s %(message)s")
from hex_exposures.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_real_connector_failing_to_log_in_never_shows_the_password(tmp_path: Path) -> None:
    """The unpatched connector, DEBUG logging for every logger, a connection whose password
    is only in connections.toml, pointed at a closed port: the login fails."""
    _connector()
    home = tmp_path / "snowflake_home"
    home.mkdir()
    (home / "connections.toml").write_text(
        textwrap.dedent(
            f"""
            [broken]
            account = "acme"
            user = "HEX_AUDIT"
            password = "{PASSWORD}"
            host = "127.0.0.1"
            port = 9
            protocol = "http"
            login_timeout = 2
            network_timeout = 2

            [broken.session_parameters]
            CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false
            """
        )
    )
    (home / "connections.toml").chmod(0o600)
    root = tiny_project(tmp_path / "p")
    snap = tmp_path / "unused.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "HEX_"))}
    env.update(SNOWFLAKE_HOME=str(home), HEX_API_TOKEN=TOKEN)
    argv = ["snapshot", "-o", str(snap), "--project-dir", str(root), "--warehouse", "snowflake"]
    argv += ["--snowflake-connection", "broken", "--no-queried-tables", "-v"]
    with serve(projects=PROJECTS, rate_limit=None, lifetime=60, token=TOKEN) as srv:
        child = subprocess.run(
            [sys.executable, "-c", _REAL_CONNECTOR, *argv, "--hex-url", srv.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert child.returncode in (2, 3), child.stderr[-3000:]
    assert "could not connect to Snowflake" in child.stderr
    assert "snowflake.connector" in child.stderr  # the connector's own DEBUG lines are there
    assert not leaks(child.stdout + child.stderr), leaks(child.stdout + child.stderr)
    assert not snap.exists()


def test_httpx_debug_logging_never_shows_the_authorization_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        with httpx.Client() as client:
            source = HexApiSource(srv.url, TOKEN, client=client)
            assert len(source.projects()) == 3
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in srv.requests)
    assert "HTTP Request: GET" in caplog.text  # httpx did log each request
    assert not leaks(caplog.text)


# --- the token only over TLS (issue 13) ----------------------------------------------------


@pytest.mark.parametrize("where", ["flag", "env", "config"])
@pytest.mark.parametrize(
    "url", ["http://app.hex.tech", "http://10.1.2.3:8080", "http://localhost.example.com"]
)
def test_plain_http_to_a_non_loopback_host_is_refused_before_any_connection(
    scanner: Scanner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, url: str
) -> None:
    """Every connection the tool would open goes through a loopback proxy that records it:
    none is opened, the run ends with exit 2 and one line saying https is required."""
    root = tiny_project(tmp_path / "p")
    argv = ["sync", "--project-dir", str(root), "--warehouse", "snowflake", "-v"]
    if where == "flag":
        argv += ["--hex-url", url]
    elif where == "env":
        monkeypatch.setenv("HEX_URL", url)
    else:
        (root / "hex_exposures.yml").write_text(f"hex_url: {url}\n")
    with record_connections(lifetime=30) as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        code, _out, err = scanner.run(f"http {where}", argv)
    assert proxy.seen == []
    assert code == 2 and "https is required" in one_error_line(err)
    assert not (root / "models" / "hex_exposures.yml").exists()
    scanner.assert_clean()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_loopback_still_works(scanner: Scanner, tmp_path: Path, host: str) -> None:
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        source = HexApiSource(srv.url.replace("127.0.0.1", host), TOKEN)
        assert len(source.projects()) == 3
    scanner.assert_clean()


# --- every wait and read is bounded (issue 13) ----------------------------------------------

_DEEP = b'{"values": [' + b"[" * 100_000 + b"]" * 100_000 + b'], "pagination": {"after": null}}'
_BIG = b'{"values": [' + b'"xxxxxxxx", ' * 400 + b'"x"], "pagination": {"after": null}}'
_ONE_PAGE = {"values": PROJECTS, "pagination": {"after": None, "before": None}}
BOUNDS: dict[str, tuple[dict[str, Any], list[Fault], str]] = {
    # name: (HexApiSource limits, scripted answers on /projects, what the error line says)
    "endless fresh cursors": (
        {"max_pages": 5},
        [
            Fault(status=200, body={"values": [], "pagination": {"after": f"c{i}"}})
            for i in range(6)
        ],
        "limit of 5 pages",
    ),
    "trickled body": (
        {"request_seconds": 0.5},
        [Fault(status=200, body=_ONE_PAGE, trickle=0.02)],
        "within 0.5 s (the per-request time limit)",
    ),
    "trickled headers": (
        {"request_seconds": 0.5},
        [Fault(status=200, body=_ONE_PAGE, trickle=0.05, trickle_headers=True)],
        "within 0.5 s (the per-request time limit)",
    ),
    "big body": (
        {"max_body_bytes": 1000},
        [Fault(status=200, raw=_BIG)],
        "larger than 1000 bytes (the response size limit)",
    ),
    "Retry-After 999999": (
        {},
        [Fault(status=429, headers={"Retry-After": "999999"}, body={"reason": "slow down"})],
        "limit of 600 s of rate-limit waits per run",
    ),
    "429s adding up": (
        {"rate_limit_wait_seconds": 100},
        [Fault(status=429, headers={"Retry-After": "40"}, body={"reason": TOKEN})] * 3,
        "limit of 100 s of rate-limit waits per run (80 s waited)",
    ),
    "deep JSON": ({}, [Fault(status=200, raw=_DEEP)], "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(BOUNDS))
def test_each_bound_ends_the_run_with_exit_3_and_one_line_naming_it(
    scanner: Scanner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    limits, faults, says = BOUNDS[case]
    defaults = hex_api.HexApiSource.__init__.__kwdefaults__
    assert defaults is not None
    slept: list[float] = []
    monkeypatch.setitem(defaults, "sleep", slept.append)
    for name, value in limits.items():
        assert name in defaults
        monkeypatch.setitem(defaults, name, value)
    root = tiny_project(tmp_path / "p")
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")  # the local preflight passes; Hex fails
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        srv.script(PAGE, *faults)
        argv = ["sync", "--project-dir", str(root), "--hex-url", srv.url]
        code, _out, err = scanner.run(case, [*argv, "--warehouse", "snowflake", "-v"])
        served = len(srv.requests)
    assert code == 3 and says in one_error_line(err), err
    assert "internal error" not in err and "Traceback" not in err
    assert sum(slept) <= limits.get("rate_limit_wait_seconds", 600)
    assert served <= len(faults)
    assert not (root / "models" / "hex_exposures.yml").exists()
    scanner.assert_clean()


def test_the_body_is_streamed_and_cut_at_the_limit() -> None:
    """An endless body (no Content-Length) is refused at the limit, never read whole."""
    sent = [0]

    def endless() -> Iterator[bytes]:
        yield b'{"values": ['
        while True:
            sent[0] += 1
            yield b'"x", ' * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    client = httpx.Client(transport=httpx.MockTransport(handler))
    source = HexApiSource("https://app.hex.tech", TOKEN, client=client, max_body_bytes=100_000)
    with pytest.raises(HexExposuresError) as info:
        source.projects()
    assert "larger than 100000 bytes" in str(info.value) and info.value.exit_code == 3
    assert sent[0] <= 25  # about 100 KB of 5 KB chunks
