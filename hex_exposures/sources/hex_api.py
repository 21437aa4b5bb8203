"""Hex REST API source: projects, the workspace id and queriedTables, on an injected client.

Paging, the 60-requests-a-minute budget, 429 waits and retries live here and nowhere else.
The token is held in a `_Secret`, sent only in the Authorization header, and scrubbed from
every message this module builds; httpx errors become `HexApiError` at this edge, chained.
Clock and sleep are constructor arguments so tests and benchmarks never wait for real.

Every wait and read is bounded, each bound a constructor argument (tests use tiny ones) that
ends the run with one `HexApiError` naming it: the pages one listing may take, each
request's total time (headers and body, however slowly a server trickles them), the body
size (streamed, never read whole first), and the total time spent waiting out 429s.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from .. import __version__, safety
from ..bulk import TooDeepError, json_from_bytes
from ..errors import ConfigError, HexApiError
from ..identifiers import normalize, parse_table_name, rule_for
from ..records import HexProject, HexQuery, Settings, TableRef
from . import Progress

if TYPE_CHECKING:
    from ..hex_cache import HexApiCache

log = logging.getLogger("hex_exposures")

PAGE_SIZE = 100  # Hex's PageSize maximum
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # between bytes
MAX_PAGES = 10_000  # 1,000,000 projects at 100 a page: more than any workspace holds
REQUEST_SECONDS = 120.0  # one request, first byte sent to last byte read
MAX_BODY_BYTES = 64 * 2**20  # a page of 100 projects is ~0.2 MiB
RATE_LIMIT_WAIT_SECONDS = 600.0  # 429 waits per run, all requests together
# Transient transport failures worth another try; a bad URL or protocol is not.
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Snowflake's reserved keywords (its docs' list): sqlglot reads them back unquoted, Snowflake
# does not. BigQuery's list ships with sqlglot's generator, which quotes them itself.
_RESERVED = {
    "snowflake": frozenset(
        """ACCOUNT ALL ALTER AND ANY AS BETWEEN BY CASE CAST CHECK COLUMN CONNECT CONNECTION
        CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER
        DATABASE DELETE DISTINCT DROP ELSE EXISTS FALSE FOLLOWING FOR FROM FULL GRANT GROUP
        GSCLUSTER HAVING ILIKE IN INCREMENT INNER INSERT INTERSECT INTO IS ISSUE JOIN LATERAL
        LEFT LIKE LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT NULL OF ON OR ORDER ORGANIZATION
        QUALIFY REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SCHEMA SELECT SET SOME START TABLE
        TABLESAMPLE THEN TO TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE USING VALUES VIEW WHEN
        WHENEVER WHERE WINDOW WITH""".split()  # noqa: SIM905
    ),
}
_TOKEN_OK = re.compile(r"[\x21-\x7e]+\Z")  # printable ASCII, no spaces: a valid header value


class _Secret:
    """Keeps the token out of reprs, tracebacks with locals, and `vars()` dumps."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "_Secret('***')"

    __str__ = __repr__


class RateLimiter:
    """At most `limit` requests in any `window` seconds (a sliding window of timestamps).

    Hex resets its counter 60 s after the first request of a window; never exceeding the
    budget in any window keeps us under it whatever its window's phase. `limit=None` lifts it.
    """

    def __init__(
        self,
        limit: int | None = 60,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._stamps: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        if not self.limit:
            return
        while True:
            now = self._clock()
            while self._stamps and self._stamps[0] <= now - self.window:
                self._stamps.popleft()
            if len(self._stamps) < self.limit:
                self._stamps.append(now)
                return
            wait = self._stamps[0] + self.window - now
            if self._on_wait:
                self._on_wait(wait)
            self.waited += wait
            self._sleep(wait)


def api_root(url: str) -> str:
    """``https://host[/prefix]/api`` from what a user may type: a bare host, a trailing slash
    or ``/api/v1``. EU (eu.hex.tech) and single-tenant (acme.hex.tech) hosts work alike."""
    text = (url or "").strip()
    if not text:
        raise ConfigError("--hex-url / HEX_URL is empty")
    if "://" not in text:
        text = "https://" + text
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"--hex-url: not a URL: {url!r}") from exc
    if parsed.userinfo:
        raise ConfigError("--hex-url must not contain a user name or password")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"--hex-url: not an http(s) URL: {url!r}")
    if parsed.scheme == "http" and not safety.is_loopback(parsed.host):
        safety.check_hex_url(text)  # raises: https is required
    path = parsed.path.rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return str(parsed.copy_with(path=path + "/api", query=None, fragment=None))


class _Connection(NamedTuple):
    type: str
    database: str | None  # the connection's defaults, to pad short table names
    schema: str | None
    detailed: bool  # connectionDetails was present (the list may leave it out)
    username: str | None = None  # the warehouse user it logs in as, when Hex says


class _Answer(NamedTuple):
    """A response read whole within the limits (httpx's streamed response is closed)."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes

    def __repr__(self) -> str:  # the body may echo the token: keep it out of tracebacks
        return f"<_Answer [{self.status_code}] {len(self.body)} bytes>"


class _Limit(Exception):
    """A bound was hit inside the request thread; the message names it."""


class _Refused(Exception):
    """A status the caller chose to handle itself (403/404/422 on per-project endpoints)."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"{status} at {url}")
        self.status = status
        self.url = url


class HexApiSource:
    """A live Hex API session: one token, one base URL, one request budget."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        client: httpx.Client | None = None,
        progress: Progress | None = None,
        include_components: bool = True,
        queried_tables: bool = True,
        rate_limit: int | None = 60,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_attempts: int = 5,
        max_retry_seconds: float = 120.0,
        max_rate_limit_waits: int = 10,
        cache: HexApiCache | None = None,
        max_pages: int = MAX_PAGES,
        request_seconds: float = REQUEST_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
        rate_limit_wait_seconds: float = RATE_LIMIT_WAIT_SECONDS,
    ) -> None:
        token = (token or "").strip()
        if not token:
            raise ConfigError(
                "--hex-token / HEX_API_TOKEN is required unless --from-snapshot is given"
            )
        if not _TOKEN_OK.match(token):
            raise ConfigError("--hex-token / HEX_API_TOKEN contains spaces or non-ASCII characters")
        self._secret = _Secret(token)
        self.api = api_root(base_url)
        self.base_url = self.api.removesuffix("/api")
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._progress = progress
        self.include_components = include_components
        self._queried_enabled = queried_tables
        self._clock, self._sleep, self._wall, self._jitter = clock, sleep, wall, jitter
        self._timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_pages = max_pages
        self.request_seconds = request_seconds
        self.max_body_bytes = max_body_bytes
        self.rate_limit_wait_seconds = rate_limit_wait_seconds
        self.rate_limit_waited = 0.0  # 429 waits so far, this run
        self.window = window
        self.limiter = RateLimiter(
            rate_limit, window, clock=clock, sleep=sleep, on_wait=self._waiting
        )
        self.request_count = 0
        self.malformed = 0  # project items skipped because they were not a ProjectApiResource
        self._workspace: str | None = None
        self._connections: dict[str, _Connection] | None = None
        self._refused_listing: _Refused | None = None  # GET /v1/data-connections refused
        self.cache = cache

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        progress: Progress | None = None,
        cache: HexApiCache | None = None,
    ) -> HexApiSource:
        return cls(
            settings.hex_url or "https://app.hex.tech",
            settings.hex_token or "",
            client=client,
            progress=progress,
            include_components=settings.include_components,
            queried_tables=settings.queried_tables,
            cache=cache,
        )

    def __repr__(self) -> str:
        return f"HexApiSource({self.base_url!r})"

    def __enter__(self) -> HexApiSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- the ProjectSource protocol -------------------------------------------------------

    def projects(self) -> list[HexProject]:
        """Every project (and component), trashed and archived ones too so their exposures go."""
        params = {
            "includeComponents": _flag(self.include_components),
            "includeArchived": "true",
            "includeTrashed": "true",
        }
        found: dict[str, HexProject] = {}
        for values in self._pages("/v1/projects", params):
            for item in values:
                try:
                    project = HexProject.from_api(item)
                except (ValueError, TypeError, AttributeError, KeyError):
                    self.malformed += 1
                    continue
                found[project.id] = project
            self._say(f"fetched {len(found)} projects ({self.request_count} requests)")
        if self.malformed:
            log.warning("skipped %d malformed project(s) in the Hex API response", self.malformed)
        return list(found.values())

    def workspace(self) -> str | None:
        """``org.id`` from ``/v1/users/me``: the workspace segment of project URLs."""
        if self._workspace is None:
            body = self._json(self._get("/v1/users/me", {}), "/v1/users/me")
            org = body.get("org")
            org_id = org.get("id") if isinstance(org, Mapping) else None
            self._workspace = org_id if isinstance(org_id, str) and org_id else None
        return self._workspace

    def queried_tables(self, projects: Sequence[HexProject], warehouse: str) -> list[HexQuery]:
        """Enterprise lineage: one table-only `HexQuery` per published project.

        `run_count` is 0 because these records are tables Hex saw, not queries that ran.
        """
        rule_for(warehouse)
        wanted = [p for p in projects if p.published and p.live]
        if not self._queried_enabled or not wanted:
            return []
        cache = self.cache
        cached = {p.id: cache.tables(p.id, _published_at(p)) for p in wanted} if cache else {}
        fetch = [p for p in wanted if cached.get(p.id) is None]
        if fetch or cache is None or not cache.connections:
            connections = self._warehouse_connections(warehouse)
            if cache is not None and self._connections is not None:
                cache.set_connections({cid: c._asdict() for cid, c in self._connections.items()})
        else:  # nothing published since the last run: no request at all
            connections = {
                cid: _Connection(**c)
                for cid, c in cache.connections.items()
                if c.get("type") == warehouse
            }
        if not connections:
            log.debug("no %s data connection visible in Hex; queriedTables not used", warehouse)
            return []
        records: list[HexQuery] = []
        for done, project in enumerate(wanted, 1):
            pairs = cached.get(project.id)
            if pairs is None:
                if not self._queried_enabled:
                    continue
                try:
                    pairs = tuple(self._project_pairs(project.id))
                except _Refused as refused:
                    if refused.status == 403:
                        self._turn_off_queried_tables(refused)
                    continue  # 422 unpublished, 404 gone since listing
                if cache is not None:
                    cache.put(project.id, _published_at(project), pairs)
            tables = _tables(pairs, connections, warehouse)
            if tables:
                records.append(
                    HexQuery(project_id=project.id, query_text="", run_count=0, tables=tables)
                )
            if done % 25 == 0 or done == len(wanted):
                self._say(
                    f"queried tables: {done} of {len(wanted)} published projects"
                    f" ({self.request_count} requests)"
                )
        if cache is not None:
            cache.save()
        return records

    def connection_users(self, warehouse: str) -> tuple[tuple[str, ...], str | None]:
        """(the users this warehouse's data connections log in as, why there are none).

        For --hex-user auto: ``connectionDetails.<type>.username`` of every connection of
        type `warehouse`, read from GET /v1/data-connections (and /{id} when the list leaves
        the details out). A token without the Data connections scope gets none, and a reason.
        """
        connections = self._warehouse_connections(warehouse, quiet=True)
        users = tuple(sorted({c.username for c in connections.values() if c.username}))
        if users:
            return users, None
        if self._refused_listing is not None:
            return (), (
                f"the Hex API refused the data connections ({self._refused_listing.status}; the "
                "token needs the 'Data connections: read' scope)"
            )
        if not connections:
            return (), f"Hex lists no {warehouse} data connection this token can see"
        return (), f"Hex names no user for its {len(connections)} {warehouse} data connection(s)"

    # --- queriedTables helpers ------------------------------------------------------------

    def _turn_off_queried_tables(self, refused: _Refused) -> None:
        self._queried_enabled = False
        log.info(
            "Hex queriedTables is not available to this token or plan (%d at %s);"
            " continuing without it",
            refused.status,
            refused.url,
        )

    def _warehouse_connections(
        self, warehouse: str, *, quiet: bool = False
    ) -> dict[str, _Connection]:
        if self._connections is None:
            connections: dict[str, _Connection] = {}
            if self._refused_listing is None:
                try:
                    for values in self._pages("/v1/data-connections", {}, tolerate={403, 404}):
                        for item in values:
                            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                                connections[item["id"]] = _connection(item)
                except _Refused as refused:
                    self._refused_listing = refused
            if self._refused_listing is not None:
                if not quiet and self._queried_enabled:  # queriedTables needs them
                    self._turn_off_queried_tables(self._refused_listing)
                return {}
            self._connections = connections
        wanted = [(cid, c) for cid, c in self._connections.items() if c.type == warehouse]
        return {cid: self._with_details(cid, conn) for cid, conn in wanted}

    def _with_details(self, cid: str, conn: _Connection) -> _Connection:
        """The list may omit connectionDetails; one GET per warehouse connection fills them."""
        if conn.detailed:
            return conn
        path = f"/v1/data-connections/{cid}"
        try:
            response = self._get(path, {}, tolerate={403, 404})
        except _Refused:
            return conn
        assert self._connections is not None
        self._connections[cid] = filled = _connection(self._json(response, path))
        return filled if filled.type == conn.type else conn

    def _project_pairs(self, project_id: str) -> list[tuple[str, str]]:
        """(dataConnectionId, tableName) of every table queriedTables lists for the project."""
        pairs: list[tuple[str, str]] = []
        path = f"/v1/projects/{project_id}/queriedTables"
        for values in self._pages(path, {}, tolerate={403, 404, 422}):
            for item in values:
                if not isinstance(item, Mapping):
                    continue
                table_name = item.get("tableName")
                if isinstance(table_name, str):
                    pairs.append((str(item.get("dataConnectionId")), table_name))
        return pairs

    # --- HTTP -------------------------------------------------------------------------------

    def _pages(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        tolerate: frozenset[int] | set[int] = frozenset(),
    ) -> Iterator[list[Any]]:
        """Each page's ``values``, following the opaque ``pagination.after`` until null."""
        after: str | None = None
        seen: set[str] = set()
        for _page in range(self.max_pages):
            query = {**params, "limit": str(PAGE_SIZE)}
            if after is not None:
                query["after"] = after
            body = self._json(self._get(path, query, tolerate=tolerate), path)
            values = body.get("values")
            if not isinstance(values, list):
                raise self._error(
                    f"unexpected answer from Hex at {self._url(path)}: no 'values' list"
                )
            yield values
            pagination = body.get("pagination")
            after = pagination.get("after") if isinstance(pagination, Mapping) else None
            if after is None or after == "":
                return
            if not isinstance(after, str) or after in seen:
                raise self._error(
                    f"Hex returned a bad or repeated page cursor at {self._url(path)}"
                )
            seen.add(after)
        raise self._error(
            f"Hex kept returning pages at {self._url(path)}: stopped at the limit of"
            f" {self.max_pages} pages"
        )

    def _get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        tolerate: frozenset[int] | set[int] = frozenset(),
    ) -> _Answer:
        """One GET within the budget: waits out 429s, retries 5xx and transport errors."""
        url = self._url(path)
        started = self._clock()
        failures = 0
        rate_waits = 0
        while True:
            self.limiter.acquire()
            self.request_count += 1
            try:
                response = self._fetch(url, params)
            except _Limit as exc:
                raise self._error(str(exc)) from None
            except _RETRYABLE as exc:
                failures += 1
                what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._retry_or_raise(
                    failures,
                    started,
                    f"cannot reach Hex at {url} ({what})",
                    exc,
                    reason=_transport_reason(exc),
                )
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise self._error(
                    f"cannot call Hex at {url} ({type(exc).__name__}: {exc})"
                ) from exc
            status = response.status_code
            log.debug("GET %s -> %d", url, status)
            if status == 429:
                rate_waits += 1
                if rate_waits > self.max_rate_limit_waits:
                    raise self._error(
                        f"Hex kept answering 429 Too Many Requests at {url}"
                        f" after {self.max_rate_limit_waits} waits; try again later"
                    )
                wait = self._rate_limit_wait(response)
                if self.rate_limit_waited + wait > self.rate_limit_wait_seconds:
                    raise self._error(
                        f"Hex answered 429 Too Many Requests at {url} and asks to wait"
                        f" {math.ceil(wait)} s: over the limit of"
                        f" {self.rate_limit_wait_seconds:g} s of rate-limit waits per run"
                        f" ({math.ceil(self.rate_limit_waited)} s waited); try again later"
                    )
                self.rate_limit_waited += wait
                self._waiting(wait)
                self._sleep(wait)
                continue
            if status >= 500:
                failures += 1
                self._retry_or_raise(
                    failures,
                    started,
                    self._status_message(response, path),
                    None,
                    reason=f"HTTP {status}",
                )
                continue
            if 200 <= status < 300:
                return response
            if status in tolerate:
                raise _Refused(status, url)
            raise self._error(self._status_message(response, path))

    def _fetch(self, url: str, params: Mapping[str, str]) -> _Answer:
        """One request, read whole, within `request_seconds` of wall time in all.

        httpx's timeouts bound each read, not the sum: a server sending a byte every few
        seconds would hold a request for ever. The request runs in a daemon thread that this
        one waits for; past the limit the run ends (the thread stops at its next chunk, or
        when the server hangs up).
        """
        box: dict[str, Any] = {}
        done = threading.Event()
        cancel = threading.Event()

        def work() -> None:
            try:
                box["answer"] = self._read(url, params, cancel)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=work, name="hex-api-request", daemon=True)
        worker.start()
        if not done.wait(self.request_seconds):
            cancel.set()
            raise _Limit(
                f"Hex did not finish answering {url} within {self.request_seconds:g} s"
                " (the per-request time limit)"
            )
        if "error" in box:
            raise box["error"]
        answer: _Answer = box["answer"]
        return answer

    def _read(self, url: str, params: Mapping[str, str], cancel: threading.Event) -> _Answer:
        """Stream the body, refusing it past `max_body_bytes` (decoded size: no zip bombs)."""
        limit = self.max_body_bytes
        too_big = f"Hex's answer at {url} is larger than {_size(limit)} (the response size limit)"
        with self._client.stream(
            "GET", url, params=params, headers=self._headers(), timeout=self._timeout
        ) as response:
            length = response.headers.get("content-length", "")
            if (
                length.isdigit()
                and int(length) > limit
                and not response.headers.get("content-encoding")
            ):
                raise _Limit(too_big)
            body = bytearray()
            for chunk in response.iter_bytes():
                if cancel.is_set():
                    raise _Limit(f"request to {url} cancelled")
                body += chunk
                if len(body) > limit:
                    raise _Limit(too_big)
            return _Answer(
                response.status_code, response.reason_phrase, response.headers, bytes(body)
            )

    def _retry_or_raise(
        self, failures: int, started: float, message: str, exc: Exception | None, *, reason: str
    ) -> None:
        """Sleep before the next attempt, saying which service failed and why; or give up."""
        delay = min(30.0, 2.0 ** (failures - 1)) * (0.5 + self._jitter() / 2)
        spent = self._clock() - started
        if failures >= self.max_attempts or spent + delay > self.max_retry_seconds:
            raise self._error(f"{message}; gave up after {failures} attempts") from exc
        log.debug("%s", self._secret.scrub(message))
        # A lasting line (progress lines are overwritten): a slow run says what it waits for.
        log.info(
            "%s",
            self._secret.scrub(
                f"Hex API: {reason}, retrying in {delay:.1f} s"
                f" (attempt {failures + 1} of {self.max_attempts})"
            ),
        )
        self._sleep(delay)

    def _rate_limit_wait(self, response: _Answer) -> float:
        """Retry-After, else a reset header, else the whole window (Hex resets 60 s after the
        window's first request, which we cannot see). Not capped here: `_get` refuses a wait
        that would take the run past `rate_limit_wait_seconds`."""
        headers = response.headers
        value = headers.get("retry-after")
        wait: float | None = None
        if value:
            wait = _number(value)
            if wait is None:
                try:
                    wait = email.utils.parsedate_to_datetime(value).timestamp() - self._wall()
                except (TypeError, ValueError, IndexError):
                    wait = None
        else:
            for name in _RESET_HEADERS:
                reset = _number(headers.get(name, ""))
                if reset is not None:
                    if reset > 1e12:  # epoch milliseconds
                        reset = reset / 1000 - self._wall()
                    elif reset > 1e9:  # epoch seconds
                        reset -= self._wall()
                    wait = reset
                    break
        if wait is None:
            return self.window
        return max(wait, 1.0)  # however long: the run's rate-limit wait budget caps it

    def _status_message(self, response: _Answer, path: str) -> str:
        status = response.status_code
        url = self._url(path)
        head = f"Hex API answered {status} {response.reason_phrase} at {url}"
        reason = self._secret.scrub(_reason(response))  # a server may echo the token
        if status == 401:
            return f"{head}: the token is invalid or expired, or --hex-url is wrong{reason}"
        if status == 403:
            hint = " (or give --workspace)" if path.startswith("/v1/users") else ""
            return f"{head}: the token lacks the '{_scope(path)}' scope{hint}{reason}"
        if status == 404:
            return f"{head}: check --hex-url (e.g. https://app.hex.tech or https://eu.hex.tech){reason}"
        if 300 <= status < 400:
            where = self._secret.scrub(response.headers.get("location", "?"))
            return f"{head}, redirecting to {where}: check --hex-url"
        return head + reason

    def _json(self, response: _Answer, path: str) -> Mapping[str, Any]:
        try:
            body = json_from_bytes(response.body)
        except TooDeepError:
            raise self._error(
                f"Hex answered {self._url(path)} with JSON nested too deeply to read"
            ) from None
        except ValueError as exc:
            raise self._error(
                f"Hex answered {self._url(path)} with something that is not JSON: check --hex-url"
            ) from exc
        if not isinstance(body, Mapping):
            raise self._error(f"unexpected answer from Hex at {self._url(path)}: not a JSON object")
        return body

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._secret.reveal()}",
            "Accept": "application/json",
            "User-Agent": f"hex-exposures/{__version__}",
        }

    def _url(self, path: str) -> str:
        return self.api + path

    def _error(self, message: str) -> HexApiError:
        return HexApiError(self._secret.scrub(" ".join(message.split())))

    def _waiting(self, seconds: float) -> None:
        self._say(f"rate limited: waiting {math.ceil(seconds)} s")

    def _say(self, line: str) -> None:
        if self._progress is not None:
            self._progress(self._secret.scrub(line))


# --- pure helpers -------------------------------------------------------------------------


def _transport_reason(exc: Exception) -> str:
    """A few words for a failed request: "timed out", "connection refused", the class name."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed early"
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "reset" in text:
        return "connection reset"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    return type(exc).__name__


def qualify(
    table_name: str, database: str | None, schema: str | None, warehouse: str
) -> str | None:
    """`table_name` (as Hex gives it, maybe short) padded with the connection's defaults and
    written in the warehouse's SQL quoting; None when it is not a table name."""
    ref = parse_table_name(table_name, warehouse)
    if ref is None:
        return None
    schema_part = ref.schema or _default_part(schema, warehouse)
    database_part = ref.database or (_default_part(database, warehouse) if schema_part else None)
    return render_table(TableRef(database_part, schema_part, ref.name), warehouse)


def render_table(ref: TableRef, warehouse: str) -> str:
    """Quote a part only when it needs it, proved by reading the text back."""
    from sqlglot import exp

    def ident(part: str | None, force: bool) -> exp.Identifier | None:
        if part is None:
            return None
        plain = (
            bool(_PLAIN_NAME.match(part))
            and normalize(part, quoted=False, warehouse=warehouse) == part
            and part.upper() not in _RESERVED.get(warehouse, ())
        )
        return exp.to_identifier(part, quoted=force or not plain)

    text = str(ref)
    for force in (False, True):
        table = exp.Table(
            this=ident(ref.name, force),
            db=ident(ref.schema, force),
            catalog=ident(ref.database, force),
        )
        text = table.sql(dialect=rule_for(warehouse).dialect)
        if parse_table_name(text, warehouse) == ref:
            return text
    return text


def _published_at(project: HexProject) -> str:
    return str(project.raw.get("lastPublishedAt"))


def _tables(
    pairs: Sequence[tuple[str, str]], connections: Mapping[str, _Connection], warehouse: str
) -> tuple[str, ...]:
    """The pairs on this warehouse's connections, padded with each connection's defaults."""
    names: set[str] = set()
    for cid, table_name in pairs:
        conn = connections.get(cid)
        if conn is not None:
            qualified = qualify(table_name, conn.database, conn.schema, warehouse)
            if qualified:
                names.add(qualified)
    return tuple(sorted(names))


def _connection(item: Mapping[str, Any]) -> _Connection:
    kind = str(item.get("type") or "").lower()
    details = item.get("connectionDetails")
    own = details.get(kind) if isinstance(details, Mapping) else None
    if not isinstance(own, Mapping):
        return _Connection(kind, None, None, detailed="connectionDetails" in item)
    user = next((_text(own.get(k)) for k in _USER_KEYS if _text(own.get(k))), None)
    if kind == "bigquery":
        return _Connection(kind, _text(own.get("projectId")), None, detailed=True, username=user)
    return _Connection(
        kind, _text(own.get("database")), _text(own.get("schema")), detailed=True, username=user
    )


# connectionDetails.<type>.username (Snowflake, Redshift, Postgres, Trino, ClickHouse). Hex
# documents no user for BigQuery; the service-account spellings are read if it ever sends one.
_USER_KEYS = ("username", "serviceAccountEmail", "clientEmail")


def _default_part(value: str | None, warehouse: str) -> str | None:
    """A connection default as the warehouse stores it: quoted kept, unquoted folded."""
    if not value:
        return None
    quote = '"' if rule_for(warehouse).dialect != "bigquery" else "`"
    if len(value) > 1 and value[0] == value[-1] == quote:
        return value[1:-1] or None
    return normalize(value, quoted=False, warehouse=warehouse)


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} bytes"


def _reason(response: _Answer) -> str:
    """The server's own reason (TsoaErrorResponsePayload), one short line, or ""."""
    try:
        body = json_from_bytes(response.body)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(body, Mapping):
        return ""
    parts = [
        str(body[k]) for k in ("reason", "details") if isinstance(body.get(k), str) and body[k]
    ]
    text = " ".join(" - ".join(parts).split())
    return f" ({text[:200]})" if text else ""


def _scope(path: str) -> str:
    if path.endswith("/queriedTables"):
        return "Read project queried tables"
    if path.startswith("/v1/data-connections"):
        return "Data connections: read"
    if path.startswith("/v1/users"):
        return "Users: read"
    return "Read projects"
