"""Deterministic synthetic inputs for the scale benchmarks, with their ground truth.

    python -m benchmarks.generate --out benchmarks/out/full --models 10000 --sources 5000 \
        --projects 20000 --rows 1000000 --texts 100000 --warehouse snowflake

writes a dbt project folder (``dbt_project.yml``, ``target/manifest.json`` shaped like dbt-core
1.11's), ``hex_snapshot.json`` (the SPEC snapshot) and ``truth.json`` (what a perfect sync
finds). The same seed gives the same bytes.

History arrives grouped by the warehouse (SPEC "Scale"), so the snapshot holds one record per
(text, project, context) with a ``run_count``; the run counts add up to ``rows``. Query texts
are written from analytic query shapes (joins, CTEs, window functions, subqueries, UNION,
5-200 lines) with the traps real SQL holds for regex extractors (``EXTRACT(x FROM y)``,
comments and strings that say "from", comma joins, CTEs named like tables, table functions).
About 40% of the distinct texts are parameter variants of another (Hex renders input
parameters into the SQL), which differ only in literals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

SEED = 7


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


DAY0 = "2026-01-01"
CONTEXTS = ("SCHEDULED_RUN", "APP_VIEW", "LOGIC_VIEW")
SYSTEMS = _words(
    "stripe salesforce hubspot zendesk shopify netsuite segment app_postgres google_ads "
    "facebook_ads intercom jira github workday marketo braze mixpanel snowplow quickbooks "
    "greenhouse linkedin_ads bing_ads amplitude recurly chargebee xero mailchimp klaviyo "
    "pendo gong outreach"
)
ENTITIES = _words(
    "accounts contacts opportunities orders order_items customers charges refunds "
    "invoices subscriptions plans products events sessions pageviews tickets users leads "
    "campaigns ad_groups ads payments transactions employees issues pull_requests "
    "line_items disputes payouts balance_transactions coupons discounts carts shipments "
    "inventory vendors bills journal_entries gl_accounts"
)
DOMAINS = _words("finance marketing product sales support ops people growth risk core")
QUALIFIERS = _words(
    "- daily weekly monthly by_region by_channel snapshot enriched rollup history current "
    "latest pivoted deduped cohort"
)
PREFIXES = ("fct", "dim", "int", "rpt", "agg", "mart")
PACKAGES = ("stripe", "hubspot", "ad_reporting", "finance_pkg")


class Rel(NamedTuple):
    """A relation Hex queries may read, as the warehouse stores it."""

    database: str
    schema: str
    name: str
    quoted: bool  # a case-sensitive (quoted) identifier on Snowflake
    unique_id: str | None  # the dbt node a sync should resolve it to; None: not a dbt node
    kind: str  # model | seed | snapshot | source | other


class Corpus(NamedTuple):
    warehouse: str
    manifest: dict[str, Any]
    snapshot: dict[str, Any]
    truth: dict[str, Any]


def generate(
    *,
    models: int,
    sources: int,
    projects: int,
    rows: int,
    texts: int,
    warehouse: str = "snowflake",
    pathological: int = 0,
    seed: int = SEED,
) -> Corpus:
    """Everything one benchmark size needs, built in memory."""
    manifest, catalog = build_manifest(models, sources, warehouse=warehouse, seed=seed)
    snapshot, truth = build_snapshot(
        catalog,
        projects=projects,
        rows=rows,
        texts=texts,
        warehouse=warehouse,
        pathological=pathological,
        seed=seed,
    )
    return Corpus(warehouse, manifest, snapshot, truth)


# --- the manifest ------------------------------------------------------------------------


def _names(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(layer, domain, name) for `count` distinct models, staging first."""
    out = [("staging", s, f"stg_{s}__{e}") for s in SYSTEMS for e in ENTITIES]
    rng.shuffle(out)
    out = out[: max(count // 6, 1)]
    marts = []
    for p in PREFIXES:
        for d in DOMAINS:
            for e in ENTITIES:
                for q in QUALIFIERS:
                    layer = "intermediate" if p == "int" else "marts"
                    tail = "" if q == "-" else f"_{q}"
                    name = f"{p}_{d}__{e}{tail}" if p == "int" else f"{p}_{e}{tail}"
                    marts.append((layer, d, name))
    rng.shuffle(marts)
    seen = {n for _, _, n in out}
    for item in marts:
        if len(out) >= count:
            break
        if item[2] not in seen:
            seen.add(item[2])
            out.append(item)
    i = 0
    while len(out) < count:  # more models than the vocabulary: numbered reports
        i += 1
        out.append(("marts", DOMAINS[i % len(DOMAINS)], f"rpt_adhoc_{i:05d}"))
    return out


def build_manifest(
    models: int, sources: int, *, warehouse: str, seed: int = SEED
) -> tuple[dict[str, Any], list[Rel]]:
    """A dbt 1.11-shaped manifest and the relations queries may read (dbt and not)."""
    rng = random.Random(f"manifest:{seed}")
    bq = warehouse == "bigquery"
    root = "acme_analytics"
    db = "acme-analytics-prod" if bq else "analytics"
    raw_db = "acme-raw" if bq else "raw"
    nodes: dict[str, Any] = {}
    srcs: dict[str, Any] = {}
    disabled: dict[str, list[Any]] = {}
    catalog: list[Rel] = []
    keys: set[tuple[str, str, str]] = set()
    names = _names(rng, models)
    for i, (layer, domain, name) in enumerate(names):
        package = root if rng.random() > 0.08 else PACKAGES[i % len(PACKAGES)]
        schema = {"staging": "prod_staging", "intermediate": "prod_intermediate"}.get(
            layer, f"prod_{domain}"
        )
        if package != root:
            schema = f"prod_{package}"
        alias = name
        if layer == "marts" and rng.random() < 0.05:
            alias = name.split("_", 1)[1]  # fct_orders -> orders
        materialized = "ephemeral" if layer == "intermediate" and rng.random() < 0.4 else "table"
        versions: list[int | None] = [None]
        if layer == "marts" and rng.random() < 0.01:
            versions = [1, 2] if rng.random() < 0.7 else [1, 2, 3]
        for v in versions:
            v_alias = alias if v is None else f"{alias}_v{v}"
            key = (db, schema, v_alias)
            if key in keys:
                continue
            keys.add(key)
            uid = f"model.{package}.{name}" + ("" if v is None else f".v{v}")
            node = _model_node(rng, uid, package, name, db, schema, v_alias, layer, materialized)
            node["version"] = v
            node["latest_version"] = None if v is None else versions[-1]
            if rng.random() < 0.004:
                node["config"]["enabled"] = False
                disabled[uid] = [node]
                continue
            nodes[uid] = node
            if materialized != "ephemeral":
                catalog.append(Rel(db, schema, v_alias, False, uid, "model"))
    # Seeds and snapshots, and one relation declared both as a seed and a source.
    for kind, count in (("seed", max(models // 100, 1)), ("snapshot", max(models // 100, 1))):
        for j in range(count):
            name = f"{kind}_{ENTITIES[j % len(ENTITIES)]}_{j:03d}"
            uid = f"{kind}.{root}.{name}"
            schema = "prod_seeds" if kind == "seed" else "snapshots"
            node = _model_node(rng, uid, root, name, db, schema, name, kind, kind)
            node["resource_type"] = kind
            nodes[uid] = node
            keys.add((db, schema, name))
            catalog.append(Rel(db, schema, name, False, uid, kind))
    # Sources: systems x tables in the raw database, some with case-sensitive identifiers.
    per = max(math.ceil(sources / len(SYSTEMS)), 1)
    made = 0
    for s_i, system in enumerate(SYSTEMS * (1 + sources // (len(SYSTEMS) * len(ENTITIES) + 1))):
        region = "" if s_i < len(SYSTEMS) else f"_r{s_i // len(SYSTEMS)}"
        source_name = system + region
        schema = f"{system}{region}" if rng.random() < 0.5 else f"raw_{system}{region}"
        for t in range(per):
            if made >= sources:
                break
            entity = ENTITIES[t % len(ENTITIES)]
            name = entity if t < len(ENTITIES) else f"{entity}_{t // len(ENTITIES)}"
            ident, quoted = name, False
            if rng.random() < 0.1:
                ident = "tbl_" + name
            if not bq and rng.random() < 0.04:
                sep = " " if rng.random() < 0.3 else ""  # "Order Items": quoted, with a space
                ident, quoted = sep.join(w.capitalize() for w in name.split("_")), True
            uid = f"source.{root}.{source_name}.{name}"
            srcs[uid] = _source_node(
                rng, uid, root, source_name, name, raw_db, schema, ident, quoted
            )
            keys.add((raw_db, schema, ident))
            catalog.append(Rel(raw_db, schema, ident, quoted, uid, "source"))
            made += 1
        if made >= sources:
            break
    # One relation that is both a seed and a source: the seed wins (SPEC precedence).
    seed_rel = next((r for r in catalog if r.kind == "seed"), None)
    if seed_rel is not None:
        uid = f"source.{root}.seeds_mirror.{seed_rel.name}"
        srcs[uid] = _source_node(
            rng, uid, root, "seeds_mirror", seed_rel.name, db, seed_rel.schema, seed_rel.name, False
        )
    # Tables Hex reads that are not dbt nodes.
    for j in range(max((models + sources) // 20, 5)):
        entity = ENTITIES[j % len(ENTITIES)]
        owner = ("jane", "sam", "priya", "li", "omar")[j % 5]
        catalog.append(Rel(db, f"scratch_{owner}", f"{entity}_tmp_{j}", False, None, "other"))
    catalog.append(Rel(raw_db, "ops", "manual_targets", False, None, "other"))
    parent_map = {uid: list(n["depends_on"]["nodes"]) for uid, n in nodes.items()}
    child_map: dict[str, list[str]] = {uid: [] for uid in list(nodes) + list(srcs)}
    for uid, parents in parent_map.items():
        for p in parents:
            child_map.setdefault(p, []).append(uid)
    manifest = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": "1.11.16",
            "generated_at": f"{DAY0}T00:00:00.000000Z",
            "invocation_id": str(_uuid(rng)),
            "env": {},
            "project_name": root,
            "project_id": hashlib.md5(root.encode()).hexdigest(),
            "user_id": None,
            "send_anonymous_usage_stats": False,
            "adapter_type": warehouse,
            "quoting": {"database": bq, "schema": bq, "identifier": bq, "column": None},
        },
        "nodes": nodes,
        "sources": srcs,
        "macros": {f"macro.dbt.m{i}": _macro(rng, i) for i in range(max(models // 15, 50))},
        "docs": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": disabled,
        "parent_map": parent_map,
        "child_map": child_map,
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
    }
    return manifest, catalog


_COLUMN_WORDS = _words(
    "id customer_id order_id account_id amount status created_at updated_at region "
    "channel segment plan country revenue quantity price discount event_name session_id "
    "user_id"
)


def _model_node(
    rng: random.Random,
    uid: str,
    package: str,
    name: str,
    db: str,
    schema: str,
    alias: str,
    layer: str,
    materialized: str,
) -> dict[str, Any]:
    cols = rng.sample(_COLUMN_WORDS, rng.randint(3, 14))
    raw = (
        "select\n" + ",\n".join(f"    {c}" for c in cols) + f"\nfrom {{{{ ref('stg_{name}') }}}}\n"
    )
    raw += "where " + " and ".join(f"{c} is not null" for c in cols[:3]) + "\n"
    config: dict[str, Any] = {
        "enabled": True,
        "alias": None if alias == name else alias,
        "schema": schema.removeprefix("prod_"),
        "database": None,
        "tags": [],
        "meta": {},
        "group": None,
        "materialized": materialized,
        "incremental_strategy": None,
        "persist_docs": {},
        "post-hook": [],
        "pre-hook": [],
        "quoting": {},
        "column_types": {},
        "full_refresh": None,
        "unique_key": None,
        "on_schema_change": "ignore",
        "on_configuration_change": "apply",
        "grants": {},
        "packages": [],
        "docs": {"show": True, "node_color": None},
        "contract": {"enforced": False, "alias_types": True},
        "access": "protected",
    }
    path = f"{layer}/{name}.sql"
    return {
        "database": db,
        "schema": schema,
        "name": name,
        "resource_type": "model",
        "package_name": package,
        "path": path,
        "original_file_path": f"models/{path}",
        "unique_id": uid,
        "fqn": [package, layer, name],
        "alias": alias,
        "checksum": {"name": "sha256", "checksum": hashlib.sha256(uid.encode()).hexdigest()},
        "config": config,
        "tags": [],
        "description": f"One row per {name.split('_', 1)[-1].replace('_', ' ')}.",
        "columns": {
            c: {
                "name": c,
                "description": f"The {c.replace('_', ' ')} of the record, as loaded.",
                "meta": {},
                "data_type": None,
                "constraints": [],
                "quote": None,
                "config": {"meta": {}, "tags": []},
                "tags": [],
                "granularity": None,
                "doc_blocks": [],
            }
            for c in cols[: rng.randint(0, len(cols))]
        },
        "meta": {},
        "group": None,
        "docs": {"show": True, "node_color": None},
        "patch_path": f"{package}://models/{layer}/_{layer}.yml",
        "build_path": None,
        "unrendered_config": {"materialized": materialized},
        "created_at": 1767225600.0,
        "relation_name": None
        if materialized == "ephemeral"
        else f'"{db}"."{schema}"."{alias}"'.replace('"', "`" if "-" in db else '"'),
        "raw_code": raw,
        "doc_blocks": [],
        "language": "sql",
        "refs": [{"name": f"stg_{name}", "package": None, "version": None}],
        "sources": [],
        "metrics": [],
        "functions": [],
        "depends_on": {"macros": [], "nodes": []},
        "compiled_path": None,
        "contract": {"enforced": False, "alias_types": True, "checksum": None},
        "access": "protected",
        "constraints": [],
        "version": None,
        "latest_version": None,
        "deprecation_date": None,
        "primary_key": [],
        "time_spine": None,
    }


def _source_node(
    rng: random.Random,
    uid: str,
    package: str,
    source_name: str,
    name: str,
    db: str,
    schema: str,
    identifier: str,
    quoted: bool,
) -> dict[str, Any]:
    freshness = {
        "warn_after": {"count": 24, "period": "hour"},
        "error_after": {"count": None, "period": None},
        "filter": None,
    }
    return {
        "database": db,
        "schema": schema,
        "name": name,
        "resource_type": "source",
        "package_name": package,
        "path": "models/staging/_sources.yml",
        "original_file_path": "models/staging/_sources.yml",
        "unique_id": uid,
        "fqn": [package, "staging", source_name, name],
        "source_name": source_name,
        "source_description": f"{source_name} objects landed by the EL tool.",
        "loader": rng.choice(("fivetran", "airbyte", "stitch", "")),
        "identifier": identifier,
        "quoting": {"database": None, "schema": None, "identifier": quoted or None, "column": None},
        "loaded_at_field": "_loaded_at",
        "loaded_at_query": None,
        "freshness": freshness,
        "external": None,
        "description": f"One row per {name.replace('_', ' ')} in {source_name}.",
        "columns": {},
        "meta": {},
        "source_meta": {},
        "tags": [],
        "config": {
            "enabled": True,
            "event_time": None,
            "freshness": freshness,
            "loaded_at_field": None,
            "loaded_at_query": None,
            "meta": {},
            "tags": [],
        },
        "patch_path": None,
        "unrendered_config": {"loaded_at_field": "_loaded_at"},
        "relation_name": f"{db}.{schema}.{identifier}",
        "created_at": 1767225600.0,
        "unrendered_database": None,
        "unrendered_schema": schema,
        "doc_blocks": [],
    }


def _macro(rng: random.Random, i: int) -> dict[str, Any]:
    body = "\n".join(
        f"  {{% set x{j} = arg{j} | default(none) %}}" for j in range(rng.randint(3, 20))
    )
    return {
        "name": f"m{i}",
        "resource_type": "macro",
        "package_name": "dbt",
        "path": f"macros/m{i}.sql",
        "original_file_path": f"macros/m{i}.sql",
        "unique_id": f"macro.dbt.m{i}",
        "macro_sql": f"{{% macro m{i}(arg0) %}}\n{body}\n{{% endmacro %}}",
        "depends_on": {"macros": []},
        "description": "",
        "meta": {},
        "docs": {"show": True, "node_color": None},
        "patch_path": None,
        "arguments": [],
        "created_at": 1767225600.0,
        "supported_languages": None,
    }


# --- query texts -------------------------------------------------------------------------


class Built(NamedTuple):
    sql: str  # without the Hex comment, no trailing whitespace
    tables: frozenset[tuple[str | None, str | None, str]]  # as written, warehouse-normalised
    rels: tuple[Rel, ...]  # the relations behind them (dbt node or not)
    shape: str


_CTE_WORDS = _words("orders customers base final agg spine daily cohort events payments ranked src")


_KEYWORDS = frozenset(
    _words(
        "select from where and in as on join left inner full outer using case when then "
        "else end over partition by order desc rows between unbounded preceding current row "
        "is distinct"
    )
)


class _Writer:
    """One query's choices: structure from one seed, literal values from another."""

    def __init__(
        self,
        catalog: Sequence[Rel],
        warehouse: str,
        structure_seed: int,
        literal_seed: int,
        context: tuple[str | None, str | None],
        context_tables: Sequence[Rel],
    ) -> None:
        self.rng = random.Random(structure_seed)
        self.lit = random.Random(literal_seed)
        self.bq = warehouse == "bigquery"
        self.catalog = catalog
        self.context = context
        self.context_tables = context_tables
        self.upper = self.rng.random() < 0.3
        self.style = self.rng.choice(("lower", "lower", "upper", "quoted"))
        self.tables: set[tuple[str | None, str | None, str]] = set()
        self.rels: list[Rel] = []
        self.ctes: set[str] = set()
        self.bare: set[str] = set()
        self.n_alias = 0

    def kw(self, words: str) -> str:
        return words.upper() if self.upper else words

    def k(self, template: str, **values: str | int) -> str:
        """Fill `template`, its SQL keywords in this query's keyword case."""
        if self.upper:
            template = " ".join(w.upper() if w in _KEYWORDS else w for w in template.split(" "))
            template = template.replace("avg(", "AVG(").replace("row_number(", "ROW_NUMBER(")
            template = template.replace("lag(", "LAG(").replace("sum(", "SUM(")
            template = template.replace("(select", "(SELECT")
        return template.format(**values)

    def alias(self) -> str:
        self.n_alias += 1
        return f"t{self.n_alias}"

    def pick(self) -> Rel:
        r = self.rng.random()
        if self.context_tables and r < 0.2:
            pool: Sequence[Rel] = self.context_tables
        else:
            pool = self.catalog
        return pool[int(len(pool) * self.rng.random() ** 2)]

    def table(self) -> str:
        """A reference to a real relation, written one of the ways people write them."""
        rel = self.pick()
        self.rels.append(rel)
        ctx_db, ctx_schema = self.context
        form = "full"
        if rel.database == ctx_db and rel.schema == ctx_schema and self.rng.random() < 0.5:
            form = "bare"
        elif rel.database == ctx_db and self.rng.random() < 0.3:
            form = "schema"
        if form == "bare" and rel.name.lower() in self.ctes:
            form = "schema"
        if self.bq:
            return self._bq(rel, form)
        return self._sf(rel, form)

    def _sf(self, rel: Rel, form: str) -> str:
        style = self.style if self.rng.random() < 0.8 else self.rng.choice(("lower", "upper"))

        def part(text: str, quoted: bool = False) -> tuple[str, str]:
            if quoted:
                return f'"{text}"', text
            if style == "quoted":
                return f'"{text.upper()}"', text.upper()
            return (text.upper() if style == "upper" else text.lower()), text.upper()

        name = part(rel.name, rel.quoted)
        parts = [name]
        if form != "bare":
            parts.insert(0, part(rel.schema))
        if form == "full":
            parts.insert(0, part(rel.database))
        if form == "bare":
            self.bare.add(rel.name.lower())
        truth = [p[1] for p in parts]
        while len(truth) < 3:
            truth.insert(0, None)  # type: ignore[arg-type]
        self.tables.add((truth[0], truth[1], truth[2]))
        return ".".join(p[0] for p in parts)

    def _bq(self, rel: Rel, form: str) -> str:
        if form != "full":
            self.tables.add((None, rel.schema, rel.name))
            if self.rng.random() < 0.7:
                return f"{rel.schema}.{rel.name}"
            return f"`{rel.schema}.{rel.name}`"
        self.tables.add((rel.database, rel.schema, rel.name))
        r = self.rng.random()
        if r < 0.6:
            return f"`{rel.database}.{rel.schema}.{rel.name}`"
        if r < 0.85:
            return f"`{rel.database}`.`{rel.schema}`.`{rel.name}`"
        return f"`{rel.database}`.{rel.schema}.{rel.name}"

    def cte_name(self) -> str:
        for _ in range(20):
            name = self.rng.choice(_CTE_WORDS)
            if self.rng.random() < 0.5:
                name += "_" + self.rng.choice(
                    ("base", "agg", "filtered", "joined", str(self.n_alias))
                )
            if name not in self.ctes and name not in self.bare:
                self.ctes.add(name)
                return name
        name = f"step_{len(self.ctes)}"
        self.ctes.add(name)
        return name

    # literals come from `lit`, so a parameter variant differs only here
    def date(self) -> str:
        y, m, d = (
            2023 + self.lit.randrange(3),
            1 + self.lit.randrange(12),
            1 + self.lit.randrange(28),
        )
        return f"'{y}-{m:02d}-{d:02d}'"

    def strings(self) -> str:
        words = (
            "paid",
            "settled",
            "open",
            "closed",
            "won",
            "lost",
            "trial",
            "active",
            "EMEA",
            "NA",
        )
        return ", ".join(f"'{w}'" for w in self.lit.sample(words, 1 + self.lit.randrange(4)))

    def number(self) -> str:
        return str(self.lit.choice((10, 50, 100, 500, 1000, 5000, 10000)) + self.lit.randrange(3))

    def column(self, a: str) -> str:
        return f"{a}.{self.rng.choice(_COLUMN_WORDS)}"

    def expr(self, a: str, i: int) -> str:
        """A select-list item; some are the traps regex extractors fall into."""
        r = self.rng.random()
        c = self.column(a)
        if r < 0.08:
            return f"{self.kw('extract')}(year {self.kw('from')} {a}.created_at) as yr_{i}"
        if r < 0.11:
            other = self.column(a)
            return self.k("{c} is distinct from {o} as changed_{i}", c=c, o=other, i=i)
        if r < 0.2:
            return self.k(
                "case when {c} > {n} then 'big' else 'small' end as band_{i}",
                c=c,
                n=self.number(),
                i=i,
            )
        if r < 0.3:
            fn = "date_trunc(month, {c})" if self.bq else "date_trunc('month', {c})"
            return fn.format(c=f"{a}.created_at") + f" as month_{i}"
        if r < 0.36 and not self.bq:
            return f"{a}.payload:customer.id::string as payload_id_{i}"
        if r < 0.42 and self.bq:
            return f"safe_divide({c}, nullif({self.column(a)}, 0)) as ratio_{i}"
        return f"{c} as c_{i}"

    def agg(self, a: str, i: int) -> str:
        fn = self.rng.choice(("sum", "count", "avg", "max", "min", "count(distinct"))
        if fn == "count(distinct":
            return f"{self.kw('count')}(distinct {self.column(a)}) as n_{i}"
        return f"{self.kw(fn)}({self.column(a)}) as {fn}_{i}"

    def where(self, a: str) -> list[str]:
        lines = [f"{self.kw('where')} {a}.created_at >= {self.date()}"]
        if self.rng.random() < 0.6:
            lines.append(f"  {self.kw('and')} {a}.status {self.kw('in')} ({self.strings()})")
        if self.rng.random() < 0.1:
            lines.append(f"  {self.kw('and')} {a}.note {self.kw('not like')} '%from the web%'")
        if self.rng.random() < 0.2:
            days = (
                f"date_sub(current_date(), interval {self.number()} day)"
                if self.bq
                else f"dateadd(day, -{self.number()}, current_date)"
            )
            lines.append(f"  {self.kw('and')} {a}.updated_at < {days}")
        return lines

    def comment(self) -> list[str]:
        if self.rng.random() < 0.2:
            return [
                self.rng.choice(
                    (
                        "-- numbers from the finance team; join with crm later",
                        "/* pulled from the old dashboard, joined by hand */",
                        "-- TODO: select from the new model once it ships",
                    )
                )
            ]
        return []

    def unnest(self, a: str) -> str:
        if self.bq:
            return f"{self.kw('cross join unnest')}({a}.items) as item"
        return f", {self.kw('lateral flatten')}(input => {a}.payload:items) f"


def _select(w: _Writer, a: str, n: int) -> list[str]:
    items = [w.expr(a, i) for i in range(max(n, 1))]
    return [w.kw("select")] + [f"    {x}," for x in items[:-1]] + [f"    {items[-1]}"]


def _shape_simple(w: _Writer, target: int) -> list[str]:
    a = w.alias()
    lines = w.comment() + _select(w, a, min(target, 30) - 4)
    lines.append(f"{w.kw('from')} {w.table()} {a}")
    if w.rng.random() < 0.1:
        lines.append(w.unnest(a))
    return [*lines, *w.where(a), f"{w.kw('limit')} {w.number()}"]


def _joins(w: _Writer, a: str, count: int) -> list[str]:
    lines: list[str] = []
    for _ in range(count):
        b = w.alias()
        r = w.rng.random()
        if r < 0.1:  # comma join: the second table hides from FROM/JOIN regexes
            lines.append(f"    , {w.table()} {b}")
        elif r < 0.25:
            lines.append(f"{w.kw('left join')} {w.table()} {b} {w.kw('using')} (customer_id)")
        else:
            kind = w.rng.choice(("join", "left join", "inner join", "full outer join"))
            lines.append(
                w.k(
                    kind + " {t} {b} on {b}.id = {a}.{c}",
                    t=w.table(),
                    b=b,
                    a=a,
                    c=w.rng.choice(_COLUMN_WORDS),
                )
            )
    return lines


def _shape_agg_join(w: _Writer, target: int) -> list[str]:
    a = w.alias()
    dims = max(1, min(6, target // 6))
    joins = max(1, min(5, target // 8))
    aggs = max(1, target - dims - joins - 8)
    items = [w.expr(a, i) for i in range(dims)] + [w.agg(a, i) for i in range(aggs)]
    lines = (
        w.comment() + [w.kw("select")] + [f"    {x}," for x in items[:-1]] + [f"    {items[-1]}"]
    )
    lines.append(f"{w.kw('from')} {w.table()} {a}")
    lines += _joins(w, a, joins)
    lines += w.where(a)
    lines.append(f"{w.kw('group by')} " + ", ".join(str(i + 1) for i in range(dims)))
    if w.rng.random() < 0.3:
        lines.append(f"{w.kw('having')} {w.kw('count')}(*) > {w.number()}")
    lines.append(f"{w.kw('order by')} {dims + 1} {w.kw('desc')}")
    return lines


def _shape_cte(w: _Writer, target: int) -> list[str]:
    count = max(2, min(18, target // 9))
    per = max(2, (target - 6) // count - 4)
    lines = [w.kw("with")]
    names: list[str] = []
    for i in range(count):
        name = w.cte_name()
        a = w.alias()
        body = _select(w, a, per)
        if names and w.rng.random() < 0.5:
            src = w.rng.choice(names)  # a CTE, not a table
            body.append(f"{w.kw('from')} {src} {a}")
            if w.rng.random() < 0.6:
                b = w.alias()
                body.append(f"{w.kw('join')} {w.table()} {b} {w.kw('on')} {b}.id = {a}.id")
        elif w.rng.random() < 0.04:
            body.append(
                f"    {w.kw('from')} "
                + (
                    "unnest(generate_date_array('2024-01-01', current_date())) as d"
                    if w.bq
                    else f"{w.kw('table')}(generator(rowcount => {w.number()})) {a}"
                )
            )
        else:
            body.append(f"{w.kw('from')} {w.table()} {a}")
            body += w.where(a)
        body = ["    " + x for x in body]
        comma = "," if i < count - 1 else ""
        lines += [f"{name} {w.kw('as')} (", *body, f"){comma}"]
        names.append(name)
    last = names[-1]
    a = w.alias()
    lines += _select(w, a, 3)
    lines.append(f"{w.kw('from')} {last} {a}")
    if len(names) > 2 and w.rng.random() < 0.7:
        b = w.alias()
        lines.append(f"{w.kw('left join')} {names[0]} {b} {w.kw('on')} {b}.id = {a}.id")
    if w.rng.random() < 0.3:
        b = w.alias()
        lines.append(f"{w.kw('join')} {w.table()} {b} {w.kw('on')} {b}.id = {a}.id")
    return w.comment() + lines


def _shape_subquery(w: _Writer, target: int) -> list[str]:
    a, s, e = w.alias(), w.alias(), w.alias()
    lines = w.comment() + _select(w, s, max(2, target - 14))
    lines += [f"{w.kw('from')} ("] + ["    " + x for x in _select(w, a, 3)]
    lines.append(f"    {w.kw('from')} {w.table()} {a}")
    lines.append(
        w.k(
            "    where {a}.customer_id in (select id from {t} where created_at > {d})",
            a=a,
            t=w.table(),
            d=w.date(),
        )
    )
    lines.append(f") {s}")
    lines.append(f"{w.kw('where')} {w.kw('exists')} (")
    lines.append(
        f"    {w.kw('select')} 1 {w.kw('from')} {w.table()} {e} {w.kw('where')} {e}.id = {s}.c_0"
    )
    lines.append(")")
    if w.rng.random() < 0.5:
        lines.append(w.k("  and {s}.c_0 > (select avg(amount) from {t})", s=s, t=w.table()))
    return lines


def _shape_union(w: _Writer, target: int) -> list[str]:
    arms = max(2, min(8, target // 7))
    cols = max(1, target // arms - 3)
    lines: list[str] = []
    for i in range(arms):
        a = w.alias()
        if i:
            union = "union distinct" if w.bq else "union"
            lines.append(w.kw(w.rng.choice(("union all", "union all", union))))
        lines += _select(w, a, cols)
        lines.append(f"{w.kw('from')} {w.table()} {a}")
        lines.append(f"{w.kw('where')} {a}.created_at >= {w.date()}")
    if w.rng.random() < 0.5:
        u = w.alias()
        lines = (
            [f"{w.kw('select')} {w.kw('count')}(*) {w.kw('as')} n", f"{w.kw('from')} ("]
            + ["    " + x for x in lines]
            + [f") {u}"]
        )
    return w.comment() + lines


def _shape_window(w: _Writer, target: int) -> list[str]:
    a = w.alias()
    items = [w.expr(a, i) for i in range(max(1, target - 9))]
    items += [
        w.k(
            "row_number() over (partition by {a}.customer_id order by {a}.created_at desc) as rn",
            a=a,
        ),
        w.k(
            "lag({a}.amount) over (partition by {a}.customer_id order by {a}.created_at) as prev",
            a=a,
        ),
        w.k(
            "sum({a}.amount) over (order by {a}.created_at"
            " rows between unbounded preceding and current row) as running",
            a=a,
        ),
    ]
    lines = (
        w.comment() + [w.kw("select")] + [f"    {x}," for x in items[:-1]] + [f"    {items[-1]}"]
    )
    lines.append(f"{w.kw('from')} {w.table()} {a}")
    lines += _joins(w, a, w.rng.randint(0, 2))
    lines += w.where(a)
    lines.append(f"{w.kw('qualify')} rn = 1")
    return lines


def _shape_modern(w: _Writer, target: int) -> list[str]:
    """Newer syntax analysts use: PIVOT, temp-table scripts, star modifiers, GROUP BY ALL,
    BigQuery wildcard tables, Snowflake LATERAL subqueries."""
    a, b = w.alias(), w.alias()
    kind = w.rng.choice(("pivot", "script", "star", "group_all", "wildcard", "lateral"))
    if kind == "pivot":
        inner = [w.k("select {a}.region, {a}.status, {a}.amount", a=a), f"from {w.table()} {a}"]
        return [
            w.kw("select") + " *",
            w.kw("from") + " (",
            *["    " + x for x in inner + w.where(a)],
            w.k(") pivot (sum(amount) for status in ({s})) as p", s=w.strings()),
        ]
    if kind == "script":
        temp = "tmp_" + w.cte_name()
        create = "create temp table" if w.bq else "create temporary table"
        where = w.where(a)
        return [
            w.kw(create) + f" {temp} " + w.kw("as"),
            *_select(w, a, max(2, target // 2 - 4)),
            f"{w.kw('from')} {w.table()} {a}",
            *where[:-1],
            where[-1] + ";",
            w.k("select {a}.*, {b}.amount", a=a, b=b),
            f"{w.kw('from')} {temp} {a}",
            w.k("join {t} {b} on {b}.id = {a}.c_0", t=w.table(), a=a, b=b),
        ]
    if kind == "star":
        star = "* except (status)" if w.bq else "* exclude (status)"
        lines = [f"{w.kw('select')} {star}", f"{w.kw('from')} {w.table()} {a}", *w.where(a)]
        return [*lines, f"{w.kw('order by')} 1", f"{w.kw('limit')} {w.number()}"]
    if kind == "wildcard" and w.bq:
        rel = Rel("acme-raw", "ga4_export", "events_*", False, None, "other")
        w.rels.append(rel)
        w.tables.add((rel.database, rel.schema, rel.name))
        return [
            "select event_name, count(*) as n",
            "from `acme-raw.ga4_export.events_*`",
            f"where _table_suffix between {w.date()} and {w.date()}",
            "group by 1",
            "order by n desc",
        ]
    if kind == "lateral" and not w.bq:
        return [
            w.k("select {a}.id, l.n", a=a),
            f"{w.kw('from')} {w.table()} {a},",
            w.k(
                "lateral (select count(*) as n from {t} {b} where {b}.customer_id = {a}.id) l",
                t=w.table(),
                a=a,
                b=b,
            ),
            *w.where(a),
            f"{w.kw('order by')} l.n {w.kw('desc')}",
        ]
    items = [w.expr(a, i) for i in range(max(1, min(target, 20) - 6))] + [w.agg(a, 0)]
    lines = [w.kw("select"), *[f"    {x}," for x in items[:-1]], f"    {items[-1]}"]
    lines += [f"{w.kw('from')} {w.table()} {a}", *_joins(w, a, 1), *w.where(a)]
    group = (
        "group by all"
        if not w.bq
        else "group by " + ", ".join(str(i + 1) for i in range(len(items) - 1))
    )
    return [*lines, w.kw(group)]


_SHAPES = {
    "simple": (_shape_simple, 15),
    "agg_join": (_shape_agg_join, 25),
    "cte": (_shape_cte, 30),
    "subquery": (_shape_subquery, 10),
    "union": (_shape_union, 10),
    "window": (_shape_window, 10),
    "modern": (_shape_modern, 8),
}


def build_query(
    catalog: Sequence[Rel],
    *,
    warehouse: str,
    structure_seed: int,
    literal_seed: int,
    context: tuple[str | None, str | None],
    context_tables: Sequence[Rel] = (),
) -> Built:
    """One analytic query; the same structure seed gives the same query up to literals."""
    pick = random.Random(structure_seed)
    names = list(_SHAPES)
    shape = pick.choices(names, weights=[_SHAPES[n][1] for n in names])[0]
    target = min(200, max(5, int(pick.lognormvariate(math.log(20), 0.75))))
    while True:  # shapes add fixed lines around the target: shrink until within 200
        w = _Writer(catalog, warehouse, structure_seed, literal_seed, context, context_tables)
        lines = _SHAPES[shape][0](w, target)
        if len(lines) <= 200 or target <= 5:
            break
        target -= len(lines) - 200 + 5
    return Built("\n".join(lines).rstrip(), frozenset(w.tables), tuple(w.rels), shape)


def pathological_query(rel: Rel, *, warehouse: str, kind: int, seed: int) -> Built:
    """Texts that must not stall a run: a 1 MB IN-list, a 100K-char text cut off mid-query
    (as Snowflake truncates QUERY_TEXT), and an expression nested 3,000 deep."""
    rng = random.Random(f"patho:{seed}")
    w = _Writer([rel], warehouse, seed, seed, (None, None), ())
    table = w.table()
    if kind == 0:
        ids = ", ".join(str(rng.randrange(10**9)) for _ in range(105_000))
        sql, shape = f"select *\nfrom {table}\nwhere id in ({ids})", "patho_in_list"
    elif kind == 1:
        arms = [f"select {i} as n, amount from {table} where id = {i}" for i in range(3000)]
        sql, shape = "\nunion all\n".join(arms)[:100_000].rstrip(), "patho_truncated"
    else:
        sql = "select " + "(" * 3000 + "1" + ")" * 3000 + f" as x\nfrom {table}"
        shape = "patho_nested"
    return Built(sql, frozenset(w.tables), (), shape)


# --- the snapshot ------------------------------------------------------------------------


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


_TITLE_A = _words("Weekly Monthly Daily Quarterly Exec Team Regional Global Live Ad-hoc")
_TITLE_B = _words(
    "Revenue Churn Pipeline Funnel Retention Cohorts Margin Forecast Inventory Support "
    "Tickets Signups Activation Bookings Payments Refunds Campaigns NPS"
)
_TITLE_C = (
    "",
    " Dashboard",
    " Analysis",
    " — EMEA",
    " (old)",
    " v2",
    " {{ draft }}",
    ": yes/no",
    " 🚀",
    ' "final"',
    " #123",
)
_STATUSES = ("Production", "In development", "Exploratory", "Deprecated", None)
_CATEGORIES = ("Finance", "Marketing", "Product", "Sales", "Ops", "Scratchpad", "Exec KPIs")


def _project(rng: random.Random, i: int) -> dict[str, Any]:
    pid = str(_uuid(rng))
    title = rng.choice(_TITLE_A) + " " + rng.choice(_TITLE_B) + rng.choice(_TITLE_C)
    owner = f"user{rng.randint(1, 400)}@acme.com"
    published = rng.random() < 0.45
    gone = rng.random()
    day = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00.000Z"
    status = rng.choice(_STATUSES)
    return {
        "id": pid,
        "title": title,
        "description": rng.choice((None, "", f"{title}: owned by the analytics team.")),
        "type": "COMPONENT" if rng.random() < 0.03 else "PROJECT",
        "creator": {"email": owner},
        "owner": {"email": owner if rng.random() < 0.8 else f"user{rng.randint(1, 400)}@acme.com"},
        "status": {"name": status} if status else None,
        "categories": [
            {"name": c, "description": None} for c in rng.sample(_CATEGORIES, rng.randint(0, 2))
        ],
        "reviews": {"required": False},
        "analytics": {
            "appViews": {
                "allTime": 40,
                "lastSevenDays": 3,
                "lastFourteenDays": 6,
                "lastThirtyDays": 12,
            },
            "lastViewedAt": day,
            "publishedResultsUpdatedAt": day if published else None,
        },
        "lastEditedAt": day,
        "lastPublishedAt": day if published else None,
        "createdAt": day,
        "archivedAt": day if 0.02 < gone < 0.04 else None,
        "trashedAt": day if gone < 0.02 else None,
        "schedules": [],
    }


def _comment(
    rng: random.Random, project: dict[str, Any], context: str, connection: str, broken: bool
) -> str:
    pid = project["id"]
    meta = {
        "categories": [c["name"] for c in project["categories"]],
        "cell_type": "SQL",
        "connection": connection,
        "context": context,
        "project_id": pid,
        "project_name": project["title"],
        "project_url": f"https://app.hex.tech/acme/hex/{pid}/draft/logic?selectedCellId={_uuid(rng)}",
        "status": (project["status"] or {}).get("name", ""),
        "trace_id": f"{rng.getrandbits(128):032x}",
        "user_email": project["owner"]["email"],
    }
    text = json.dumps(meta, sort_keys=True, ensure_ascii=False)
    if broken:
        text = text[: len(text) // 2]  # cut mid-JSON: not the last line's comment, not fetched
    return "-- Hex query metadata: " + text


def _run_counts(rng: random.Random, records: int, rows: int) -> list[int]:
    """Heavy-tailed run counts (hourly schedules next to one-off runs) summing to `rows`."""
    if records == 0:
        return []
    weights = [rng.paretovariate(1.2) for _ in range(records)]
    total = sum(weights)
    counts = [max(1, int(w * rows / total)) for w in weights]
    diff = rows - sum(counts)
    order = sorted(range(records), key=lambda k: -weights[k])
    k = 0
    while diff != 0 and records:
        j = order[k % records]
        if diff > 0:
            counts[j] += 1
            diff -= 1
        elif counts[j] > 1:
            counts[j] -= 1
            diff += 1
        k += 1
        if k > 4 * records + abs(diff) * 2:
            break
    return counts


def build_snapshot(
    catalog: Sequence[Rel],
    *,
    projects: int,
    rows: int,
    texts: int,
    warehouse: str,
    pathological: int = 0,
    seed: int = SEED,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The snapshot document and its ground truth."""
    rng = random.Random(f"snapshot:{seed}:{warehouse}")
    plist = [_project(rng, i) for i in range(projects)]
    live = [p for p in plist if p["type"] == "PROJECT"]
    bq = warehouse == "bigquery"
    # Each project has a connection whose defaults complete partial names.
    default_db = "acme-analytics-prod" if bq else "analytics"
    by_schema: dict[str, list[Rel]] = {}
    for rel in catalog:
        if rel.database == default_db:
            by_schema.setdefault(rel.schema, []).append(rel)
    schemas = sorted(by_schema)
    # Distinct texts: bases, and parameter variants of earlier bases.
    sqls: list[str] = []
    seen: set[str] = set()
    truth_texts: dict[str, Any] = {}
    text_ctx: list[tuple[str | None, str | None]] = []
    text_rels: list[list[Rel]] = []
    base_specs: list[tuple[int, str | None, str | None]] = []
    attempts = 0
    while len(sqls) < texts and attempts < texts * 3:
        attempts += 1
        if base_specs and rng.random() < 0.4:
            structure, ctx_db, ctx_schema = rng.choice(base_specs)
        else:
            structure = rng.getrandbits(48)
            ctx_db = default_db if bq or rng.random() < 0.95 else None
            ctx_schema = None if bq or not ctx_db or rng.random() < 0.3 else rng.choice(schemas)
            base_specs.append((structure, ctx_db, ctx_schema))
        built = build_query(
            catalog,
            warehouse=warehouse,
            structure_seed=structure,
            literal_seed=rng.getrandbits(48),
            context=(ctx_db, ctx_schema),
            context_tables=by_schema.get(ctx_schema or "", ()),
        )
        if built.sql in seen:
            continue
        seen.add(built.sql)
        sqls.append(built.sql)
        text_ctx.append((ctx_db, ctx_schema))
        text_rels.append(list(built.rels))
        truth_texts[text_key(built.sql)] = {
            "tables": sorted([list(t) for t in built.tables], key=lambda t: [p or "" for p in t]),
            "lines": built.sql.count("\n") + 1,
            "shape": built.shape,
            "variant": False,
        }
    for p_i in range(pathological):
        rel = catalog[p_i % len(catalog)]
        built = pathological_query(rel, warehouse=warehouse, kind=p_i % 3, seed=seed + p_i)
        sqls.append(built.sql)
        text_ctx.append((default_db, None))
        text_rels.append(list(built.rels))
        truth_texts[text_key(built.sql)] = {
            "tables": [list(t) for t in built.tables],
            "lines": built.sql.count("\n") + 1,
            "shape": built.shape,
            "variant": False,
        }
    # Who runs what: most texts belong to one project; a few popular ones to many.
    owners = [rng.randrange(len(live)) for _ in sqls] if live else []
    assignments: list[tuple[int, int]] = []  # (text index, project index)
    for t_i, p_i in enumerate(owners):
        assignments.append((t_i, p_i))
        if rng.random() < 0.02:
            for _ in range(rng.randint(1, 20)):
                assignments.append((t_i, rng.randrange(len(live))))
    records: list[dict[str, Any]] = []
    expected: dict[str, set[str]] = {}
    for t_i, p_i in sorted(set(assignments)):
        project = live[p_i]
        k = 1 + (rng.random() < 0.55) + (rng.random() < 0.2)
        for context in rng.sample(CONTEXTS, k):
            broken = rng.random() < 0.005
            ctx_db, ctx_schema = text_ctx[t_i]
            comment = _comment(rng, project, context, "Snowflake prod" if not bq else "BQ", broken)
            records.append(
                {
                    "project_id": project["id"],
                    "query_text": sqls[t_i] + "\n" + comment,
                    "database": _reported(ctx_db, bq),
                    "schema": _reported(ctx_schema, bq),
                    "run_count": 1,
                    "last_seen": f"2026-01-{1 + rng.randrange(14):02d}T08:00:00Z",
                    "tables": [],
                }
            )
            if not broken:
                deps = expected.setdefault(project["id"], set())
                deps.update(r.unique_id for r in text_rels[t_i] if r.unique_id)
    # Queries of a project Hex no longer returns.
    ghost: dict[str, Any] = {"id": str(_uuid(rng)), "title": "ghost", "categories": []}
    ghost.update(status=None, owner={"email": "gone@acme.com"})
    if sqls:
        records.append(
            {
                "project_id": ghost["id"],
                "query_text": sqls[0] + "\n" + _comment(rng, ghost, "APP_VIEW", "x", False),
                "database": _reported(text_ctx[0][0], bq),
                "schema": _reported(text_ctx[0][1], bq),
                "run_count": 1,
                "last_seen": "2026-01-02T08:00:00Z",
                "tables": [],
            }
        )
    for rec, runs in zip(records, _run_counts(rng, len(records), rows), strict=True):
        rec["run_count"] = runs
    records.sort(key=lambda r: (r["project_id"], r["query_text"]))
    by_id = {p["id"]: p for p in plist}
    truth = {
        "warehouse": warehouse,
        "texts": truth_texts,
        "projects": {
            pid: sorted(deps)
            for pid, deps in sorted(expected.items())
            if not (by_id[pid]["trashedAt"] or by_id[pid]["archivedAt"])
        },
        "counts": {
            "projects": len(plist),
            "records": len(records),
            "rows": sum(r["run_count"] for r in records),
            "distinct_texts": len(sqls),
            "pathological": pathological,
        },
    }
    snapshot = {
        "format": "hex-exposures-snapshot",
        "version": 1,
        "captured_at": "2026-01-15T00:00:00Z",
        "hex_url": "https://app.hex.tech",
        "workspace": "acme",
        "warehouse": warehouse,
        "projects": plist,
        "queries": records,
    }
    return snapshot, truth


def _reported(name: str | None, bq: bool) -> str | None:
    """A session's database/schema as history reports it: Snowflake gives stored (upper) case."""
    return name if bq or name is None else name.upper()


def text_key(sql: str) -> str:
    """How truth.json names a text: the hash of the SQL without the Hex comment."""
    return hashlib.sha256(sql.rstrip().encode("utf-8")).hexdigest()[:24]


# --- files -------------------------------------------------------------------------------


def write(corpus: Corpus, out: str) -> None:
    """A dbt project folder a real `hex-exposures sync --from-snapshot` can run on."""
    os.makedirs(os.path.join(out, "target"), exist_ok=True)
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    with open(os.path.join(out, "dbt_project.yml"), "w", encoding="utf-8") as f:
        f.write(
            "name: acme_analytics\nversion: '1.0.0'\nconfig-version: 2\nprofile: acme\n"
            "model-paths: [models]\ntarget-path: target\n"
        )
    for name, doc in (
        ("target/manifest.json", corpus.manifest),
        ("hex_snapshot.json", corpus.snapshot),
        ("truth.json", corpus.truth),
    ):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--sources", type=int, default=5_000)
    ap.add_argument("--projects", type=int, default=20_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--texts", type=int, default=100_000)
    ap.add_argument("--pathological", type=int, default=6)
    ap.add_argument("--warehouse", choices=("snowflake", "bigquery"), default="snowflake")
    ap.add_argument("--seed", type=int, default=SEED)
    a = ap.parse_args(argv)
    corpus = generate(
        models=a.models,
        sources=a.sources,
        projects=a.projects,
        rows=a.rows,
        texts=a.texts,
        warehouse=a.warehouse,
        pathological=a.pathological,
        seed=a.seed,
    )
    write(corpus, a.out)
    print(json.dumps(corpus.truth["counts"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
