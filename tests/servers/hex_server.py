"""A loopback Hex REST API for tests and benchmarks: real JSON shapes, real HTTP.

`serve(...)` starts a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 at a random port in a
daemon thread and always stops: on leaving the ``with`` block, after `lifetime` seconds, or
after `max_requests` requests. It serves

    GET /api/v1/projects                      paged, opaque base64url cursors, include* filters
    GET /api/v1/users/me                      {org: {id}, token} (workspace-token shape)
    GET /api/v1/data-connections[/{id}]       paged list / one with connectionDetails
    GET /api/v1/projects/{id}/queriedTables   paged; 422 when unpublished, 404 when unknown

with a Hex-like rate limit (counter resets `window` s after a window's first request; 429
with or without Retry-After), scripted faults per path (`script`), and a record of every
request (path, query, headers, time, answer) for assertions.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

TOKEN = "hxtw_" + "5eC7e7" * 16  # 96 characters after the prefix, like Hex's own
ORG_ID = "0d3a5d6c-0b1e-4f7e-9a51-7c0f3e2b8a11"
API = "/api/v1"
_EPOCH = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
_STATUSES = ("Production", "In development", "Exploratory", "Deprecated")
_CATEGORIES = ("Finance", "Marketing", "Ops")


class FakeClock:
    """Shared by client and server so a 60 s wait costs nothing; sleeps are recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)


class Fault(NamedTuple):
    """One scripted answer: a status (with headers/body), a connection reset, or a stall."""

    status: int | None = None
    headers: Mapping[str, str] = {}
    body: Any = None
    reset: bool = False
    delay: float = 0.0  # seconds to stall before answering (real time; for timeouts)
    raw: bytes | None = None  # the body's bytes as they are (not JSON-encoded)
    trickle: float = 0.0  # seconds between bytes of the body (real time)
    trickle_headers: bool = False  # trickle the status line and headers too


RESET = Fault(reset=True)


class Recorded(NamedTuple):
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    at: float  # the server clock
    status: int | str  # the answer, or "reset"
    sent: dict[str, str]  # the answer's extra headers, lower-cased names


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_project(i: int) -> dict[str, Any]:
    """A complete ProjectApiResource; index `i` picks its quirks deterministically.

    Every 10th is a COMPONENT, every 7th has status null, every 5th no categories, every
    3rd is published, #7 and #13 (mod 50) are archived and trashed, #1 has a non-ASCII title.
    """
    created = _EPOCH - timedelta(minutes=i)  # newest first, like Hex
    published = i % 3 == 0
    title = "Ventes été – 売上ダッシュボード 📈" if i == 1 else f"Project {i:05d}"
    return {
        "id": str(uuid.UUID(int=(0x4E5 << 100) | i)),
        "title": title,
        "description": None if i % 4 == 0 else f"Weekly numbers #{i}",
        "type": "COMPONENT" if i % 10 == 9 else "PROJECT",
        "creator": {"email": f"creator{i % 17}@acme.com"},
        "owner": {"email": f"owner{i % 11}@acme.com"},
        "status": None if i % 7 == 3 else {"name": _STATUSES[i % len(_STATUSES)]},
        "categories": [] if i % 5 == 0 else [{"name": _CATEGORIES[i % 3], "description": None}],
        "reviews": {"required": i % 2 == 0},
        "analytics": {
            "appViews": {
                "allTime": i * 3,
                "lastSevenDays": i % 9,
                "lastFourteenDays": i % 13,
                "lastThirtyDays": i % 29,
            },
            "lastViewedAt": _ts(created + timedelta(days=2)) if published else None,
            "publishedResultsUpdatedAt": _ts(created + timedelta(days=1)) if published else None,
        },
        "lastEditedAt": _ts(created + timedelta(hours=3)),
        "lastPublishedAt": _ts(created + timedelta(hours=5)) if published else None,
        "createdAt": _ts(created),
        "archivedAt": _ts(created + timedelta(days=9)) if i % 50 == 7 else None,
        "trashedAt": _ts(created + timedelta(days=8)) if i % 50 == 13 else None,
        "schedules": []
        if i % 4
        else [
            {
                "cadence": "DAILY",
                "enabled": True,
                "hourly": None,
                "daily": {"hour": 6, "minute": 0, "timezone": "Europe/Paris"},
                "weekly": None,
                "monthly": None,
                "custom": None,
            }
        ],
    }


def make_connection(cid: str, kind: str, name: str, **details: Any) -> dict[str, Any]:
    """A DataConnectionWithSensitiveFieldsApiResource (secrets are never returned by Hex)."""
    return {
        "id": cid,
        "name": name,
        "type": kind,
        "description": None,
        "connectionDetails": {kind: details},
        "connectViaSsh": False,
        "includeMagic": True,
        "allowWritebackCells": False,
    }


@dataclass
class HexState:
    """Everything the server knows; handlers touch it under `lock`."""

    projects: list[Any]
    token: str
    clock: Callable[[], float]
    rate_limit: int | None
    window: float
    retry_after: bool
    reset_header: bool
    max_page: int
    connections: list[Mapping[str, Any]]
    queried: dict[str, Sequence[Mapping[str, Any]]]
    forbidden: set[str]
    list_details: bool
    max_requests: int
    prefix: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Recorded] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    window_start: float | None = None
    window_count: int = 0
    cursors: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _views: dict[tuple[bool, bool, bool], list[Any]] = field(default_factory=dict)

    def view(self, components: bool, archived: bool, trashed: bool) -> list[Any]:
        key = (components, archived, trashed)
        if key not in self._views:
            self._views[key] = [p for p in self.projects if _visible(p, *key)]
        return self._views[key]

    def cursor(self, offset: int, item: Any) -> str:
        """Opaque like Hex's: base64url of ``v2:["<createdAt>","<id>"]``."""
        created = item.get("createdAt") if isinstance(item, dict) else None
        ident = item.get("id") if isinstance(item, dict) else None
        raw = "v2:" + json.dumps([created, ident if isinstance(ident, str) else f"#{offset}"])
        text = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        self.cursors[text] = offset
        return text

    def throttle(self) -> tuple[bool, dict[str, str]]:
        """Hex: 60 a minute, reset 60 s after the window's first request."""
        if not self.rate_limit:
            return False, {}
        now = self.clock()
        if self.window_start is None or now - self.window_start >= self.window:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        reset_in = self.window_start + self.window - now
        headers: dict[str, str] = {}
        if self.reset_header:
            headers["X-RateLimit-Limit"] = str(self.rate_limit)
            headers["X-RateLimit-Remaining"] = str(max(0, self.rate_limit - self.window_count))
            headers["X-RateLimit-Reset"] = str(math.ceil(reset_in))
        if self.window_count <= self.rate_limit:
            return False, headers
        if self.retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(reset_in)))
        return True, headers


def _visible(item: Any, components: bool, archived: bool, trashed: bool) -> bool:
    if not isinstance(item, dict):
        return True  # malformed items are served as they are
    if item.get("type") == "COMPONENT" and not components:
        return False
    if item.get("archivedAt") and not archived:
        return False
    return not (item.get("trashedAt") and not trashed)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API behind a load balancer
    timeout = 10  # an idle keep-alive connection frees its thread
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle plus delayed ACKs
        # cost ~40 ms a request on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests assert on output

    def do_GET(self) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        with state.lock:
            number = len(state.requests) + 1
            fault = None
            for key in (split.path, "*"):
                queue = state.faults.get(key)
                if queue:
                    fault = queue.popleft()
                    break
            if number > state.max_requests:
                status, headers, body = 503, {}, {"reason": "test server request cap reached"}
                self.close_connection = True
                threading.Thread(target=self.server.stop, daemon=True).start()
            elif fault is not None:
                status, headers, body = fault.status or 0, dict(fault.headers), fault.body
            else:
                status, headers, body = self._answer(state, split.path, query)
            state.requests.append(
                Recorded(
                    "GET",
                    split.path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    state.clock(),
                    "reset" if fault is not None and fault.reset else status,
                    {k.lower(): v for k, v in headers.items()},
                )
            )
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.reset:
            # SO_LINGER 0: close() sends RST, the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault is not None and (fault.raw is not None or fault.trickle):
            self._send_raw(status, headers, fault)
            return
        self._send(status, headers, body)

    def _send_raw(self, status: int, headers: Mapping[str, str], fault: Fault) -> None:
        """A scripted body as bytes, maybe one byte at a time; stops when the client leaves
        or the server stops (so a trickle never outlives its test)."""
        data = fault.raw if fault.raw is not None else json.dumps(fault.body).encode()
        head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(data)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.close_connection = True
        try:
            if fault.trickle_headers:
                for byte in head.encode():
                    if self.server.stopping.is_set():
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(fault.trickle)
            else:
                self.wfile.write(head.encode())
            step = 1 if fault.trickle else 1 << 20
            for start in range(0, len(data), step):
                if self.server.stopping.is_set():
                    return
                self.wfile.write(data[start : start + step])
                self.wfile.flush()
                if fault.trickle:
                    time.sleep(fault.trickle)
        except OSError:
            pass  # the client gave up: what a limit is for

    def _send(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (timeout test)

    def _answer(
        self, state: HexState, path: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], Any]:
        if not path.startswith(state.prefix + API + "/"):
            return 404, {}, {"reason": "Not found"}
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            return 401, {}, {"reason": "Invalid or expired token", "traceId": "t-401"}
        limited, headers = state.throttle()
        if limited:
            return 429, headers, {"reason": "Rate limit exceeded", "traceId": "t-429"}
        parts = path[len(state.prefix + API) :].strip("/").split("/")
        if parts[0] in state.forbidden or (parts[-1] in state.forbidden):
            return 403, headers, {"reason": f"Token is missing a scope for {parts[-1]}"}
        if parts == ["users", "me"]:
            return 200, headers, {"org": {"id": ORG_ID}, "token": {"exp": None}}
        if parts == ["projects"]:
            items = state.view(
                _bool(query, "includeComponents"),
                _bool(query, "includeArchived"),
                _bool(query, "includeTrashed"),
            )
            return self._page(state, items, query, headers)
        if parts == ["data-connections"]:
            listed: list[Any] = [
                c if state.list_details else {k: c[k] for k in ("id", "name", "type")}
                for c in state.connections
            ]
            return self._page(state, listed, query, headers)
        if len(parts) == 2 and parts[0] == "data-connections":
            for conn in state.connections:
                if conn["id"] == parts[1]:
                    return 200, headers, conn
            return 404, headers, {"reason": "Data connection not found"}
        if len(parts) == 3 and parts[0] == "projects" and parts[2] == "queriedTables":
            project = next(
                (p for p in state.projects if isinstance(p, dict) and p.get("id") == parts[1]),
                None,
            )
            if project is None:
                return 404, headers, {"reason": "Project not found"}
            if project.get("lastPublishedAt") is None:
                return 422, headers, {"reason": "Project has not been published"}
            code, extra, body = self._page(
                state, list(state.queried.get(parts[1], ())), query, headers
            )
            if code == 200:
                body["traceId"] = f"t-{parts[1][:8]}"
            return code, extra, body
        return 404, headers, {"reason": "Not found"}

    def _page(
        self,
        state: HexState,
        items: list[Any],
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> tuple[int, dict[str, str], Any]:
        try:
            limit = int(query.get("limit", ["25"])[0])
        except ValueError:
            return 400, headers, {"reason": "limit must be an integer"}
        if not 1 <= limit <= 100:
            return 400, headers, {"reason": "limit must be between 1 and 100"}
        limit = min(limit, state.max_page)
        start = 0
        if "after" in query:
            if query["after"][0] not in state.cursors:
                return 400, headers, {"reason": "Invalid cursor"}
            start = state.cursors[query["after"][0]] + 1
        page = items[start : start + limit]
        end = start + len(page)
        return (
            200,
            headers,
            {
                "values": page,
                "pagination": {
                    "after": state.cursor(end - 1, page[-1]) if end < len(items) else None,
                    "before": state.cursor(start, items[start]) if start and page else None,
                },
            },
        )


def _bool(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[0] == "true"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: HexState
    stopping: threading.Event

    def stop(self) -> None:
        """Stop serving and close the socket, so late clients are refused, not left hanging."""
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        self.state.errors.append(repr(sys.exc_info()[1]))


class HexServer:
    """Handle on a running server: its URL, its state, and fault scripting."""

    def __init__(self, httpd: _Server) -> None:
        self._httpd = httpd
        self.state = httpd.state
        host, port = httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def script(self, path: str, *faults: Fault | int) -> None:
        """Answer the next requests to `path` (``*``: any path) with these, in order."""
        queue = self.state.faults.setdefault(path, deque())
        for fault in faults:
            queue.append(
                fault
                if isinstance(fault, Fault)
                else Fault(status=fault, body={"reason": "scripted"})
            )


@contextmanager
def serve(
    *,
    projects: Sequence[Any] | None = None,
    project_count: int = 250,
    token: str = TOKEN,
    clock: Callable[[], float] = time.monotonic,
    rate_limit: int | None = 60,
    window: float = 60.0,
    retry_after: bool = True,
    reset_header: bool = False,
    max_page: int = 100,
    connections: Sequence[Mapping[str, Any]] = (),
    queried: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    forbidden: Sequence[str] = (),
    list_details: bool = True,
    max_requests: int = 5000,
    lifetime: float = 60.0,
    prefix: str = "",
) -> Iterator[HexServer]:
    """Run a loopback Hex API for the duration of the block (and never longer than `lifetime`)."""
    if projects is None:
        projects = [make_project(i) for i in range(project_count)]
    state = HexState(
        projects=list(projects),
        token=token,
        clock=clock,
        rate_limit=rate_limit,
        window=window,
        retry_after=retry_after,
        reset_header=reset_header,
        max_page=max_page,
        connections=list(connections),
        queried=dict(queried or {}),
        forbidden=set(forbidden),
        list_details=list_details,
        max_requests=max_requests,
        prefix=prefix,
    )
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = state
    httpd.stopping = threading.Event()
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    watchdog = threading.Timer(lifetime, httpd.stop)
    watchdog.daemon = True
    thread.start()
    watchdog.start()
    try:
        yield HexServer(httpd)
    finally:
        watchdog.cancel()
        httpd.stop()
        thread.join(timeout=5)


class Connections:
    """What `record_connections` saw: one entry per accepted connection, its first bytes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.seen: list[bytes] = []


@contextmanager
def record_connections(
    *, lifetime: float = 30.0, max_connections: int = 50
) -> Iterator[Connections]:
    """A loopback listener that only records who connected (and the first bytes they sent),
    then hangs up; as a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) it sees every connection
    the tool would open anywhere. Stops on leaving the block, after `lifetime` seconds or
    after `max_connections` connections."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    found = Connections(listener.getsockname()[1])
    stop = threading.Event()
    deadline = time.monotonic() + lifetime

    def loop() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            if len(found.seen) >= max_connections:
                break
            try:
                conn, _addr = listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    found.seen.append(conn.recv(200))
                except OSError:
                    found.seen.append(b"")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
