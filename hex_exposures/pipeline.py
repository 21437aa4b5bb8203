"""The Python API: records in, exposures YAML and a report out. Pure: no I/O.

    run(manifest, projects, queries, settings=..., existing=...) -> RunResult

The CLI reads files and calls sources; everything between the records they produce and the
bytes it writes happens here, so it is tested with plain values.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

from . import __version__, hex_comment, safety, sql_tables, yaml_merge
from . import columns as cols
from . import exposures as expo
from .column_stages import (
    ColumnExtractor,
    Evidence,
    Gathered,
    extract_columns_here,
    gather_evidence,
    qualify_reads,
    read_columns,
    resolve_cached,
)
from .errors import ConfigError
from .identifiers import RULES, display
from .manifest import ManifestIndex, adapter_type, build_index, meta_layout
from .records import Exposure, HexProject, HexQuery, MetaLayout, Settings, TableRef
from .resolve import Match, dependency
from .temp_tables import session_temps

ALL_CONTEXTS = "*"
KEEPS_EXPOSURE = ("exposed", "kept", "kept_no_dbt_nodes")
KEPT_NOTE = (
    "its queries read no dbt node, but its exposure carries a person's edits (own keys, keep "
    "or comments), so it stays with an empty depends_on"
)


class ProjectReport(NamedTuple):
    project_id: str
    title: str
    # exposed | kept | kept_no_dbt_nodes | no_dbt_nodes | not_run | trashed | archived |
    # component | invalid_id
    status: str
    exposure: str | None
    depends_on: tuple[str, ...]
    nodes: tuple[str, ...]  # unique_ids the queries resolved to
    unmatched: tuple[str, ...]  # tables that are not dbt nodes
    notes: tuple[str, ...]  # precedence choices, ambiguities, disabled matches
    queries: int  # distinct query texts in the window
    runs: int
    unparsed: int
    # Tables read that are dbt nodes dbt will not let an exposure reference (a private model
    # of a group, ...): {table, node, reason, group}; never written as dependencies.
    not_allowed: tuple[Mapping[str, str | None], ...] = ()
    # depends_on entry -> the columns referenced_columns lists for it (empty: --no-columns)
    columns: Mapping[str, tuple[str, ...]] = {}
    url: str = ""  # the Hex project's page
    owner: str | None = None  # Hex owner's email, else the creator's
    # Reads of a temporary table the project creates (issue 17), never dependencies:
    # {table, temp_table, created_in (sha256 prefix of the creating text)}.
    shadowed: tuple[Mapping[str, str], ...] = ()
    # Tables that match an ephemeral or disabled dbt node (no relation, never a target):
    # {table, node, state: "ephemeral" | "disabled"}.
    inactive: tuple[Mapping[str, str], ...] = ()


class UserCount(NamedTuple):
    """A warehouse user whose queries carried Hex's comment, so a team can pick --hex-user."""

    user: str
    queries: int  # query records (distinct texts per context)
    runs: int


class Report(NamedTuple):
    warehouse: str
    workspace: str | None
    projects: tuple[ProjectReport, ...]
    queries: int  # query records read
    skipped_no_comment: int  # text without a well-formed Hex comment
    skipped_context: int  # context outside --include-context
    unknown_project: int  # queries of projects Hex did not return
    unparsed: int  # distinct texts sqlglot could not parse
    unparsed_examples: tuple[str, ...]
    # Managed exposures renamed because another exposure of the project took their name.
    renamed: tuple[str, ...] = ()
    # Warehouse users seen running texts with Hex's comment, most runs first (issue 17);
    # empty when the history did not record users (an old snapshot).
    warehouse_users: tuple[UserCount, ...] = ()


class RunResult(NamedTuple):
    text: str
    exposures: tuple[Exposure, ...]
    report: Report
    warehouse: str
    warnings: tuple[str, ...] = ()  # e.g. a `keep` entry that names no tool field


Extractor = Callable[
    [Sequence[str], str, MutableMapping[str, Any] | None], list["sql_tables.Extraction"]
]


def extract_distinct(
    texts: Sequence[str], warehouse: str, cache: MutableMapping[str, Any] | None
) -> list[sql_tables.Extraction]:
    """Parse each distinct text once (the benchmarks swap in a parallel version)."""
    out = []
    for text in texts:
        key = sql_tables.cache_key(text, warehouse)
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            hit = sql_tables.parse_tables(text, warehouse)
            if cache is not None:
                cache[key] = hit
        out.append(hit)
    return out


def choose_warehouse(
    settings: Settings, manifest: Mapping[str, Any], hint: str | None = None
) -> str:
    """--warehouse, else the snapshot's warehouse, else the manifest's adapter_type."""
    for value, where in (
        (settings.warehouse, "--warehouse"),
        (hint, "the snapshot's 'warehouse'"),
        (adapter_type(manifest), "the manifest's adapter_type"),
    ):
        if value:
            if value not in RULES:
                raise ConfigError(
                    f"{where} is {value!r}, which hex-exposures does not read; pass --warehouse "
                    + " or ".join(sorted(RULES))
                )
            return value
    raise ConfigError("cannot tell the warehouse: pass --warehouse snowflake or bigquery")


def learn_workspace(queries: Iterable[HexQuery]) -> str | None:
    """The workspace most query comments name in their project_url."""
    seen: Counter[str] = Counter()
    for q in queries:
        comment = hex_comment.parse(q.query_text) if q.query_text else None
        if comment and comment.workspace:
            seen[comment.workspace] += 1
    return _most_common(seen)


def _most_common(seen: Counter[str]) -> str | None:
    """Most often seen; ties broken by name so the result never depends on order."""
    return min(seen, key=lambda w: (-seen[w], w)) if seen else None


class Attributed(NamedTuple):
    """Stage 1's output: each kept query with its project and its SQL minus the comment."""

    kept: list[tuple[HexQuery, str, str]]  # (query, project_id, sql without the comment)
    skipped_no_comment: int
    skipped_context: int
    workspace: str | None  # the workspace most comments name
    users: tuple[UserCount, ...] = ()  # who ran texts with a readable Hex comment
    unknown_project: int = 0  # kept queries of projects Hex did not return


class Prior(NamedTuple):
    """What the file being merged into already says (read once, used by naming and merge)."""

    layout: MetaLayout  # dbt 1.8/1.9 read tags and meta top-level only
    managed: Mapping[str, yaml_merge.ManagedEntry]  # project id -> its exposure in the file
    reserved: set[str]  # exposure names taken by others, in this file or elsewhere
    elsewhere: Mapping[str, str]  # exposure name -> the other file that defines it


class Decision(NamedTuple):
    """Stage 6's output for one project: its report row and, if it gets one, the exposure's
    dependencies. Later stages fill `report.exposure` once names are known."""

    project: HexProject
    report: ProjectReport
    depends_on: tuple[str, ...] | None  # None: no exposure for this project
    referenced_columns: tuple[Mapping[str, str], ...] = ()


class Prepared(NamedTuple):
    """Stages 1-5's output: what the inputs say, before the exposures file is read.

    `conclude` turns it into a RunResult for a given file, so the caller can work out what
    a run would give against the file it is about to write (cli's last-run memo)."""

    manifest: Mapping[str, Any]
    projects: Sequence[HexProject]
    settings: Settings
    warehouse: str
    workspace: str | None
    nodes: ManifestIndex
    column_schema: cols.ColumnSchema | None
    resolved: dict[TableRef, Match]  # one resolution per table, shared by the stages
    attributed: Attributed
    gathered: Gathered
    queries: int


def run(
    manifest: Mapping[str, Any],
    projects: Sequence[HexProject],
    queries: Iterable[HexQuery],
    *,
    settings: Settings,
    existing: str | None = None,
    output_path: str = "hex_exposures.yml",
    cache: MutableMapping[str, Any] | None = None,
    workspace: str | None = None,
    warehouse: str | None = None,
    extractor: Extractor = extract_distinct,
    restricted_packages: frozenset[str] = frozenset(),
    catalog: Mapping[str, Any] | None = None,
    memo: MutableMapping[str, Any] | None = None,
    column_extractor: ColumnExtractor = extract_columns_here,
) -> RunResult:
    """Records in, YAML out, one stage after another (each a function below, in order).

    `memo` (JSON-able, kept by the caller between runs) lets an unchanged exposures file skip
    its YAML parse and the merge: see `read_prior` and `merge_exposures`.

    `catalog`: catalog.json (dbt docs generate), for the columns of `SELECT *` and types.
    """
    prepared = prepare(
        manifest,
        projects,
        queries,
        settings=settings,
        cache=cache,
        workspace=workspace,
        warehouse=warehouse,
        extractor=extractor,
        restricted_packages=restricted_packages,
        catalog=catalog,
        column_extractor=column_extractor,
    )
    return conclude(prepared, existing=existing, output_path=output_path, memo=memo)


def prepare(
    manifest: Mapping[str, Any],
    projects: Sequence[HexProject],
    queries: Iterable[HexQuery],
    *,
    settings: Settings,
    cache: MutableMapping[str, Any] | None = None,
    workspace: str | None = None,
    warehouse: str | None = None,
    extractor: Extractor = extract_distinct,
    restricted_packages: frozenset[str] = frozenset(),
    catalog: Mapping[str, Any] | None = None,
    column_extractor: ColumnExtractor = extract_columns_here,
) -> Prepared:
    """Stages 1-5 (`run`'s arguments but the file's): the evidence of each project."""
    warehouse = warehouse or choose_warehouse(settings, manifest)
    index = build_index(manifest, warehouse, restricted_packages=restricted_packages)
    resolved: dict[TableRef, Match] = {}
    column_schema = cols.build_schema(manifest, index, catalog) if settings.columns else None
    queries = list(queries)
    attributed = attribute_queries(queries, settings)
    workspace = settings.workspace or workspace or attributed.workspace
    parsed = extract_tables(attributed.kept, warehouse, cache, extractor)
    temps = session_temps(attributed.kept, parsed, warehouse)
    qualified = qualify_reads(attributed.kept, parsed, warehouse)
    gathered = gather_evidence(
        attributed.kept, parsed, warehouse, qualified, temps, columns=column_schema is not None
    )
    if column_schema is not None:
        read_columns(gathered, warehouse, index, column_schema, resolved, cache, column_extractor)
    by_id = {p.id for p in projects}
    return Prepared(
        manifest=manifest,
        projects=projects,
        settings=settings,
        warehouse=warehouse,
        workspace=workspace,
        nodes=index,
        column_schema=column_schema,
        resolved=resolved,
        attributed=attributed._replace(  # the counts: the records are done with
            kept=[], unknown_project=sum(1 for _, pid, _ in attributed.kept if pid not in by_id)
        ),
        gathered=gathered,
        queries=len(queries),
    )


def conclude(
    prepared: Prepared,
    *,
    existing: str | None = None,
    output_path: str = "hex_exposures.yml",
    memo: MutableMapping[str, Any] | None = None,
) -> RunResult:
    """Stages 6-9 against one exposures file: decisions, names, exposures, merged text."""
    p = prepared
    settings, workspace, index = p.settings, p.workspace, p.nodes
    prior = read_prior(existing, output_path, p.manifest, index, memo)
    decisions = decide(p.projects, p.gathered.evidence, index, prior, p.resolved, p.column_schema)
    names, renamed = name_exposures(decisions, prior, output_path)
    built = build_exposures(decisions, names, settings, workspace)
    text = merge_exposures(existing, built, output_path, prior, memo)
    reports = [
        (
            d.report._replace(exposure=names[pid], columns=_by_node(d.referenced_columns))
            if pid in names
            else d.report
        )._replace(
            url=expo.project_url(settings.hex_url, workspace, pid),
            owner=d.project.owner_email or d.project.creator_email,
        )
        for pid, d in decisions.items()
    ]
    report = Report(
        warehouse=p.warehouse,
        workspace=workspace,
        projects=tuple(sorted(reports, key=lambda r: (r.title.lower(), r.project_id))),
        queries=p.queries,
        skipped_no_comment=p.attributed.skipped_no_comment,
        skipped_context=p.attributed.skipped_context,
        unknown_project=p.attributed.unknown_project,
        unparsed=p.gathered.unparsed,
        unparsed_examples=p.gathered.unparsed_examples,
        renamed=renamed,
        warehouse_users=p.attributed.users,
    )
    return RunResult(
        text=text,
        exposures=tuple(built),
        report=report,
        warehouse=p.warehouse,
        warnings=keep_warnings(existing, output_path, prior.layout, memo),
    )


def keep_warnings(
    existing: str | None,
    output_path: str,
    layout: MetaLayout,
    memo: MutableMapping[str, Any] | None = None,
) -> tuple[str, ...]:
    """`keep` entries that pin nothing; remembered per file, so an unchanged 21 MB file is not
    parsed for them either. No `keep` anywhere: nothing to warn about, and no parse."""
    if not existing or "keep" not in existing:
        return ()
    key = _file_key(existing, output_path, layout)
    known = memo.get("keep_warnings") if memo is not None else None
    if (
        isinstance(known, list)
        and len(known) == 2
        and known[0] == key
        and isinstance(known[1], list)
        and all(isinstance(w, str) for w in known[1])
    ):
        return tuple(known[1])
    found = tuple(yaml_merge.keep_warnings(existing, path=output_path, layout=layout))
    if memo is not None:
        memo["keep_warnings"] = [key, list(found)]
    return found


def attribute_queries(queries: Sequence[HexQuery], settings: Settings) -> Attributed:
    """1. Comments and contexts: which query belongs to which project, and the skip counts."""
    include = set(settings.include_context)
    seen_workspaces: Counter[str] = Counter()
    skipped_no_comment = skipped_context = 0
    texts: dict[str, str] = {}
    kept: list[tuple[HexQuery, str, str]] = []
    users: dict[str, list[int]] = {}
    for q in queries:
        pid = q.project_id
        sql = ""
        if q.query_text.strip():
            comment = hex_comment.parse(q.query_text)
            if comment is None or not (comment.project_id or pid):
                skipped_no_comment += 1
                continue
            if q.warehouse_user:
                seen = users.setdefault(q.warehouse_user, [0, 0])
                seen[0] += 1
                seen[1] += q.run_count
            if comment.workspace:
                seen_workspaces[comment.workspace] += 1
            if comment.context and ALL_CONTEXTS not in include and comment.context not in include:
                skipped_context += 1
                continue
            pid = pid or comment.project_id or ""
            sql = hex_comment.strip(q.query_text, comment)
            sql = texts.setdefault(sql, sql)  # one string per distinct text, not per record
        kept.append((q, pid, sql))
    counts = sorted(
        (UserCount(user, n, runs) for user, (n, runs) in users.items()),
        key=lambda u: (-u.runs, -u.queries, u.user),
    )
    return Attributed(
        kept, skipped_no_comment, skipped_context, _most_common(seen_workspaces), tuple(counts)
    )


def extract_tables(
    kept: Sequence[tuple[HexQuery, str, str]],
    warehouse: str,
    cache: MutableMapping[str, Any] | None,
    extractor: Extractor,
) -> dict[str, sql_tables.Extraction]:
    """2. Parse each distinct text once (through the cache); text -> its Extraction."""
    distinct = sorted({sql for _, _, sql in kept if sql})
    return dict(zip(distinct, extractor(distinct, warehouse, cache), strict=True))


def read_prior(
    existing: str | None,
    output_path: str,
    manifest: Mapping[str, Any],
    index: ManifestIndex,
    memo: MutableMapping[str, Any] | None = None,
) -> Prior:
    """The managed exposures already in the file, and the names others have taken.

    When `memo` holds what the file said the last time it was written (same digest), the
    21 MB parse is skipped.
    """
    layout = meta_layout(manifest)
    key = _file_key(existing, output_path, layout)
    known = memo.get("prior") if memo is not None else None
    remembered = _remembered(known) if isinstance(known, dict) and known.get("key") == key else None
    if remembered is not None:
        managed, unmanaged = remembered
    else:
        managed = yaml_merge.read_managed(existing, path=output_path, layout=layout)
        unmanaged = yaml_merge.unmanaged_names(existing, path=output_path)
    elsewhere = {
        name: path
        for name, path in index.exposure_names.items()
        if not _same_file(path, output_path)
    }
    reserved = unmanaged | set(elsewhere)
    return Prior(layout=layout, managed=managed, reserved=reserved, elsewhere=elsewhere)


def _remembered(
    known: Mapping[str, Any],
) -> tuple[dict[str, yaml_merge.ManagedEntry], set[str]] | None:
    """The memo's managed entries and unmanaged names; None when it is not in our shape."""
    try:
        managed = {
            pid: yaml_merge.ManagedEntry(
                name, pid, tuple(deps), tuple(keep), tuple(columns), bool(personal)
            )
            for pid, (name, deps, keep, columns, personal) in known["managed"].items()
        }
        return managed, set(known["unmanaged"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def merge_exposures(
    existing: str | None,
    built: Sequence[Exposure],
    output_path: str,
    prior: Prior,
    memo: MutableMapping[str, Any] | None = None,
) -> str:
    """9. The file with the managed exposures replaced by `built`, the rest kept as it is.

    The merge is idempotent (tests/merge_property_test.py), so when the file is the one the
    last run wrote from these same exposures, it is the answer without merging again. With a
    `memo`, the written text's managed entries are recorded for the next run's `read_prior`.
    """
    wanted = _built_key(built)
    key = _file_key(existing, output_path, prior.layout)
    if memo is not None and memo.get("fixed") == [key, wanted] and existing is not None:
        return existing
    text = yaml_merge.merge(existing, built, path=output_path, layout=prior.layout)
    if memo is not None:
        new_key = _file_key(text, output_path, prior.layout)
        managed = yaml_merge.read_managed(text, path=output_path, layout=prior.layout)
        memo["prior"] = {
            "key": new_key,
            "managed": {
                pid: [
                    m.name,
                    list(m.depends_on),
                    list(m.keep),
                    [dict(c) for c in m.referenced_columns],
                    m.personal,
                ]
                for pid, m in managed.items()
            },
            "unmanaged": sorted(yaml_merge.unmanaged_names(text, path=output_path)),
        }
        memo["fixed"] = [new_key, wanted]
    return text


def _file_key(text: str | None, output_path: str, layout: str) -> str:
    digest = hashlib.sha256(f"{output_path}\0{layout}\0".encode())
    digest.update(b"\1" if text is None else text.encode("utf-8", "surrogatepass"))
    return f"{__version__}:{digest.hexdigest()}"


def _built_key(built: Sequence[Exposure]) -> str:
    return hashlib.sha256(repr(list(built)).encode("utf-8", "surrogatepass")).hexdigest()


def decide(
    projects: Sequence[HexProject],
    evidence: Mapping[str, Evidence],
    index: ManifestIndex,
    prior: Prior,
    memo: dict[TableRef, Match] | None = None,
    column_schema: cols.ColumnSchema | None = None,
) -> dict[str, Decision]:
    """6. Resolve each project's tables to dbt nodes and decide its status, by project id."""
    memo = {} if memo is None else memo
    forbidden = {dependency(f.relation, index) for f in index.forbidden.values()}
    decisions: dict[str, Decision] = {}
    # Hex ids are UUIDs; any other id (a hostile snapshot or server) is never written where
    # dbt renders Jinja: the project gets a report line and no exposure.
    for project in projects:
        if not safety.is_uuid(project.id):
            decisions[project.id] = _invalid_id(project)
    for project in sorted(projects, key=lambda p: p.id):
        if project.id in decisions:
            continue
        found = evidence.get(project.id)
        decisions[project.id] = _decide_one(
            project, found, index, prior, memo, forbidden, column_schema
        )
    return decisions


def _invalid_id(project: HexProject) -> Decision:
    report = ProjectReport(
        project_id=project.id,
        title=project.title,
        status="invalid_id",
        exposure=None,
        depends_on=(),
        nodes=(),
        unmatched=(),
        notes=("the Hex project id is not a UUID: no exposure",),
        queries=0,
        runs=0,
        unparsed=0,
    )
    return Decision(project=project, report=report, depends_on=None)


def _decide_one(
    project: HexProject,
    found: Evidence | None,
    index: ManifestIndex,
    prior: Prior,
    memo: dict[TableRef, Match],
    forbidden: set[str],
    column_schema: cols.ColumnSchema | None = None,
) -> Decision:
    referenced: tuple[Mapping[str, str], ...] = ()
    tables = sorted(found.tables, key=_table_order) if found else []
    matches = [resolve_cached(t, index, memo) for t in tables]
    nodes = sorted({m.relation.unique_id for m in matches if m.relation})
    deps = tuple(sorted({dependency(m.relation, index) for m in matches if m.relation}))
    # dbt nodes an exposure may not reference are reported, never written (issue 12).
    wh = index.warehouse
    refused = [(m.table, index.forbidden[m.table]) for m in matches if m.table in index.forbidden]
    not_allowed: tuple[Mapping[str, str | None], ...] = tuple(
        {
            "table": display(table, wh),
            "node": f.relation.unique_id,
            "reason": f.reason,
            "group": f.group,
        }
        for table, f in refused
    )
    off = [
        m for m in matches if m.relation is None and m.inactive and m.table not in index.forbidden
    ]
    inactive = tuple(
        {"table": display(m.table, wh), "node": m.inactive.unique_id, "state": m.inactive.state}
        for m in off
        if m.inactive
    )
    told = {m.table for m in off} | set(index.forbidden)
    unmatched = tuple(
        display(m.table, wh) for m in matches if m.relation is None and m.table not in told
    )
    notes = tuple(
        sorted(
            {f"{display(m.table, wh)}: {m.note}" for m in matches if m.note and m.table not in told}
        )
    )
    if project.trashed or project.archived:
        status = "trashed" if project.trashed else "archived"
    elif found is None or (found.queries == 0 and not found.tables):
        kept = prior.managed.get(project.id)
        status = "kept" if kept else "not_run"
        deps = tuple(d for d in kept.depends_on if d not in forbidden) if kept else ()
        if kept and column_schema is not None:
            referenced = tuple(c for c in kept.referenced_columns if c.get("node") in deps)
    else:
        status = "exposed" if deps else "no_dbt_nodes"
        edited = prior.managed.get(project.id)
        if status == "no_dbt_nodes" and edited is not None and edited.personal:
            # SPEC: an exposure with a person's additions is never deleted while live.
            status = "kept_no_dbt_nodes"
            notes = (*notes, KEPT_NOTE)
        if status == "exposed" and column_schema is not None:
            referenced = _referenced(found, deps, index, column_schema, memo)
    exposed = status in KEEPS_EXPOSURE
    report = ProjectReport(
        project_id=project.id,
        title=project.title,
        status=status,
        exposure=None,
        depends_on=deps if exposed else (),
        nodes=tuple(nodes),
        unmatched=unmatched,
        notes=notes,
        queries=found.queries if found else 0,
        runs=found.runs if found else 0,
        unparsed=found.unparsed if found else 0,
        not_allowed=not_allowed,
        inactive=inactive,
        shadowed=tuple(
            {"table": display(read, wh), "temp_table": display(temp, wh), "created_in": text}
            for read, temp, text in sorted(found.shadowed, key=lambda s: (str(s[0]), s[2]))
        )
        if found
        else (),
    )
    return Decision(
        project=project,
        report=report,
        depends_on=deps if exposed else None,
        referenced_columns=referenced if exposed else (),
    )


def name_exposures(
    decisions: Mapping[str, Decision], prior: Prior, output_path: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    """7. A stable, unique name for each project that gets an exposure (project id -> name),
    and the renames of managed names another exposure now uses (dbt parse fails on the pair).
    """
    planned = {pid for pid, d in decisions.items() if d.depends_on is not None}
    clashes = expo.rename_clashes(
        {pid: m.name for pid, m in prior.managed.items() if pid in planned}, prior.reserved
    )
    renamed = tuple(
        f"{old} -> {new}: the name is also used by the exposure in "
        f"{prior.elsewhere.get(old) or output_path}; renamed by the stable-name rule"
        for old, new in (clashes[pid] for pid in sorted(clashes))
    )
    names = expo.assign_names(
        [decisions[pid].project for pid in sorted(planned)],
        existing={
            pid: clashes[pid][1] if pid in clashes else m.name for pid, m in prior.managed.items()
        },
        reserved=prior.reserved,
    )
    return names, renamed


def build_exposures(
    decisions: Mapping[str, Decision],
    names: Mapping[str, str],
    settings: Settings,
    workspace: str | None,
) -> list[Exposure]:
    """8. The Exposure records, sorted by name (the merge writes them in this order)."""
    built = [
        expo.build_exposure(
            d.project,
            d.depends_on,
            name=names[pid],
            url=expo.project_url(settings.hex_url, workspace, pid),
            maturity_map=settings.maturity_map or expo.DEFAULT_MATURITY,
            owner_map=settings.owner_map,
        )._replace(referenced_columns=_written_columns(d.referenced_columns, d.report))
        for pid, d in sorted(decisions.items())
        if d.depends_on is not None
    ]
    built.sort(key=lambda e: e.name)
    return built


def _by_node(referenced: Sequence[Mapping[str, str]]) -> dict[str, tuple[str, ...]]:
    by_node: dict[str, list[str]] = {}
    for c in referenced:
        by_node.setdefault(c["node"], []).append(c["column_name"])
    return {k: tuple(v) for k, v in by_node.items()}


def _referenced(
    found: Evidence | None,
    depends_on: Sequence[str],
    index: ManifestIndex,
    schema: cols.ColumnSchema,
    memo: dict[TableRef, Match],
) -> tuple[Mapping[str, str], ...]:
    """An exposure's referenced_columns: each column's table resolved like its tables, and
    kept only when that node is one the exposure depends on."""
    pairs = []
    deps: dict[str, str] = {}
    wanted = set(depends_on)
    for c in found.columns if found else ():
        rel = resolve_cached(c.table, index, memo).relation
        if rel is not None:
            dep = deps.setdefault(rel.unique_id, dependency(rel, index))
            if dep in wanted:
                pairs.append((rel, c.column))
    return cols.referenced(pairs, schema, deps, index.warehouse)


def _written_columns(
    items: tuple[Mapping[str, str], ...], report: ProjectReport
) -> tuple[Mapping[str, str], ...]:
    """Fresh column names (maybe a warehouse user's SQL) made Jinja-safe; a kept exposure's
    are the file's own, already safe, and are not wrapped twice."""
    return expo.jinja_safe_items(items) if report.status == "exposed" else items


def _table_order(t: TableRef) -> tuple[str, str, str]:
    """Sort key: a one- or two-part name (no context to qualify it) has None parts."""
    return (t.database or "", t.schema or "", t.name)


def _same_file(manifest_path: str, output_path: str) -> bool:
    """Does an exposure's original_file_path (relative to the project) name our output file?"""
    a = manifest_path.replace("\\", "/").lstrip("./")
    b = output_path.replace("\\", "/")
    return bool(a) and (b == a or b.endswith("/" + a))
