"""A loopback stand-in for the BigQuery jobs REST API, for the real google-cloud-bigquery client.

It speaks exactly the calls ``client.query(sql, job_config=..., location=...)`` and
``.result(page_size=N)`` make (reference/warehouses.md §5b):

    POST /bigquery/v2/projects/{p}/jobs                 jobs.insert
    GET  /bigquery/v2/projects/{p}/queries/{id}         getQueryResults (maxResults, pageToken)
    GET  /bigquery/v2/projects/{p}/jobs/{id}            jobs.get (while a job is RUNNING)

and, unlike a canned stub, it *runs* the SQL it receives: the query is parsed with sqlglot's
BigQuery dialect, ``` `p`.`region-r`.INFORMATION_SCHEMA.JOBS_BY_PROJECT ``` is pointed at an
in-memory DuckDB table holding that (project, region)'s job history, ``@params`` become the
request's queryParameters (scalars and ARRAYs, so ``x IN UNNEST(@names)`` really filters), ``CURRENT_TIMESTAMP()`` becomes the server's clock, and the result
is served in the REST "f/v" encoding (TIMESTAMP as integer microseconds, RECORD and REPEATED
cells nested). So a wrong column name, a filter that lets failed jobs through or a missing
parameter shows up as a wrong answer or a 400, as it would against BigQuery. DuckDB is a
stand-in: it cannot show a construct BigQuery itself would reject, its REGEXP_EXTRACT gives ''
where BigQuery gives NULL on no match, and it is slow at BigQuery's per-group ARRAY subquery
(~0.5 ms a group; `reuse_results` lets a benchmark pay that once).

Like BigQuery, a job must run in the location of the region it reads (``region-us`` in
``US``), or it fails with "not found in location". Scripted failures (403, 404) can be set per
(project, region), as an HTTP error on the insert or as a failed job.

The server binds 127.0.0.1 on a random port in a daemon thread, answers at most
`max_requests` requests and stops by itself after `lifetime` seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import duckdb
import sqlglot
from sqlglot import exp

NOW = dt.datetime(2024, 6, 15, 12, 0, tzinfo=dt.UTC)


class Job(NamedTuple):
    """One row of INFORMATION_SCHEMA.JOBS_BY_PROJECT (the documented columns we need)."""

    query: str
    creation_time: dt.datetime
    referenced_tables: tuple[tuple[str, str, str], ...] = ()
    job_type: str | None = "QUERY"
    statement_type: str | None = "SELECT"
    state: str = "DONE"
    error_reason: str | None = None  # sets error_result
    cache_hit: bool | None = False
    parent_job_id: str | None = None
    user_email: str = "hex@my-proj.iam.gserviceaccount.com"
    project_id: str | None = None  # default: the project whose history holds the job
    job_id: str | None = None  # default: generated


class Failure(NamedTuple):
    """A scripted error for one (project, region)."""

    status: int  # 403, 404, ...
    reason: str  # "accessDenied", "notFound", "rateLimitExceeded", ...
    message: str
    on_insert: bool = True  # HTTP error on POST /jobs; False: the job is created and fails
    times: int | None = None  # fail this many queries, then answer (None: always)


class Recorded(NamedTuple):
    method: str
    path: str
    params: Mapping[str, str]
    query: str | None = None  # configuration.query.query of an insert
    parameters: Sequence[Mapping[str, Any]] | None = None  # configuration.query.queryParameters
    location: str | None = None  # jobReference.location of an insert


_JOBS_DDL = """
CREATE TABLE jobs (
  job_id VARCHAR, creation_time TIMESTAMPTZ, project_id VARCHAR, user_email VARCHAR,
  job_type VARCHAR, statement_type VARCHAR, state VARCHAR,
  error_result STRUCT(reason VARCHAR, location VARCHAR, debug_info VARCHAR, message VARCHAR),
  cache_hit BOOLEAN, query VARCHAR, parent_job_id VARCHAR,
  referenced_tables STRUCT(project_id VARCHAR, dataset_id VARCHAR, table_id VARCHAR)[]
)
"""
_VIEWS = {"INFORMATION_SCHEMA.JOBS_BY_PROJECT", "INFORMATION_SCHEMA.JOBS"}
_ROUTES = [
    ("POST", re.compile(r"/bigquery/v2/projects/([^/]+)/jobs"), "insert"),
    ("GET", re.compile(r"/bigquery/v2/projects/([^/]+)/queries/([^/]+)"), "results"),
    ("GET", re.compile(r"/bigquery/v2/projects/([^/]+)/jobs/([^/]+)"), "get"),
]


def location_of(region: str) -> str:
    return region.upper() if region in ("us", "eu") else region


class _Done(NamedTuple):
    reference: Mapping[str, Any]
    configuration: Mapping[str, Any]
    error: Failure | None
    schema: Mapping[str, Any]
    rows: list[str]  # f/v-encoded rows, already JSON


class BigQueryServer:
    def __init__(
        self,
        jobs: Mapping[tuple[str, str], Sequence[Job]] | None = None,
        *,
        failures: Mapping[tuple[str, str], Failure] | None = None,
        now: dt.datetime = NOW,
        pending_polls: int = 0,
        max_page_bytes: int = 20 * 2**20,
        reuse_results: bool = False,
        max_requests: int = 500,
        lifetime: float = 30.0,
    ) -> None:
        self.jobs = dict(jobs or {})
        self.failures = dict(failures or {})
        self.now = now
        self.pending_polls = pending_polls  # getQueryResults answers jobComplete=false this often
        self.max_page_bytes = max_page_bytes  # BigQuery trims a getQueryResults page at 20 MB
        self.reuse_results = reuse_results  # benchmarks: run the same SQL on DuckDB only once
        self._results_cache: dict[str, tuple[Mapping[str, Any], list[str]]] = {}
        self.max_requests = max_requests
        self.lifetime = lifetime
        self.requests: list[Recorded] = []
        self.unhandled: list[str] = []
        self._done: dict[str, _Done] = {}
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._stopped = False

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BigQueryServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        if threading.current_thread() is not self._thread:
            self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> BigQueryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inserts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    # --- the three routes ------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any]:
        parsed = urllib.parse.urlsplit(raw_path)
        params = dict(urllib.parse.parse_qsl(parsed.query))
        with self._lock:
            slot = len(self.requests)
            over = slot >= self.max_requests
            if not over:
                self.requests.append(Recorded(method, parsed.path, params))
        if over:  # 400, not 5xx: the client would retry a 5xx for minutes
            threading.Thread(target=self.stop, daemon=True).start()
            return _error(400, "invalid", "loopback BigQuery server: request budget exhausted")
        for verb, pattern, name in _ROUTES:
            match = pattern.fullmatch(parsed.path)
            if verb == method and match:
                args = [urllib.parse.unquote(g) for g in match.groups()]
                return getattr(self, "_" + name)(*args, params=params, body=body, slot=slot)
        self.unhandled.append(f"{method} {parsed.path}")
        return _error(404, "notFound", f"loopback BigQuery server: no route {method} {parsed.path}")

    def _insert(
        self, project: str, *, params: Mapping[str, str], body: bytes, slot: int
    ) -> tuple[int, Any]:
        job = json.loads(body)
        reference = dict(job.get("jobReference") or {})
        reference.setdefault("projectId", project)
        reference.setdefault("jobId", f"job_{next(self._ids)}")
        location = reference.get("location") or "US"
        reference["location"] = location
        config = job.get("configuration", {})
        query = config.get("query", {})
        with self._lock:
            self.requests[slot] = self.requests[slot]._replace(
                query=query.get("query"),
                parameters=query.get("queryParameters"),
                location=reference.get("location"),
            )
        error: Failure | None = None
        schema: Mapping[str, Any] = {"fields": []}
        rows: list[str] = []
        try:
            schema, rows = self._run_once(
                query.get("query", ""), query.get("queryParameters"), location
            )
        except _JobFailed as failed:
            if failed.failure.on_insert:
                return _error(failed.failure.status, failed.failure.reason, failed.failure.message)
            error = failed.failure
        done = _Done(reference, {"jobType": "QUERY", **config}, error, schema, rows)
        with self._lock:
            self._done[reference["jobId"]] = done
            self._polls[reference["jobId"]] = self.pending_polls
        return 200, self._job_resource(done, running=self.pending_polls > 0)

    def _get(
        self, project: str, job_id: str, *, params: Mapping[str, str], body: bytes, slot: int
    ) -> tuple[int, Any]:
        done = self._find(job_id, params)
        if done is None:
            return _not_found(project, job_id)
        with self._lock:
            running = self._polls.get(job_id, 0) > 0
        return 200, self._job_resource(done, running=running)

    def _results(
        self, project: str, job_id: str, *, params: Mapping[str, str], body: bytes, slot: int
    ) -> tuple[int, Any]:
        done = self._find(job_id, params)
        if done is None:
            return _not_found(project, job_id)
        with self._lock:
            if self._polls.get(job_id, 0) > 0:
                self._polls[job_id] -= 1
                return 200, {"jobReference": done.reference, "jobComplete": False}
        if done.error is not None:
            return _error(done.error.status, done.error.reason, done.error.message)
        if params.get("formatOptions.useInt64Timestamp", "").lower() != "true":
            return _error(400, "invalid", "loopback server serves int64 timestamps only")
        start = _offset(params.get("pageToken"), job_id)
        size = int(params.get("maxResults", len(done.rows)) or 0)
        page: list[str] = []
        used = 0
        for row in done.rows[start : start + size]:
            if page and used + len(row) > self.max_page_bytes:
                break
            page.append(row)
            used += len(row) + 1
        answer: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": done.reference,
            "jobComplete": True,
            "totalRows": str(len(done.rows)),
            "schema": done.schema,
        }
        end = start + len(page)
        if size and end < len(done.rows):
            answer["pageToken"] = _token(job_id, end)
        if not size:
            return 200, answer
        # rows are spliced in as pre-encoded JSON: 100,000 rows are served without re-encoding
        head = json.dumps(answer).encode()[:-1]
        return 200, head + b', "rows": [' + ",".join(page).encode() + b"]}"

    def _find(self, job_id: str, params: Mapping[str, str]) -> _Done | None:
        with self._lock:
            done = self._done.get(job_id)
        if done is None:
            return None
        # BigQuery finds a job only in its own location (US and EU are found without one).
        wanted = params.get("location")
        if wanted is not None and wanted.lower() != str(done.reference["location"]).lower():
            return None
        return done

    def _job_resource(self, done: _Done, *, running: bool) -> Mapping[str, Any]:
        status: dict[str, Any] = {"state": "RUNNING" if running else "DONE"}
        if done.error is not None and not running:
            err = {"reason": done.error.reason, "message": done.error.message}
            status.update(errorResult=err, errors=[err])
        ref = done.reference
        return {
            "kind": "bigquery#job",
            "id": f"{ref['projectId']}:{ref['location']}.{ref['jobId']}",
            "jobReference": ref,
            "configuration": done.configuration,
            "status": status,
            "statistics": {"creationTime": str(int(self.now.timestamp() * 1000))},
        }

    # --- running the SQL -------------------------------------------------------------------

    def _run_once(
        self, sql: str, parameters: Sequence[Mapping[str, Any]] | None, location: str
    ) -> tuple[Mapping[str, Any], list[str]]:
        if not self.reuse_results:
            return self._run(sql, parameters, location)
        key = json.dumps([sql, parameters, location])
        if key not in self._results_cache:
            self._results_cache[key] = self._run(sql, parameters, location)
        return self._results_cache[key]

    def _run(
        self, sql: str, parameters: Sequence[Mapping[str, Any]] | None, location: str
    ) -> tuple[Mapping[str, Any], list[str]]:
        try:
            tree = sqlglot.parse_one(sql, read="bigquery")
        except sqlglot.errors.ParseError as err:
            raise _JobFailed(Failure(400, "invalidQuery", f"Syntax error: {err}", False)) from err
        history: list[Job] | None = None
        for table in list(tree.find_all(exp.Table)):
            if table.name.upper() not in _VIEWS:
                continue
            project, qualifier = table.catalog, table.db
            region = qualifier.removeprefix("region-")
            path = f"{project}:{qualifier}.{table.name}"
            failure = self._failure(project, region)
            if failure is not None:
                raise _JobFailed(failure)
            if (
                not qualifier.startswith("region-")
                or location_of(region) != location
                or ((project, region) not in self.jobs)
            ):
                message = f"Not found: Table {path} was not found in location {location}"
                raise _JobFailed(Failure(404, "notFound", message, False))
            history = [
                j._replace(project_id=j.project_id or project) for j in self.jobs[(project, region)]
            ]
            table.replace(exp.to_table("jobs"))
        if history is None:
            raise _JobFailed(
                Failure(404, "notFound", "loopback server reads JOBS views only", False)
            )
        values = {p["name"]: p for p in parameters or ()}
        for param in list(tree.find_all(exp.Parameter)):
            name = param.name
            if name not in values:
                message = f"Query parameter '{name}' not found at [1:1]"
                raise _JobFailed(Failure(400, "invalidQuery", message, False))
            param.replace(_literal(values[name]))
        for now in list(tree.find_all(exp.CurrentTimestamp)):
            now.replace(exp.cast(exp.Literal.string(self.now.isoformat()), "TIMESTAMPTZ"))
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(_JOBS_DDL)
            _load(con, history)
            try:
                cursor = con.execute(tree.sql("duckdb"))
            except duckdb.Error as err:
                raise _JobFailed(Failure(400, "invalidQuery", str(err), False)) from err
            fields = [_field(name, kind) for name, kind, *_ in cursor.description]
            rows = [json.dumps(_encode_row(row, fields)) for row in cursor.fetchall()]
        finally:
            con.close()
        return {"fields": fields}, rows

    def _failure(self, project: str, region: str) -> Failure | None:
        with self._lock:
            failure = self.failures.get((project, region))
            if failure is None or failure.times is None:
                return failure
            if failure.times <= 0:
                return None
            self.failures[(project, region)] = failure._replace(times=failure.times - 1)
            return failure


class _JobFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _load(con: duckdb.DuckDBPyConnection, history: Sequence[Job]) -> None:
    """Column-wise, so a benchmark's 100,000 jobs load in well under a second."""
    names = ["job_id", "creation_time", "project_id", "user_email", "job_type", "statement_type"]
    names += ["state", "error_result", "cache_hit", "query", "parent_job_id", "referenced_tables"]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for n, job in enumerate(history, 1):
        columns["job_id"].append(job.job_id or f"bquxjob_{n}")
        columns["creation_time"].append(job.creation_time)
        columns["project_id"].append(job.project_id)
        columns["user_email"].append(job.user_email)
        columns["job_type"].append(job.job_type)
        columns["statement_type"].append(job.statement_type)
        columns["state"].append(job.state)
        columns["error_result"].append(
            {"reason": job.error_reason, "location": None, "debug_info": None, "message": "x"}
            if job.error_reason
            else None
        )
        columns["cache_hit"].append(job.cache_hit)
        columns["query"].append(job.query)
        columns["parent_job_id"].append(job.parent_job_id)
        columns["referenced_tables"].append(
            [{"project_id": p, "dataset_id": d, "table_id": t} for p, d, t in job.referenced_tables]
        )
    if not history:
        return
    select = ", ".join(f"UNNEST(${i + 1}) AS {name}" for i, name in enumerate(names))
    con.execute(
        f"INSERT INTO jobs ({', '.join(names)}) SELECT {select}", [columns[n] for n in names]
    )


def _literal(param: Mapping[str, Any]) -> exp.Expression:
    """A REST queryParameter as a SQL literal: scalars, and ARRAY<scalar> (--hex-user)."""
    kind = param.get("parameterType", {}).get("type", "STRING")
    if kind == "ARRAY":
        inner = {"type": param["parameterType"].get("arrayType", {}).get("type", "STRING")}
        items = param.get("parameterValue", {}).get("arrayValues") or []
        return exp.Array(
            expressions=[
                _literal({"parameterType": inner, "parameterValue": item}) for item in items
            ]
        )
    value = param.get("parameterValue", {}).get("value")
    if value is None:
        return exp.Null()
    if kind in ("INT64", "INTEGER", "FLOAT64", "NUMERIC"):
        return exp.Literal.number(value)
    return exp.Literal.string(value)


def _field(name: str, kind: Any) -> dict[str, Any]:
    """A DuckDB result type as a BigQuery schema field."""
    text = str(kind)
    if text.endswith("[]"):
        inner = _field(name, kind.child)
        return {**inner, "mode": "REPEATED"}
    if text.startswith("STRUCT"):
        children = [_field(child, sub) for child, sub in kind.children]
        return {"name": name, "type": "RECORD", "mode": "NULLABLE", "fields": children}
    simple = {
        "VARCHAR": "STRING",
        "BIGINT": "INTEGER",
        "INTEGER": "INTEGER",
        "HUGEINT": "INTEGER",
        "BOOLEAN": "BOOLEAN",
        "DOUBLE": "FLOAT",
        "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
        "TIMESTAMP": "TIMESTAMP",
    }
    return {"name": name, "type": simple.get(text, "STRING"), "mode": "NULLABLE"}


def _encode_row(row: Sequence[Any], fields: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"f": [{"v": _encode(v, f)} for v, f in zip(row, fields, strict=True)]}


def _encode(value: Any, field: Mapping[str, Any]) -> Any:
    if value is None:
        return [] if field.get("mode") == "REPEATED" else None
    if field.get("mode") == "REPEATED":
        single = {**field, "mode": "NULLABLE"}
        return [{"v": _encode(item, single)} for item in value]
    if field["type"] == "RECORD":
        return {"f": [{"v": _encode(value[f["name"]], f)} for f in field["fields"]]}
    if field["type"] == "TIMESTAMP":  # integer microseconds, as useInt64Timestamp asks
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        delta = stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return str(delta // dt.timedelta(microseconds=1))
    if field["type"] == "BOOLEAN":
        return "true" if value else "false"
    return str(value)


def _token(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode()


def _offset(token: str | None, job_id: str) -> int:
    if not token:
        return 0
    owner, _, offset = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
    if owner != job_id:
        raise ValueError("page token of another job")
    return int(offset)


def _not_found(project: str, job_id: str) -> tuple[int, Any]:
    return _error(404, "notFound", f"Not found: Job {project}:{job_id}")


def _error(status: int, reason: str, message: str) -> tuple[int, Any]:
    names = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": names.get(status, "UNKNOWN"),
        }
    }


def _handler(server: BigQueryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, answer = server.handle(self.command, self.path, body)
            except Exception as err:  # a bug in the stand-in must not look like a hang
                status, answer = _error(400, "invalid", f"loopback server error: {err!r}")
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
