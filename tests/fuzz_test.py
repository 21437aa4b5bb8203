"""Fuzz what the outside world controls (issue 8): every case ends in a result or a one-line
error, never a traceback.

- Hex query comments (`hex_comment.parse`/`strip`): any text, any JSON after the marker;
- Hex titles, descriptions, statuses, categories and emails through `build_exposure`,
  `yaml_merge.merge` and back through PyYAML (dbt's reader) and Jinja (dbt renders them);
- SQL texts (`sql_tables.parse_tables`): token soup, deep nesting, huge texts;
- manifest.json (`files.read_manifest` + `manifest.build_index`) and snapshot JSON
  (`sources.snapshot.load` + `pipeline.run`): random bytes, random JSON, and mutations of
  valid documents;
- the command line: random manifest.json / hex_snapshot.json in a copy of a tiny project run
  through `cli.main`: exit code 0-3, one stderr line on error, no "Traceback".

Hypothesis example counts are bounded so the file runs in about 20 s; `test_zz_counts`
(last in the file) prints the number of cases run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hex_exposures import cli, files, hex_comment, pipeline
from hex_exposures.errors import HexExposuresError
from hex_exposures.exposures import NAME_RE, assign_names, build_exposure, project_url
from hex_exposures.manifest import build_index
from hex_exposures.records import HexProject, HexQuery, Settings, TableRef
from hex_exposures.safety import check_hex_url, is_uuid, json_text, terminal_text
from hex_exposures.sources import snapshot
from hex_exposures.sql_tables import MAX_CHARS, Extraction, parse_tables
from hex_exposures.yaml_merge import merge
from tests.manifest_factory import manifest, model, seed, source
from tests.servers.hex_server import make_project

CASES: Counter[str] = Counter()  # cases run, by target
OUTCOMES: Counter[str] = Counter()  # refusals and exit codes
FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def fast(n: int) -> settings:
    return settings(FAST, max_examples=n)


def one_line_error(err: BaseException) -> None:
    """What the CLI would print: one line, not empty."""
    assert isinstance(err, HexExposuresError), repr(err)
    message = str(err)
    assert message and "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message


# --- generators ------------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "snowflake", "bigquery", "model", "source", "ephemeral", "PROJECT"])
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
MARKER = "-- Hex query metadata: "
HOSTILE = [
    "{{ region }}",
    "{% if x %}y{% endif %}",
    "{# c",
    "a {% endraw %} b",
    "{%- endraw -%}",
    "key: value",
    "yes",
    "on",
    "null",
    "~",
    "1e3",
    ":",
    "#",
    "- x",
    "two\nlines",
    "ends\n",
    "crlf\r\nline",
    "cr\ronly",
    "\u2028",
    "\x85",
    "\x00nul",
    "\ufeffbom",
    "📈",
    '"{{ x }}"',
    "{'k': '%}'}",
    "Hex query metadata: {}",
]
TEXT = st.text(max_size=40) | st.sampled_from(HOSTILE)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON document (dict keys and list indexes)."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated(draw: Any, base: Any) -> Any:
    """`base` (a JSON document) with a few values replaced by junk or deleted."""
    doc = json.loads(json.dumps(base))
    paths = sorted(_paths(doc), key=len, reverse=True)  # Hypothesis favours early items
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        if not path:
            return draw(JSON)
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict) and draw(st.integers(0, 3)) == 0:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(JSON)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the path
    return doc


def deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


# --- Hex query comments ----------------------------------------------------------------------


@fast(300)
@given(
    before=st.text(max_size=60),
    middle=st.sampled_from(["", MARKER, "Hex query metadata:", MARKER + "{", "--"]),
    after=st.text(max_size=60) | JSON.map(json.dumps),
)
def test_any_text_gives_a_comment_or_none(before: str, middle: str, after: str) -> None:
    CASES["hex_comment"] += 1
    text = before + middle + after
    c = hex_comment.parse(text)
    stripped = hex_comment.strip(text)
    if c is None:
        assert stripped == text
        return
    assert 0 <= c.start < len(text)
    for value in (c.project_id, c.project_url, c.workspace, c.context, c.user_email):
        assert value is None or (isinstance(value, str) and value)
    assert stripped in (text, text[: c.start].rstrip())


META_VALUES = st.text(max_size=20) | st.sampled_from(["{", "}", '"', "\\", MARKER, "\n"])


@fast(300)
@given(
    sql=st.text(max_size=80).filter(lambda s: "Hex query metadata:" not in s),
    project_id=st.text(min_size=1, max_size=40),
    extra=st.dictionaries(
        st.sampled_from(["project_name", "categories", "context", "trace_id", "zzz"]),
        JSON | META_VALUES,
        max_size=4,
    ),
    ascii_only=st.booleans(),
)
def test_hex_s_own_comment_is_found_and_stripped(
    sql: str, project_id: str, extra: dict[str, Any], ascii_only: bool
) -> None:
    """Hex appends one JSON object with sorted keys as the last line; values are free text."""
    CASES["hex_comment"] += 1
    meta = {**extra, "project_id": project_id}
    text = sql + "\n" + MARKER + json.dumps(meta, sort_keys=True, ensure_ascii=ascii_only)
    c = hex_comment.parse(text)
    assert c is not None
    assert c.project_id == project_id
    context = extra.get("context")
    assert c.context == (context if isinstance(context, str) and context else None)
    assert hex_comment.strip(text) == sql.rstrip()


@fast(300)
@given(
    sql=st.text(max_size=60),
    meta=st.dictionaries(st.sampled_from(["project_name", "context", "zzz"]), META_VALUES),
    after=st.text(max_size=30),
)
def test_only_a_comment_ending_the_text_counts(sql: str, meta: dict[str, Any], after: str) -> None:
    """Issue 17: the comment counts only as the last non-blank content; whatever parse takes,
    the SQL filters' regex takes too (so a live run never loses what a snapshot keeps)."""
    CASES["hex_comment"] += 1
    text = sql + "\n" + MARKER + json.dumps({**meta, "project_id": "p"}) + after
    c = hex_comment.parse(text)
    if c is not None:
        assert hex_comment.on_last_line(text)
        assert hex_comment.LAST_LINE_RE.search(text)
    if after.strip(hex_comment.BLANK) == "":
        assert c is not None and c.project_id == "p"
    elif "\n" in after and after.split("\n", 1)[1].strip(hex_comment.BLANK):
        assert c is None or "Hex query metadata:" in after  # SQL after the comment


@pytest.mark.parametrize("depth", [50, 5_000, 200_000])
def test_deeply_nested_comment_json_is_a_result_not_a_crash(depth: int) -> None:
    """Anyone who can run a query can put the marker in it; it must not stop a sync."""
    CASES["hex_comment"] += 1
    text = "select 1\n" + MARKER + '{"project_id": "p", "x": ' + deep(depth) + "}"
    c = hex_comment.parse(text)
    assert c is None or c.project_id == "p"
    assert hex_comment.strip(text) in (text, "select 1")


# --- titles and descriptions -----------------------------------------------------------------


@pytest.fixture(scope="module")
def dbt_render() -> Any:
    """dbt's own renderer: exposure fields go through it natively, descriptions as text."""
    from dbt.clients.jinja import get_rendered

    return get_rendered


def _lines(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


@fast(150)
@given(
    titles=st.lists(TEXT, min_size=1, max_size=3),
    description=st.none() | TEXT,
    status=st.none() | TEXT,
    categories=st.lists(TEXT, max_size=3),
    email=st.none() | TEXT,
    published=st.booleans(),
)
def test_hex_text_round_trips_through_yaml_and_dbt_jinja(
    dbt_render: Any,
    titles: list[str],
    description: str | None,
    status: str | None,
    categories: list[str],
    email: str | None,
    published: bool,
) -> None:
    """What dbt reads (PyYAML, then its Jinja) is the Hex text, newlines normalised."""
    CASES["titles"] += 1
    projects = [
        HexProject(
            id=f"{n:08x}-aaaa-4aaa-8bbb-{n:012x}",
            title=title,
            description=description,
            type="PROJECT",
            owner_email=email,
            creator_email=None,
            status=status,
            categories=tuple(categories),
            published=published,
            archived=False,
            trashed=False,
            raw={},
        )
        for n, title in enumerate(titles)
    ]
    names = assign_names(projects, existing={}, reserved={"hex_project"})
    assert len(set(names.values())) == len(projects)
    exposures = [
        build_exposure(
            p,
            ["ref('fct_orders')"],
            name=names[p.id],
            url=project_url("https://app.hex.tech", "acme", p.id),
            maturity_map={},
            owner_map={},
        )
        for p in projects
    ]
    try:
        text = merge(None, exposures, path="models/hex_exposures.yml")
    except HexExposuresError as err:
        one_line_error(err)
        OUTCOMES["titles_refused"] += 1
        return
    data = yaml.safe_load(text)
    by_id = {e["config"]["meta"]["hex_exposures"]["project_id"]: e for e in data["exposures"]}

    def native(value: Any) -> Any:
        return dbt_render(value, {}, native=True) if isinstance(value, str) else value

    for p in projects:
        got = by_id[p.id]
        assert NAME_RE.match(got["name"]) and got["name"] == names[p.id]
        assert native(got["label"]) == (_lines(p.title) or names[p.id])
        assert dbt_render(got["description"], {}) == _lines(p.description or "")
        hex_meta = got["config"]["meta"]["hex"]
        assert [native(c) for c in hex_meta["categories"]] == [_lines(c) for c in categories]
        assert native(hex_meta["status"]) == (None if status is None else _lines(status))
        if email:
            assert native(got["owner"]["email"]) == _lines(email)
            assert native(got["owner"]["name"]) == _lines(email.split("@", 1)[0] or email)
    assert merge(text, exposures, path="models/hex_exposures.yml") == text


# --- SQL texts -------------------------------------------------------------------------------

SQL_WORDS = [
    "select",
    "from",
    "where",
    "with",
    "as",
    "join",
    "on",
    "union",
    "all",
    "(",
    ")",
    ",",
    ";",
    ".",
    "*",
    "t",
    "db.s.t",
    '"Q"',
    "`a.b`",
    "'s'",
    "$$x$$",
    "--",
    "/*",
    "*/",
    "\n",
    "identifier('x')",
    "table(f())",
    "lateral",
    "flatten(input => x)",
    "values (1)",
    "create temp table tmp as",
    "insert into x",
    "merge into",
    "[",
    "]",
    "::",
    ":",
    "@stage",
    "{{ df }}",
    "qualify",
    "pivot",
    "unnest",
    "1e309",
    "x'00'",
    "\\",
    "\x00",
    "\ud800",
]
SQL_SOUP = st.lists(st.sampled_from(SQL_WORDS) | st.text(max_size=6), max_size=40).map(" ".join)


def assert_extraction(result: object) -> None:
    assert isinstance(result, Extraction)
    assert all(isinstance(t, TableRef) and t.name for t in result.tables)
    if result.error is not None:
        assert not result.tables and "\n" not in result.error


@fast(300)
@given(sql=SQL_SOUP | st.text(max_size=200), warehouse=st.sampled_from(["snowflake", "bigquery"]))
def test_any_sql_text_gives_an_extraction(sql: str, warehouse: str) -> None:
    CASES["sql"] += 1
    assert_extraction(parse_tables(sql, warehouse))


NESTING = {
    "parentheses": lambda n: "select * from " + "(" * n + "select * from t" + ")" * n,
    "subqueries": lambda n: "select * from (select * from " * n + "t" + ")" * n,
    "not": lambda n: "select " + "not " * n + "x from t",
    "case": lambda n: "select " + "case when x then " * n + "1" + " end" * n + " from t",
    "subscripts": lambda n: "select x" + "[1]" * n + " from t",
    "arrays": lambda n: "select " + "[" * n + "1" + "]" * n,
    "casts": lambda n: "select x" + "::int" * n + " from t",
    "ctes": lambda n: (
        "with "
        + ", ".join(f"c{i} as (select * from {'c' + str(i - 1) if i else 't'})" for i in range(n))
        + f" select * from c{n - 1}"
    ),
    "comments": lambda n: "/*" * n + "*/" * n + " select 1 from t",
    "unions": lambda n: " union all ".join(["select a from t"] * n),
    "joins": lambda n: "select * from t0 " + " ".join(f"join t{i} using (k)" for i in range(1, n)),
    "functions": lambda n: "select " + "f(" * n + "1" + ")" * n + " from t",
}


@fast(60)
@given(
    shape=st.sampled_from(sorted(NESTING)),
    depth=st.integers(1, 4000),
    warehouse=st.sampled_from(["snowflake", "bigquery"]),
)
def test_deep_nesting_gives_an_extraction(shape: str, depth: int, warehouse: str) -> None:
    CASES["sql"] += 1
    assert_extraction(parse_tables(NESTING[shape](depth), warehouse))


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 from t where x = '" + "a" * (MAX_CHARS - 40) + "'",
        "select * from t\n" + "-- padding\n" * (MAX_CHARS // 11),
        " " * (MAX_CHARS + 1),
        "select 1 from t, " + ", ".join(f"s.t{i}" for i in range(20_000)),
    ],
    ids=["one-big-literal", "over-the-limit", "blank-over-the-limit", "20k-tables"],
)
def test_huge_texts_give_an_extraction(sql: str) -> None:
    CASES["sql"] += 1
    for warehouse in ("snowflake", "bigquery"):
        result = parse_tables(sql, warehouse)
        assert_extraction(result)
        if len(sql) > MAX_CHARS:
            assert result.error == "too long"


# --- manifest.json ---------------------------------------------------------------------------

BASE_MANIFEST = manifest(
    model("fct_orders"),
    model("dim_customers", version=2, latest=2),
    model("eph", materialized="ephemeral"),
    seed("country_codes"),
    source("stripe", "charges"),
    source("crm", "Customers", quoting={"identifier": True}),
    disabled=[model("old", enabled=False)],
    quoting={"database": False, "schema": False, "identifier": False},
    exposures={"exposure.proj.e": {"name": "e", "original_file_path": "models/x.yml"}},
)
BYTES = (
    st.binary(max_size=200)
    | st.sampled_from(
        [
            b"",
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
            b'{"metadata": ',
            b"[" * 100_000,
            b'{"a": ' * 50_000,
            b"NaN",
            b'"\\ud800"',
            b"1" * 5000,
        ]
    )
    | JSON.map(lambda v: json.dumps(v).encode())
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="hex_exposures_fuzz_")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write(path: str, data: bytes | Any) -> str:
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


@fast(250)
@given(
    data=BYTES | mutated(BASE_MANIFEST) | mutated(BASE_MANIFEST).map(lambda d: {"nodes": d}),
    warehouse=st.sampled_from(["snowflake", "bigquery"]),
)
def test_any_manifest_file_loads_or_is_refused_in_one_line(
    scratch: str, data: Any, warehouse: str
) -> None:
    CASES["manifest"] += 1
    path = write(os.path.join(scratch, "manifest.json"), data)
    try:
        loaded = files.read_manifest(path)
        build_index(loaded, warehouse)
    except HexExposuresError as err:
        one_line_error(err)
        assert path in str(err) or "manifest" in str(err)
        OUTCOMES["manifest_refused"] += 1


# --- snapshot JSON ---------------------------------------------------------------------------


def _meta(pid: str) -> str:
    body = {
        "context": "SCHEDULED_RUN",
        "project_id": pid,
        "project_url": f"https://x/acme/hex/{pid}",
    }
    return MARKER + json.dumps(body, sort_keys=True)


PROJECTS = [make_project(i) for i in range(4)]
BASE_SNAPSHOT = {
    "format": "hex-exposures-snapshot",
    "version": 1,
    "captured_at": "2026-06-01T00:00:00Z",
    "hex_url": "https://app.hex.tech",
    "workspace": "acme",
    "warehouse": "snowflake",
    "projects": PROJECTS,
    "queries": [
        {
            "project_id": p["id"],
            "query_text": "select * from analytics.marts.fct_orders o\n"
            "join raw.stripe.charges c using (id)\n" + _meta(p["id"]),
            "database": "ANALYTICS",
            "schema": "MARTS",
            "run_count": 3,
            "last_seen": "2026-06-01T00:00:00Z",
            "tables": ["ANALYTICS.MARTS.DIM_CUSTOMERS_V2"],
        }
        for p in PROJECTS
    ],
}


@fast(250)
@given(data=BYTES | mutated(BASE_SNAPSHOT), warehouse=st.sampled_from(["snowflake", "bigquery"]))
def test_any_snapshot_file_runs_or_is_refused_in_one_line(
    scratch: str, data: Any, warehouse: str
) -> None:
    CASES["snapshot"] += 1
    path = write(os.path.join(scratch, "snapshot.json"), data)
    try:
        snap = snapshot.load(path)
        result = pipeline.run(
            BASE_MANIFEST,
            snap.projects,
            snap.queries,
            settings=Settings(warehouse=warehouse),
            workspace=snap.workspace,
        )
    except HexExposuresError as err:
        one_line_error(err)
        OUTCOMES["snapshot_refused"] += 1
        return
    assert isinstance(result.text, str)
    yaml.safe_load(result.text)


@fast(100)
@given(
    queries=st.lists(
        st.builds(
            HexQuery,
            project_id=st.sampled_from([p["id"] for p in PROJECTS] + ["", "zzz"]),
            query_text=st.one_of(
                SQL_SOUP.map(lambda s: s + "\n" + _meta(PROJECTS[0]["id"])),
                st.text(max_size=50),
                st.just("select 1\n" + MARKER + '{"x": ' + deep(3000) + "}"),
            ),
            database=st.none() | st.text(max_size=5),
            schema=st.none() | st.text(max_size=5),
            run_count=st.integers(0, 10**12),
            tables=st.lists(st.text(max_size=20) | st.sampled_from(["a.b.c", '"x"."y"."z"'])).map(
                tuple
            ),
            fallback_tables=st.lists(st.text(max_size=20)).map(tuple),
        ),
        max_size=6,
    ),
    warehouse=st.sampled_from(["snowflake", "bigquery"]),
)
def test_any_query_records_run_through_the_pipeline(
    queries: list[HexQuery], warehouse: str
) -> None:
    CASES["pipeline"] += 1
    projects = [HexProject.from_api(p) for p in PROJECTS]
    try:
        result = pipeline.run(
            BASE_MANIFEST, projects, queries, settings=Settings(warehouse=warehouse)
        )
    except HexExposuresError as err:
        one_line_error(err)
        return
    yaml.safe_load(result.text)


# --- what the fuzzers found, pinned as plain examples ---------------------------------------


@pytest.mark.parametrize("what", ["manifest", "snapshot"])
def test_deeply_nested_json_is_a_one_line_error(scratch: str, what: str) -> None:
    """json.loads raises RecursionError (not ValueError) past ~1,000 levels of nesting."""
    path = write(os.path.join(scratch, f"deep_{what}.json"), b"[" * 100_000)
    with pytest.raises(HexExposuresError) as info:
        files.read_manifest(path) if what == "manifest" else snapshot.load(path)
    one_line_error(info.value)


def test_a_marker_inside_a_comment_value_does_not_hide_the_real_comment() -> None:
    """Hex's comment holds the project name; a name quoting the marker must not win."""
    meta = {
        "context": "SCHEDULED_RUN",
        "project_id": "real-id",
        "project_name": "Hex query metadata: {}",
    }
    text = "select 1\n" + MARKER + json.dumps(meta, sort_keys=True)
    c = hex_comment.parse(text)
    assert c is not None and (c.project_id, c.context) == ("real-id", "SCHEDULED_RUN")
    assert hex_comment.strip(text) == "select 1"


@pytest.mark.parametrize(
    "damage",
    [
        {"metadata": [1]},
        {"metadata": "v12"},
        {"exposures": [{"name": "e"}]},
        {"disabled": ["x"]},
        {"nodes": {"model.proj.m": {"resource_type": "model", "name": "m", "config": [1]}}},
        {"sources": {"source.proj.s.t": {"name": "t", "config": "off"}}},
    ],
    ids=[
        "metadata-list",
        "metadata-str",
        "exposures-list",
        "disabled-list",
        "config-list",
        "source-config-str",
    ],
)
def test_a_manifest_with_objects_of_the_wrong_type_is_read_or_refused(
    scratch: str, damage: dict[str, Any]
) -> None:
    data = {**BASE_MANIFEST, **damage}
    if "metadata" not in damage:
        data["metadata"] = BASE_MANIFEST["metadata"]
    path = write(os.path.join(scratch, "damaged.json"), data)
    try:
        build_index(files.read_manifest(path), "snowflake")
    except HexExposuresError as err:
        one_line_error(err)


@pytest.mark.parametrize(
    "project",
    [
        {"status": {"name": 5}},
        {"status": {"name": ["Production"]}},
        {"categories": 5},
        {"categories": "Finance"},
        {"categories": {"name": "Finance"}},
    ],
    ids=["status-int", "status-list", "categories-int", "categories-str", "categories-object"],
)
def test_a_snapshot_project_with_fields_of_the_wrong_type_runs_or_is_refused(
    scratch: str, project: dict[str, Any]
) -> None:
    doc = json.loads(json.dumps(BASE_SNAPSHOT))
    doc["projects"][0].update(project)
    path = write(os.path.join(scratch, "odd_project.json"), doc)
    try:
        snap = snapshot.load(path)
        result = pipeline.run(
            BASE_MANIFEST, snap.projects, snap.queries, settings=Settings(warehouse="snowflake")
        )
    except HexExposuresError as err:
        one_line_error(err)
        return
    assert yaml.safe_load(result.text)["exposures"]


@pytest.mark.parametrize("table", ["?;?", "a;b", "select 1; select 2", "(", "t t t"])
def test_a_table_name_from_evidence_that_is_not_one_table_is_ignored(table: str) -> None:
    """Snapshot `tables`, ACCESS_HISTORY names and Hex queriedTables come from outside."""
    pid = PROJECTS[0]["id"]
    query = HexQuery(project_id=pid, query_text="", tables=(table, "ANALYTICS.MARTS.FCT_ORDERS"))
    result = pipeline.run(
        BASE_MANIFEST,
        [HexProject.from_api(PROJECTS[0])],
        [query],
        settings=Settings(warehouse="snowflake"),
    )
    assert [e.depends_on for e in result.exposures] == [("ref('fct_orders')",)]


@pytest.mark.parametrize("email", ["jane@acme.com\r", "ja\rne@acme.com", "jane@acme.com\r\n"])
def test_an_owner_email_with_a_carriage_return_reads_back_from_dbt_as_hex_has_it(
    dbt_render: Any, email: str
) -> None:
    project = HexProject.from_api({**PROJECTS[0], "owner": {"email": email}})
    e = build_exposure(project, [], name="hex_x", url="https://x", maturity_map={}, owner_map={})
    data = yaml.safe_load(merge(None, [e], path="models/hex_exposures.yml"))
    owner = data["exposures"][0]["owner"]
    assert dbt_render(owner["email"], {}, native=True) == _lines(email)
    assert dbt_render(owner["name"], {}, native=True) == _lines(email.split("@")[0])


# --- the command line ------------------------------------------------------------------------

EXPOSURES = """\
# hand-written, must survive
version: 2
exposures:
  - name: board_deck   # by hand
    type: application
    owner: {name: CFO}
"""


@pytest.fixture(scope="module")
def project(scratch: str) -> str:
    root = os.path.join(scratch, "proj")
    os.makedirs(os.path.join(root, "models"))
    os.makedirs(os.path.join(root, "target"))
    write(os.path.join(root, "dbt_project.yml"), b"name: proj\nmodel-paths: [models]\n")
    write(os.path.join(root, "target", "manifest.json"), BASE_MANIFEST)
    write(os.path.join(root, "hex_snapshot.json"), BASE_SNAPSHOT)
    return root


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


COMMANDS = [
    ["sync"],
    ["check"],
    ["check", "--format", "json"],
    ["report"],
    ["report", "--format", "json"],
]


def test_the_tiny_project_syncs_cleanly(project: str) -> None:
    """The baseline the fuzz below starts from: the unmutated files work."""
    exposures = write(os.path.join(project, "models", "hex_exposures.yml"), EXPOSURES.encode())
    snap = os.path.join(project, "hex_snapshot.json")
    code, _out, err = run_cli(["sync", "--project-dir", project, "--from-snapshot", snap, "-q"])
    assert (code, err) == (0, "")
    with open(exposures, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith(EXPOSURES) and "hex_project_00000" in text
    assert "ref('dim_customers', v=2)" in text and "source('stripe', 'charges')" in text


@fast(300)
@given(
    which=st.sampled_from(["manifest", "snapshot", "snapshot", "both"]),
    manifest_data=st.one_of(BYTES, *[mutated(BASE_MANIFEST)] * 3),
    snapshot_data=st.one_of(BYTES, *[mutated(BASE_SNAPSHOT)] * 3),
    command=st.sampled_from(COMMANDS),
    warehouse=st.sampled_from([[], ["--warehouse", "snowflake"], ["--warehouse", "bigquery"]]),
)
def test_cli_on_fuzzed_inputs_exits_0_to_3_with_one_line(
    project: str,
    which: str,
    manifest_data: Any,
    snapshot_data: Any,
    command: list[str],
    warehouse: list[str],
) -> None:
    CASES["cli"] += 1
    manifest_path = os.path.join(project, "target", "manifest.json")
    snap = os.path.join(project, "hex_snapshot.json")
    write(manifest_path, manifest_data if which != "snapshot" else BASE_MANIFEST)
    write(snap, snapshot_data if which != "manifest" else BASE_SNAPSHOT)
    exposures = write(os.path.join(project, "models", "hex_exposures.yml"), EXPOSURES.encode())
    argv = [*command, "--project-dir", project, "--from-snapshot", snap, "-q", *warehouse]
    code, out, err = run_cli(argv)
    assert code in (0, 1, 2, 3), (code, err)
    assert "Traceback" not in out + err
    if code in (2, 3):
        assert err.count("\n") == 1 and err.startswith("hex-exposures: error: "), err
        with open(exposures, encoding="utf-8") as f:
            assert f.read() == EXPOSURES  # a failed run writes nothing
        OUTCOMES["cli_refused"] += 1
    elif code == 1:
        assert command[0] == "check"
    else:
        assert err == ""
        with open(exposures, encoding="utf-8") as f:
            assert "board_deck   # by hand" in f.read()
    OUTCOMES[f"cli_exit_{code}"] += 1


# --- security, round two (issue 13) ----------------------------------------------------------

SAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sample_dbt_project"
)
SECRET_VALUE = "dbt-secret-5f1d0c9e"  # what env_var('DBT_SECRET') would render
JINJA_PAYLOADS = [
    "{{ env_var('DBT_SECRET') }}",
    "{% do exceptions.raise_compiler_error('x') %}",
    "{{ env_var('DBT_SECRET') }}{% do exceptions.raise_compiler_error('x') %}",
    "{% raw %}{{ env_var('DBT_SECRET') }}",
    "{%- endraw %}{{ env_var('DBT_SECRET') }}",
    "{# x",
]


def _sample_copy(dest: str) -> str:
    ignore = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.duckdb.wal")
    shutil.copytree(SAMPLE, dest, ignore=ignore)
    os.remove(os.path.join(dest, "models", "hex_exposures.yml"))
    return dest


def _hostile_snapshot(path: str, *, hex_url: str, payloads: list[str]) -> list[str]:
    """Every Hex text field of the sample snapshot set to a payload, plus one project per
    payload whose *id* is that payload (with queries that would give it an exposure)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    doc["hex_url"] = hex_url
    doc["workspace"] = payloads[0]
    for n, project in enumerate(doc["projects"]):
        payload = payloads[n % len(payloads)]
        project["status"] = {"name": payload}
        project["categories"] = [{"name": payload, "description": payload}]
        project["owner"] = {"email": f"{payload}@acme.com"}
        project["creator"] = {"email": payload}
    # Warehouse users write SQL: column names land in meta.referenced_columns.
    q0 = doc["queries"][0]
    comment = q0["query_text"][q0["query_text"].index("-- Hex query metadata:") :]
    cols = ", ".join(f'o."{p}"' for p in payloads if '"' not in p)
    doc["queries"].append({**q0, "query_text": f"select {cols} from fct_orders o\n{comment}"})
    bad_ids = []
    first = doc["projects"][0]
    for payload in payloads:
        bad_ids.append(payload)
        doc["projects"].append({**first, "id": payload, "title": "Bad id " + str(len(bad_ids))})
        doc["queries"] += [
            {**q, "project_id": payload} for q in doc["queries"] if q["project_id"] == first["id"]
        ]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return bad_ids


@pytest.mark.parametrize("where", ["snapshot", "--hex-url"])
def test_jinja_in_ids_urls_workspace_statuses_categories_and_owners_never_renders(
    scratch: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Real `dbt parse` on what sync wrote: no payload runs, none breaks the parse."""
    from tests.dbt_helpers import dbt_parse

    CASES["jinja_dbt_parse"] += len(JINJA_PAYLOADS)
    monkeypatch.setenv("DBT_SECRET", SECRET_VALUE)
    root = _sample_copy(os.path.join(scratch, f"jinja_{where.strip('-')}"))
    hostile_url = "https://app.hex.tech/{{ env_var('DBT_SECRET') }}/{% do exceptions.raise_compiler_error('x') %}"
    snap_url = hostile_url if where == "snapshot" else "https://app.hex.tech"
    bad_ids = _hostile_snapshot(
        os.path.join(root, "hex_snapshot.json"), hex_url=snap_url, payloads=JINJA_PAYLOADS
    )
    flags = ["--hex-url", hostile_url] if where == "--hex-url" else []
    code, _out, err = run_cli(["sync", "--project-dir", root, "-q", *flags])
    assert (code, err) == (0, "")
    code, out, _err = run_cli(["report", "--project-dir", root, "--format", "json", *flags])
    assert code == 0
    statuses = {p["project_id"]: p["status"] for p in json.loads(out)["projects"]}
    assert all(statuses[b] == "invalid_id" for b in bad_ids)
    with open(os.path.join(root, "models", "hex_exposures.yml"), encoding="utf-8") as f:
        written = f.read()
    assert not any(f"project_id: {b}" in written for b in bad_ids)
    manifest_data = dbt_parse(Path(root))
    dumped = json.dumps(manifest_data)
    assert SECRET_VALUE not in dumped
    ours = [
        e
        for e in manifest_data["exposures"].values()
        if (e["config"]["meta"].get("hex_exposures") or {}).get("managed")
    ]
    assert len(ours) == 6
    for e in ours:
        assert e["config"]["meta"]["hex_exposures"]["project_id"] not in bad_ids
        assert "%7B%7B%20env_var" in e["url"] and "{" not in e["url"]  # encoded, not rendered
        assert e["config"]["meta"]["hex"]["status"] in JINJA_PAYLOADS  # reads back verbatim
        assert e["config"]["meta"]["hex"]["categories"][0] in JINJA_PAYLOADS
        assert e["owner"]["email"].removesuffix("@acme.com") in JINJA_PAYLOADS
        assert e["owner"]["name"] in JINJA_PAYLOADS


@pytest.mark.parametrize(
    "url",
    [
        "https://{{ env_var('DBT_SECRET') }}.hex.tech",
        "https://app.hex.tech:{{x}}",
        "https://user:pw@app.hex.tech",
        "javascript:alert(1)",
        "https://app.hex.tech%7B%7B/",
    ],
)
@pytest.mark.parametrize("where", ["snapshot", "--hex-url"])
def test_a_hex_url_whose_host_is_not_a_host_is_refused(scratch: str, url: str, where: str) -> None:
    CASES["hex_url"] += 1
    root = os.path.join(scratch, "badurl")
    shutil.rmtree(root, ignore_errors=True)
    _sample_copy(root)
    flags = ["--hex-url", url] if where == "--hex-url" else []
    if where == "snapshot":
        snap = os.path.join(root, "hex_snapshot.json")
        with open(snap, encoding="utf-8") as f:
            doc = json.load(f)
        with open(snap, "w", encoding="utf-8") as f:
            json.dump({**doc, "hex_url": url}, f)
    code, _out, err = run_cli(["sync", "--project-dir", root, "--no-parse", *flags])
    assert code == 2 and err.count("\n") == 1 and "hex_url" in err.replace("-", "_"), err
    assert not os.path.exists(os.path.join(root, "models", "hex_exposures.yml"))


@fast(300)
@given(
    project_id=st.text(max_size=40) | st.sampled_from(JINJA_PAYLOADS) | st.uuids().map(str),
    workspace=st.none() | st.text(max_size=20) | st.sampled_from(JINJA_PAYLOADS),
    path=st.text(max_size=20) | st.sampled_from(JINJA_PAYLOADS),
)
def test_any_id_workspace_or_url_path_never_reaches_dbt_as_jinja(
    dbt_render: Any, project_id: str, workspace: str | None, path: str
) -> None:
    """Ids that are not UUIDs get no exposure; urls read back from dbt exactly as written."""
    CASES["ids_and_urls"] += 1
    project = HexProject.from_api({**PROJECTS[0], "id": project_id or "x"})
    query = HexQuery(project_id=project.id, query_text="", tables=("ANALYTICS.MARTS.FCT_ORDERS",))
    from urllib.parse import quote

    settings_ = Settings(warehouse="snowflake", hex_url="https://app.hex.tech/" + quote(path))
    result = pipeline.run(
        BASE_MANIFEST, [project], [query], settings=settings_, workspace=workspace
    )
    if not is_uuid(project.id):
        assert result.exposures == ()
        assert [p.status for p in result.report.projects] == ["invalid_id"]
        return
    data = yaml.safe_load(result.text)
    (got,) = data["exposures"]
    assert dbt_render(got["url"], {}, native=True) == got["url"]
    assert got["url"].endswith("/hex/" + project.id)
    assert (
        dbt_render(got["config"]["meta"]["hex_exposures"]["project_id"], {}, native=True)
        == project.id
    )


# --- lone surrogates --------------------------------------------------------------------------

SURROGATES = ["\ud83d", "\udc00", "a\ud800b", "\udfff\ud800"]


@pytest.mark.parametrize("field", ["title", "description", "status", "categories", "owner", "id"])
@pytest.mark.parametrize("command", ["sync", "check", "report", "report --format json"])
def test_a_lone_surrogate_in_any_project_field_is_replaced_and_the_run_goes_on(
    project: str, field: str, command: str
) -> None:
    """JSON may escape a lone UTF-16 surrogate; no UTF-8 file or terminal can hold one."""
    CASES["surrogates"] += 1
    doc = json.loads(json.dumps(BASE_SNAPSHOT))
    target = doc["projects"][1]
    bad = "Bad \ud83d title"
    if field in ("title", "description"):
        target[field] = bad
    elif field == "status":
        target["status"] = {"name": bad}
    elif field == "categories":
        target["categories"] = [{"name": bad, "description": "\udc00"}]
    elif field == "owner":
        target["owner"] = {"email": "jane\ud83d@acme.com"}
    else:
        target["zzz\ud800"] = ["\ud83d"]  # an unknown key and value, kept in `raw`
    write(os.path.join(project, "target", "manifest.json"), BASE_MANIFEST)  # fuzzed before
    snap = write(os.path.join(project, "hex_snapshot.json"), json.dumps(doc).encode())
    exposures = write(os.path.join(project, "models", "hex_exposures.yml"), EXPOSURES.encode())
    code, out, err = run_cli(
        [*command.split(), "--project-dir", project, "--from-snapshot", snap, "-q"]
    )
    assert "internal error" not in err and code in (0, 1), (code, err)
    with open(exposures, encoding="utf-8") as f:
        text = f.read()
    if field in ("title", "status", "categories", "owner") and command == "sync":
        assert "\ufffd" in text
    if command.startswith("report") and field == "title":
        assert "\ufffd" in out or "\\ufffd" in out
    write(snap, BASE_SNAPSHOT)


@fast(200)
@given(
    data=st.recursive(
        st.text(
            alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None),
            max_size=8,
        )
        | st.integers(),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=10,
    )
)
def test_any_json_with_surrogates_decodes_to_encodable_text(data: Any) -> None:
    from hex_exposures.bulk import json_from_bytes

    CASES["surrogates"] += 1
    raw = json.dumps(data).encode()  # ensure_ascii: lone surrogates as \\udxxx escapes
    got = json_from_bytes(raw)
    json.dumps(got, ensure_ascii=False).encode("utf-8")  # never UnicodeEncodeError
    if "\\ud" not in raw.decode():
        assert got == data


# --- hex_url over plain HTTP --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.9.9.9", True),
        ("http://localhost:1", True),
        ("http://[::1]:9", True),
        ("https://app.hex.tech", True),
        ("https://eu.hex.tech/api/v1/", True),
        ("http://app.hex.tech", False),
        ("http://10.0.0.1", False),
        ("http://128.0.0.1", False),
        ("http://localhost.evil.com", False),
        ("http://[::2]", False),
        ("HTTP://app.hex.tech", False),
    ],
)
def test_plain_http_is_refused_but_for_loopback(url: str, ok: bool) -> None:
    CASES["hex_url"] += 1
    try:
        check_hex_url(url)
    except HexExposuresError as err:
        one_line_error(err)
        assert not ok and "https is required" in str(err), str(err)
    else:
        assert ok, url


# --- terminal escapes -------------------------------------------------------------------------

# Enough for the local Snowflake preflight to pass, so a run reaches Hex (which fails first).
SNOWFLAKE_PREFLIGHT = {
    "SNOWFLAKE_ACCOUNT": "acme",
    "SNOWFLAKE_USER": "u",
    "SNOWFLAKE_PASSWORD": "p",
}
ESCAPES = [
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",  # OSC 8 hyperlink
    "\x1b]52;c;cm0gLXJmIH4=\x07",  # OSC 52 clipboard write
    "\x1b]52;c;cm0gLXJmIH4=\x1b\\",  # ... ended by ST
    "\x9b31m\x9d0;title\x9c",  # 8-bit CSI and OSC
    "\x1bP1$r\x1b\\",  # DCS
    "safe\rOVERWRITTEN",  # carriage return
    "\u202egnp.exe",  # bidi override
    "\u2066isolate\u2069",
    "bell\x07 nul\x00 del\x7f",
]
_UNSAFE_OUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape_snapshot() -> dict[str, Any]:
    doc = json.loads(json.dumps(BASE_SNAPSHOT))
    for n, p in enumerate(doc["projects"]):
        e = "".join(ESCAPES[n:] + ESCAPES[:n])  # every escape, in every field
        p["title"] = f"Title {n} {e}"
        p["description"] = e
        p["status"] = {"name": e}
        p["categories"] = [{"name": e, "description": None}]
        p["owner"] = {"email": f"{e}@acme.com"}
    weird = '"ANALYTICS"."MARTS"."' + ESCAPES[0] + ESCAPES[1] + '"'
    doc["queries"].append(
        {**doc["queries"][0], "query_text": f"select * from {weird}\n" + _meta(PROJECTS[0]["id"])}
    )
    return doc


@pytest.mark.parametrize(
    "command",
    [
        ["sync", "-v"],
        ["check"],
        ["check", "--format", "json"],
        ["report"],
        ["report", "--format", "json"],
        ["check", "--offline"],
        ["validate"],
    ],
    ids=" ".join,
)
def test_no_escape_sequence_or_control_character_reaches_the_terminal(
    project: str, command: list[str]
) -> None:
    """Titles, descriptions, statuses, categories, owners and SQL table names full of
    terminal escapes: stdout and stderr carry none of them (JSON keeps them, escaped)."""
    CASES["terminal"] += 1
    write(os.path.join(project, "target", "manifest.json"), BASE_MANIFEST)
    snap = write(os.path.join(project, "hex_snapshot.json"), _escape_snapshot())
    write(os.path.join(project, "models", "hex_exposures.yml"), EXPOSURES.encode())
    if command[0] != "sync":  # compare against a file holding the hostile text
        assert run_cli(["sync", "--project-dir", project, "--from-snapshot", snap, "-q"])[0] == 0
        with open(os.path.join(project, "models", "hex_exposures.yml"), encoding="utf-8") as f:
            synced = f.read()
        write(
            os.path.join(project, "models", "hex_exposures.yml"),
            synced.replace("Title", "T").encode(),
        )
    if command[0] == "validate":
        return  # needs dbt: covered by the error-line case below
    code, out, err = run_cli([*command, "--project-dir", project, "--from-snapshot", snap])
    assert code in (0, 1), (code, err)
    bad = {repr(m.group()) for m in _UNSAFE_OUT.finditer(out + err)}
    assert not bad, (bad, (out + err)[:2000])
    if "json" in command:
        doc = json.loads(out)
        if command[0] == "report":  # the data is intact for a JSON reader
            assert any("\x1b" in p["title"] for p in doc["projects"])
        else:
            assert "Title 1 " in doc["diff"]
    elif command[0] == "report":
        assert "Title 1 " in out and "click" in out  # the text is there, the escapes are not


def test_a_server_s_reason_with_escapes_is_printed_clean(
    project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error line built from a server's answer (reason, Location) is sanitized too."""
    from tests.servers.hex_server import Fault, serve

    for name, value in SNOWFLAKE_PREFLIGHT.items():
        monkeypatch.setenv(name, value)

    CASES["terminal"] += 1
    write(os.path.join(project, "target", "manifest.json"), BASE_MANIFEST)
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30) as srv:
        srv.script("/api/v1/projects", Fault(status=500, body={"reason": "".join(ESCAPES)}))
        srv.script("/api/v1/projects", *[Fault(status=500, body={"reason": ESCAPES[1]})] * 5)
        os.environ["HEX_API_TOKEN"] = "hxtw_" + "5eC7e7" * 16
        try:
            code, out, err = run_cli(
                [
                    "sync",
                    "--project-dir",
                    project,
                    "--hex-url",
                    srv.url,
                    "--warehouse",
                    "snowflake",
                    "-q",
                ]
            )
        finally:
            del os.environ["HEX_API_TOKEN"]
    assert code == 3 and err.count("\n") == 1 and "500" in err
    assert not _UNSAFE_OUT.search(out + err), repr(err)


@fast(500)
@given(
    text=st.text(max_size=60)
    | st.lists(st.sampled_from(ESCAPES) | st.text(max_size=5)).map("".join)
)
def test_terminal_text_leaves_no_control_character(text: str) -> None:
    CASES["terminal"] += 1
    clean = terminal_text(text)
    assert not _UNSAFE_OUT.search(clean) and "\r" not in clean
    clean.encode("utf-8")
    one = terminal_text(text, one_line=True)
    assert "\n" not in one and "\t" not in one and not _UNSAFE_OUT.search(one)
    if text.isprintable() and text.isascii():
        assert clean == text
    doc = json.dumps({"t": text}, ensure_ascii=False)
    escaped = json_text(doc)
    assert not _UNSAFE_OUT.search(escaped)
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert json.loads(escaped) == {"t": text}


# --- where the exposures file goes ---------------------------------------------------------------


def _output_project(root: Path, extra: str = "") -> Path:
    (root / "models").mkdir(parents=True)
    (root / "target").mkdir()
    (root / "dbt_project.yml").write_text("name: proj\nmodel-paths: [models]\n" + extra)
    (root / "target" / "manifest.json").write_text(json.dumps(BASE_MANIFEST))
    (root / "hex_snapshot.json").write_text(json.dumps(BASE_SNAPSHOT))
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    "output",
    [
        "{outside}/hex_exposures.yml",
        "../hex_exposures.yml",
        "models/../../hex_exposures.yml",
        "~/hex_exposures.yml",
        "dbt_project.yml",
        "models/hex_exposures.yaml",
        "models/hex_exposures.txt",
        "target/hex_exposures.yml",
        "hex_exposures.yml",
        "models",
        "models/.yml",
    ],
)
@pytest.mark.parametrize("where", ["flag", "config"])
def test_an_output_outside_the_project_s_resource_paths_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, where: str
) -> None:
    CASES["output"] += 1
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "outside").mkdir()
    root = _output_project(tmp_path / "p")
    output = output.format(outside=tmp_path / "outside")
    monkeypatch.chdir(root)
    argv = ["sync", "--project-dir", str(root), "--from-snapshot", str(root / "hex_snapshot.json")]
    if where == "flag":
        argv += ["--output", os.path.expanduser(output) if output.startswith("~") else output]
    else:
        (root / "hex_exposures.yml").write_text(f"output: {output}\n")
    before = {
        "p": _tree(root),
        "outside": _tree(tmp_path / "outside"),
        "home": _tree(tmp_path / "home"),
    }
    code, _out, err = run_cli(argv)
    assert code == 2 and err.count("\n") == 1 and "--output" in err, err
    after = {
        "p": _tree(root),
        "outside": _tree(tmp_path / "outside"),
        "home": _tree(tmp_path / "home"),
    }
    assert after == before


@pytest.mark.parametrize(
    ("extra", "output"),
    [
        ("", "models/hex_exposures.yml"),
        ("", "models/deep/er/hex.yml"),
        ("seed-paths: [data]\n", "data/hex.yml"),
        ("", "snapshots/hex.yml"),
        ("analysis-paths: [analysis]\n", "analysis/hex.yml"),
        ("macro-paths: macros2\n", "macros2/hex.yml"),
    ],
)
def test_an_output_under_any_resource_path_is_written(
    tmp_path: Path, extra: str, output: str
) -> None:
    CASES["output"] += 1
    root = _output_project(tmp_path / "p", extra)
    argv = ["sync", "--project-dir", str(root), "--from-snapshot", str(root / "hex_snapshot.json")]
    code, _out, err = run_cli([*argv, "--output", str(root / output), "-q"])
    assert (code, err) == (0, "")
    assert "hex_project_00000" in (root / output).read_text()


@fast(300)
@given(
    parts=st.lists(
        st.sampled_from(
            [
                "..",
                ".",
                "models",
                "seeds",
                "sub",
                "~",
                "x.yml",
                "dbt_project.yml",
                "a.yaml",
                "/",
                "",
            ]
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_output_path_is_under_a_resource_path_or_refused(parts: list[str]) -> None:
    from hex_exposures.errors import ConfigError
    from hex_exposures.safety import check_output

    CASES["output"] += 1
    root = "/srv/proj"
    try:
        got = check_output(os.path.join(root, *parts), root, ["models", "seeds"])
    except ConfigError as err:
        one_line_error(err)
        return
    assert got.endswith(".yml")
    assert got.startswith(("/srv/proj/models/", "/srv/proj/seeds/"))
    assert "/../" not in got and os.path.normpath(got) == got


def test_a_symlinked_exposures_file_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    CASES["output"] += 1
    root = _output_project(tmp_path / "p")
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "exposures.yml"
    target.write_text(EXPOSURES)
    target.chmod(0o640)
    link = root / "models" / "hex_exposures.yml"
    link.symlink_to(os.path.relpath(target, link.parent))
    argv = ["sync", "--project-dir", str(root), "--from-snapshot", str(root / "hex_snapshot.json")]
    code, _out, err = run_cli([*argv, "-q"])
    assert (code, err) == (0, "")
    assert link.is_symlink() and link.resolve() == target.resolve()
    text = target.read_text()
    assert text.startswith(EXPOSURES) and "hex_project_00000" in text
    assert (target.stat().st_mode & 0o777) == 0o640
    assert not [p for p in shared.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_a_new_exposures_file_honours_the_umask_and_an_old_one_keeps_its_mode(
    tmp_path: Path, umask: int
) -> None:
    CASES["output"] += 1
    root = _output_project(tmp_path / "p")
    argv = ["sync", "--project-dir", str(root), "--from-snapshot", str(root / "hex_snapshot.json")]
    old = os.umask(umask)
    try:
        assert run_cli([*argv, "-q"])[0] == 0
        out = root / "models" / "hex_exposures.yml"
        assert (out.stat().st_mode & 0o777) == 0o666 & ~umask
        out.chmod(0o604)
        out.write_text(EXPOSURES)
        assert run_cli([*argv, "-q"])[0] == 0
        assert (out.stat().st_mode & 0o777) == 0o604 and "hex_project_00000" in out.read_text()
    finally:
        os.umask(old)


# --- deep JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [990, 100_000])
@pytest.mark.parametrize("what", ["manifest", "snapshot", "api"])
@pytest.mark.parametrize("command", ["sync", "check", "report"])
def test_deep_json_anywhere_is_one_line_not_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int, what: str, command: str
) -> None:
    from tests.servers.hex_server import Fault, serve

    CASES["deep_json"] += 1
    root = _output_project(tmp_path / "p")
    deep = "[" * depth + "]" * depth
    argv = [command, "--project-dir", str(root), "--warehouse", "snowflake"]
    if what == "manifest":
        raw = json.dumps(BASE_MANIFEST).replace('"nodes": {', f'"zzz": {deep}, "nodes": {{', 1)
        (root / "target" / "manifest.json").write_text(raw)
    if what == "snapshot":
        raw = json.dumps(BASE_SNAPSHOT).replace(
            '"projects": [{', f'"projects": [{{"zzz": {deep}, ', 1
        )
        (root / "hex_snapshot.json").write_text(raw)
    if what != "api":
        code, _out, err = run_cli([*argv, "--from-snapshot", str(root / "hex_snapshot.json")])
        assert code == 2, err
    else:
        body = '{"values": [{"id": "x", "zzz": ' + deep + '}], "pagination": {"after": null}}'
        for name, value in SNOWFLAKE_PREFLIGHT.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HEX_API_TOKEN", "hxtw_" + "5eC7e7" * 16)
        with serve(projects=PROJECTS, rate_limit=None, lifetime=30) as srv:
            srv.script("/api/v1/projects", Fault(status=200, raw=body.encode()))
            code, _out, err = run_cli([*argv, "--hex-url", srv.url])
        assert code == 3, err
    assert err.count("\n") == 1 and "nested too deeply" in err, err
    assert "internal error" not in err and "RecursionError" not in err
    assert not (root / "models" / "hex_exposures.yml").exists()


def test_zz_counts() -> None:
    """Runs last in this file: the number of fuzz cases run, by target."""
    total = sum(CASES.values())
    if not total:
        pytest.skip("run the whole file to count cases")
    print(f"\nfuzz cases: {total} {dict(sorted(CASES.items()))} outcomes: {dict(OUTCOMES)}")
    targets = ("hex_comment", "titles", "sql", "manifest", "snapshot", "pipeline", "cli")
    targets += ("jinja_dbt_parse", "hex_url", "ids_and_urls", "surrogates", "terminal")
    targets += ("output", "deep_json")
    assert all(CASES[t] for t in targets), CASES  # every target was fuzzed
    assert total >= 500
