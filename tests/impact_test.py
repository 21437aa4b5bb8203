"""impact: modified nodes, the exposures downstream of them, breaking columns. Plain dicts."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hex_exposures.cli import main
from hex_exposures.impact import (
    BreakingColumn,
    impact,
    managed_marker,
    modified_nodes,
    parse_call,
    resolve_call,
)
from hex_exposures.records import HexProject
from tests import manifest_factory as mf
from tests.dbt_helpers import dbt_parse
from tests.servers.hex_server import TOKEN, serve

PID_A = "0e50c729-fd95-48e8-829b-d06d60a28ebd"
PID_B = "9f9c96e0-c53a-4786-981e-9ff5de63544f"


def node(item: mf.Node, *, checksum: str = "c1", columns: dict[str, str | None] | None = None):
    uid, data = item
    data = {**data, "checksum": {"name": "sha256", "checksum": checksum}}
    data["original_file_path"] = f"models/{data['name']}.sql"
    data["columns"] = {c: {"name": c, "data_type": t} for c, t in (columns or {}).items()}
    return uid, data


def exposure(
    name: str,
    parents: list[str],
    *,
    pid: str = PID_A,
    layout: str = "config",
    referenced: list[dict[str, str]] | None = None,
    managed: bool = True,
) -> tuple[str, dict[str, Any]]:
    meta: dict[str, Any] = {"hex_exposures": {"managed": managed, "project_id": pid}}
    meta["hex"] = {"status": "Production"}
    if referenced is not None:
        meta["referenced_columns"] = referenced
    uid = f"exposure.proj.{name}"
    item: dict[str, Any] = {
        "unique_id": uid,
        "name": name,
        "label": name.title(),
        "url": f"https://app.hex.tech/acme/hex/{pid}",
        "owner": {"name": "Jane", "email": "jane@acme.com"},
        "depends_on": {"nodes": parents},
        "meta": {},
        "config": {"meta": {}},
    }
    if layout == "config":
        item["config"]["meta"] = meta
    else:
        item["meta"] = meta
    return uid, item


def build(*nodes: mf.Node, exposures: list[tuple[str, dict[str, Any]]] = ()) -> dict[str, Any]:
    m = mf.manifest(*nodes, exposures=dict(exposures))
    children: dict[str, list[str]] = {uid: [] for uid in {**m["nodes"], **m["sources"]}}
    for section in ("nodes", "exposures"):
        for uid, item in m[section].items():
            for parent in (item.get("depends_on") or {}).get("nodes") or []:
                children.setdefault(parent, []).append(uid)
    m["child_map"] = children
    return m


def with_parents(item: mf.Node, *parents: str) -> mf.Node:
    uid, data = item
    return uid, {**data, "depends_on": {"nodes": list(parents)}}


STG = node(mf.model("stg_orders", schema="staging"), columns={"order_id": "int"})
FCT = with_parents(
    node(mf.model("fct_orders"), columns={"order_id": "int", "amount": "numeric"}),
    "model.proj.stg_orders",
)
SRC = mf.source("stripe", "charges")
SRC = (SRC[0], {**SRC[1], "columns": {"id": {"name": "id", "data_type": None}}})


def state_and_current() -> tuple[dict[str, Any], dict[str, Any]]:
    exp = exposure("hex_weekly", ["model.proj.fct_orders"])
    state = build(STG, FCT, SRC, exposures=[exp])
    return state, copy.deepcopy(state)


# --- modified nodes ----------------------------------------------------------------------


def test_unchanged_manifests_modify_nothing() -> None:
    state, current = state_and_current()
    assert modified_nodes(state, current) == ()
    assert impact(state, current).exposures == ()


def test_checksum_change_is_modified_and_reaches_the_exposure_through_the_graph() -> None:
    state, current = state_and_current()
    current["nodes"]["model.proj.stg_orders"]["checksum"]["checksum"] = "c2"
    changes = modified_nodes(state, current)
    assert [(c.unique_id, c.change, c.reasons) for c in changes] == [
        ("model.proj.stg_orders", "modified", ("checksum",))
    ]
    result = impact(state, current)
    assert [(e.name, e.upstream_modified) for e in result.exposures] == [
        ("hex_weekly", ("model.proj.stg_orders",))
    ]
    assert result.exposures[0].breaking_columns == ()


def test_documented_columns_added_removed_and_retyped() -> None:
    state, current = state_and_current()
    cols = current["nodes"]["model.proj.fct_orders"]["columns"]
    del cols["order_id"]
    cols["amount"]["data_type"] = "NUMERIC(18, 2)"
    cols["region"] = {"name": "region", "data_type": None}
    (change,) = modified_nodes(state, current)
    assert change.reasons == (
        "column removed: order_id",
        "column added: region",
        "column retyped: amount NUMERIC -> NUMERIC(18, 2)",
    )


def test_a_data_type_documented_for_the_first_time_is_not_a_retype() -> None:
    state, current = state_and_current()
    state["sources"]["source.proj.stripe.charges"]["columns"]["id"]["data_type"] = None
    current["sources"]["source.proj.stripe.charges"]["columns"]["id"]["data_type"] = "varchar"
    current["nodes"]["model.proj.fct_orders"]["columns"]["amount"]["data_type"] = " numeric "
    assert modified_nodes(state, current) == ()


def test_removed_node_is_followed_in_the_state_graph() -> None:
    state, current = state_and_current()
    del current["nodes"]["model.proj.stg_orders"]
    # dbt drops the edge of a child whose parent is gone; the current graph cannot tell.
    current["child_map"].pop("model.proj.stg_orders")
    current["nodes"]["model.proj.fct_orders"]["depends_on"]["nodes"] = []
    result = impact(state, current)
    assert [(c.unique_id, c.change) for c in result.modified] == [
        ("model.proj.stg_orders", "removed")
    ]
    assert [e.name for e in result.exposures] == ["hex_weekly"]


def test_rename_by_relation_and_by_file() -> None:
    state, current = state_and_current()
    old = current["nodes"].pop("model.proj.fct_orders")
    current["nodes"]["model.proj.orders"] = {
        **old,
        "unique_id": "model.proj.orders",
        "name": "orders",
    }
    changes = modified_nodes(state, current)
    assert [(c.unique_id, c.change, c.renamed_to) for c in changes] == [
        ("model.proj.fct_orders", "renamed", "model.proj.orders")
    ]
    # Same file, other relation (alias changed with the name): still a rename.
    current["nodes"]["model.proj.orders"]["alias"] = "orders"
    (change,) = modified_nodes(state, current)
    assert change.renamed_to == "model.proj.orders"
    # Neither the relation nor the file: a removal (and an addition, which is not reported).
    current["nodes"]["model.proj.orders"]["original_file_path"] = "models/orders.sql"
    (change,) = modified_nodes(state, current)
    assert (change.change, change.renamed_to) == ("removed", None)


def test_sources_count_for_columns_and_removal_only() -> None:
    state, current = state_and_current()
    current["sources"]["source.proj.stripe.charges"]["columns"]["id"]["data_type"] = "x"
    state["sources"]["source.proj.stripe.charges"]["columns"]["id"]["data_type"] = "y"
    (change,) = modified_nodes(state, current)
    assert change.reasons == ("column retyped: id Y -> X",)


def test_tests_and_unrelated_nodes_are_not_relations() -> None:
    state, current = state_and_current()
    state["nodes"]["test.proj.t"] = {"resource_type": "test", "checksum": {"checksum": "a"}}
    assert modified_nodes(state, current) == ()


# --- exposures ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["config", "top"])
def test_managed_marker_in_config_meta_or_top_level_meta(layout: str) -> None:
    _uid, item = exposure("x", [], layout=layout)
    assert managed_marker(item) == {"managed": True, "project_id": PID_A}
    _uid, item = exposure("x", [], layout=layout, managed=False)
    assert managed_marker(item) is None


def test_unmanaged_exposures_are_not_listed() -> None:
    theirs = exposure("their_dash", ["model.proj.fct_orders"], managed=False)
    state = build(STG, FCT, exposures=[theirs])
    current = copy.deepcopy(state)
    current["nodes"]["model.proj.fct_orders"]["checksum"]["checksum"] = "c2"
    result = impact(state, current)
    assert [c.unique_id for c in result.modified] == ["model.proj.fct_orders"]
    assert result.exposures == ()


def project(pid: str, views: object, *, title: str = "Title", status: str = "Production"):
    raw: dict[str, Any] = {"id": pid, "title": title, "status": {"name": status}}
    if views is not None:
        raw["analytics"] = {"appViews": {"lastThirtyDays": views}}
    return HexProject.from_api(raw)


def test_views_sort_most_viewed_first_and_unknown_last() -> None:
    pid_c = "4039787e-c2f8-40cc-87e0-86cb9a63b575"
    exps = [
        exposure("a_low", ["model.proj.fct_orders"], pid=PID_A),
        exposure("b_high", ["model.proj.fct_orders"], pid=PID_B, layout="top"),
        exposure("c_unknown", ["model.proj.stg_orders"], pid=pid_c),
    ]
    state = build(STG, FCT, exposures=exps)
    current = copy.deepcopy(state)
    current["nodes"]["model.proj.stg_orders"]["checksum"]["checksum"] = "c2"
    projects = {
        PID_A: project(PID_A, 3, title="Low"),
        PID_B: project(PID_B, 90, title="High", status="Approved"),
        pid_c: project(pid_c, "many"),  # not a number: unknown, never a guess
    }
    result = impact(state, current, projects=projects)
    assert [(e.name, e.label, e.app_views_30d, e.status) for e in result.exposures] == [
        ("b_high", "High", 90, "Approved"),
        ("a_low", "Low", 3, "Production"),
        ("c_unknown", "Title", None, "Production"),
    ]
    assert result.hex_side is True
    no_hex = impact(state, current)
    assert no_hex.hex_side is False
    assert [e.app_views_30d for e in no_hex.exposures] == [None, None, None]
    assert [e.name for e in no_hex.exposures] == ["a_low", "b_high", "c_unknown"]
    assert no_hex.exposures[0].status == "Production"  # from the exposure's own meta


def test_exposure_only_in_the_file_is_found_through_its_depends_on() -> None:
    """dbt parsed the project without the exposures file (it named a removed model)."""
    state, current = state_and_current()
    current["exposures"] = {}
    current["child_map"]["model.proj.fct_orders"] = []
    current["nodes"]["model.proj.stg_orders"]["checksum"]["checksum"] = "c2"
    item = {
        "name": "hex_weekly",
        "label": "{% raw %}Weekly {{ x }}{% endraw %}",
        "url": "u",
        "depends_on": ["ref('fct_orders')"],
        "config": {"meta": {"hex_exposures": {"managed": True, "project_id": PID_A}}},
    }
    unmanaged = {"name": "theirs", "depends_on": ["ref('fct_orders')"]}
    result = impact(state, current, file_items=[item, unmanaged])
    (e,) = result.exposures
    assert (e.name, e.label, e.found_in, e.unique_id) == (
        "hex_weekly",
        "Weekly {{ x }}",
        "exposures file",
        "exposure.proj.hex_weekly",
    )
    assert e.upstream_modified == ("model.proj.stg_orders",)


def test_state_exposures_are_a_fallback_only_without_a_file() -> None:
    state, current = state_and_current()
    current["exposures"] = {}
    del current["nodes"]["model.proj.fct_orders"]
    assert [e.found_in for e in impact(state, current).exposures] == ["state manifest"]
    assert impact(state, current, file_items=[]).exposures == ()


# --- breaking columns --------------------------------------------------------------------


def referencing(*refs: tuple[str, str, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    cols = [{"column_name": c, "node": n, **({"data_type": t} if t else {})} for c, n, t in refs]
    exp = exposure(
        "hex_weekly", ["model.proj.fct_orders", "model.proj.stg_orders"], referenced=cols
    )
    state = build(STG, FCT, SRC, exposures=[exp])
    return state, copy.deepcopy(state)


def test_removed_and_retyped_documented_columns_break() -> None:
    state, current = referencing(
        ("order_id", "ref('fct_orders')", None),
        ("AMOUNT", "ref('fct_orders')", None),
        ("order_id", "ref('stg_orders')", None),
    )
    cols = current["nodes"]["model.proj.fct_orders"]["columns"]
    del cols["order_id"]
    cols["amount"]["data_type"] = "float"
    (e,) = impact(state, current).exposures
    assert e.breaking_columns == (
        BreakingColumn(
            "model.proj.fct_orders", "ref('fct_orders')", "AMOUNT", "retyped", "NUMERIC", "FLOAT"
        ),
        BreakingColumn("model.proj.fct_orders", "ref('fct_orders')", "order_id", "removed", "INT"),
    )


def test_columns_of_unmodified_nodes_never_break() -> None:
    state, current = referencing(("order_id", "ref('stg_orders')", None))
    del current["nodes"]["model.proj.stg_orders"]["columns"]["order_id"]
    state["nodes"]["model.proj.stg_orders"]["columns"] = {}  # documented on neither side
    assert impact(state, current).exposures == ()


def test_removed_and_renamed_nodes_break_every_column_read_from_them() -> None:
    state, current = referencing(
        ("order_id", "ref('fct_orders')", None), ("order_id", "ref('stg_orders')", None)
    )
    del current["nodes"]["model.proj.stg_orders"]
    old = current["nodes"].pop("model.proj.fct_orders")
    current["nodes"]["model.proj.orders"] = {
        **old,
        "unique_id": "model.proj.orders",
        "name": "orders",
    }
    (e,) = impact(state, current).exposures
    assert [(b.node, b.change, b.now) for b in e.breaking_columns] == [
        ("model.proj.fct_orders", "node renamed", "model.proj.orders"),
        ("model.proj.stg_orders", "node removed", None),
    ]


def catalog(columns: dict[str, str]) -> dict[str, Any]:
    return {
        "nodes": {
            "model.proj.fct_orders": {
                "columns": {c.upper(): {"name": c.upper(), "type": t} for c, t in columns.items()}
            }
        },
        "sources": {},
    }


def test_catalog_types_compare_with_catalog_types_and_the_referenced_type() -> None:
    state, current = referencing(
        ("order_id", "ref('fct_orders')", None),
        ("amount", "ref('fct_orders')", "NUMBER(38,2)"),
        ("gone", "ref('fct_orders')", None),
    )
    current["nodes"]["model.proj.fct_orders"]["checksum"]["checksum"] = "c2"
    old = catalog({"order_id": "NUMBER", "amount": "NUMBER(38,2)", "gone": "TEXT"})
    new = catalog({"order_id": "NUMBER", "amount": "FLOAT"})
    (e,) = impact(state, current, state_catalog=old, current_catalog=new).exposures
    assert [(b.column, b.change, b.was, b.now) for b in e.breaking_columns] == [
        ("amount", "retyped", "NUMBER(38,2)", "FLOAT"),
        ("gone", "removed", "TEXT", None),
    ]
    # Documented `int` against the warehouse's `NUMBER` is not a change: like with like only.
    (e,) = impact(
        state,
        current,
        current_catalog=catalog({"order_id": "NUMBER", "amount": "NUMBER(38,2)", "gone": "TEXT"}),
    ).exposures
    assert e.breaking_columns == ()


def test_a_normalised_data_type_as_sync_writes_it_is_compared_as_a_class() -> None:
    # sync writes Elementary's normalised data_type (numeric, string, ...), never a raw type.
    state, current = referencing(
        ("order_id", "ref('fct_orders')", "numeric"),
        ("amount", "ref('fct_orders')", "numeric"),
    )
    current["nodes"]["model.proj.fct_orders"]["checksum"]["checksum"] = "c2"
    same = catalog({"order_id": "NUMBER(38,0)", "amount": "NUMBER(38,2)"})
    (e,) = impact(state, current, state_catalog=same, current_catalog=same).exposures
    assert e.breaking_columns == ()
    (e,) = impact(state, current, current_catalog=same).exposures
    assert e.breaking_columns == ()
    retyped = catalog({"order_id": "NUMBER(38,0)", "amount": "VARCHAR"})
    (e,) = impact(state, current, state_catalog=same, current_catalog=retyped).exposures
    assert [(b.column, b.change) for b in e.breaking_columns] == [("amount", "retyped")]
    (e,) = impact(state, current, current_catalog=retyped).exposures
    assert [(b.column, b.change, b.was, b.now) for b in e.breaking_columns] == [
        ("amount", "retyped", "numeric", "VARCHAR")
    ]


# --- refs --------------------------------------------------------------------------------


def test_parse_call_reads_dbt_calls_without_evaluating_them() -> None:
    assert parse_call("ref('m')") == ("ref", ("m",), None)
    assert parse_call("{{ ref('p', 'm', v=2) }}") == ("ref", ("p", "m"), "2")
    assert parse_call('source("s", "t")') == ("source", ("s", "t"), None)
    assert parse_call("ref(m)") is None
    assert parse_call("__import__('os')") is None
    assert parse_call("ref('m'") is None


def test_resolve_call_picks_versions_and_the_root_package() -> None:
    v1 = node(mf.model("dim", version=1, latest=2))
    v2 = node(mf.model("dim", version=2, latest=2))
    other = node(mf.model("fct", package="pkg"))
    mine = node(mf.model("fct"))
    nodes = dict([v1, v2, other, mine, SRC])
    assert resolve_call("ref('dim')", nodes, "proj") == "model.proj.dim.v2"
    assert resolve_call("ref('dim', v=1)", nodes, "proj") == "model.proj.dim.v1"
    assert resolve_call("ref('fct')", nodes, "proj") == "model.proj.fct"
    assert resolve_call("ref('pkg', 'fct')", nodes, "proj") == "model.pkg.fct"
    assert resolve_call("source('stripe', 'charges')", nodes, "proj") == SRC[0]
    assert resolve_call("ref('nope')", nodes, "proj") is None


# --- the sample, through the CLI and real dbt --------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "sample_dbt_project"


def sample_with_state(root: Path) -> tuple[Path, Path]:
    """A copy of the sample (its exposures carry referenced_columns), parsed by real dbt;
    the manifest is kept in `state/` as the production artifacts."""
    project = root / "p"
    ignore = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.duckdb.wal")
    shutil.copytree(SAMPLE, project, ignore=ignore)
    dbt_parse(project)
    state = root / "state"
    state.mkdir()
    shutil.copy(project / "target" / "manifest.json", state / "manifest.json")
    return project, state


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def change_the_project(project: Path, *, remove_model: bool) -> None:
    """fct_orders's SQL gains a column; dim_customers v2 loses `is_active` (SQL and YAML);
    with `remove_model`, fct_refunds is deleted (its SQL and its YAML block)."""
    marts = project / "models" / "marts"
    edit(marts / "fct_orders.sql", "    o.net_revenue\n", "    o.net_revenue,\n    1 as new_col\n")
    edit(marts / "dim_customers_v2.sql", "    o.last_ordered_at,\n", "    o.last_ordered_at\n")
    edit(
        marts / "dim_customers_v2.sql",
        "    coalesce(o.last_ordered_at >= current_date - interval 90 day, false) as is_active\n",
        "",
    )
    edit(marts / "_marts.yml", "          - name: is_active\n", "")
    if remove_model:
        (marts / "fct_refunds.sql").unlink()
        text = (marts / "_marts.yml").read_text(encoding="utf-8")
        start = text.index("  - name: fct_refunds\n")
        end = text.index("  - name: fct_sessions\n")
        (marts / "_marts.yml").write_text(text[:start] + text[end:], encoding="utf-8")


@pytest.fixture(scope="module")
def changed_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    project, state = sample_with_state(tmp_path_factory.mktemp("impact"))
    change_the_project(project, remove_model=True)
    # Build the current manifest once (the sample's config parses), so tests can --no-parse.
    assert main(["impact", "--project-dir", str(project), "--state", str(state), "-q"]) == 0
    return project, state


def run_impact(
    project: Path, state: Path, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(["impact", "--project-dir", str(project), "--state", str(state), *args])
    out, err = capsys.readouterr()
    return code, out, err


SAMPLE_MODIFIED = [
    "model.acme_analytics.dim_customers.v2",
    "model.acme_analytics.fct_orders",
    "model.acme_analytics.fct_refunds",
]
# By hand from the sample's graph: fct_orders feeds dim_customers v1/v2 and fct_daily_revenue;
# the exposures reading any of them, or fct_refunds, most-viewed first (the snapshot's views).
SAMPLE_IMPACTED = [
    ("hex_weekly_revenue", 1262),
    ("hex_churn_analysis_9f9c96e0", 264),
    ("hex_ubersicht_umsatze", 160),
    ("hex_customer_filters", 0),
    ("hex_revenue_by_region_yes_if_wip", 0),
]


def test_sample_changed_removed_column_and_removed_model(
    changed_sample: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project, state = changed_sample
    code, out, err = run_impact(project, state, "--format", "json", capsys=capsys)
    assert code == 0, err
    # The exposures file names the removed model, so dbt parses the project without it.
    assert "parsing the project without it" in err
    doc = json.loads(out)
    assert doc["modified"] == SAMPLE_MODIFIED
    assert [(e["name"], e["app_views_30d"]) for e in doc["exposures"]] == SAMPLE_IMPACTED
    by_name = {e["name"]: e for e in doc["exposures"]}
    weekly = by_name["hex_weekly_revenue"]
    assert weekly["found_in"] == "exposures file"
    assert weekly["upstream_modified"] == SAMPLE_MODIFIED[:2]
    assert weekly["owner"] == {"name": "maria.keller", "email": "maria.keller@acme.com"}
    assert weekly["status"] == "Production"
    # Hand labels from the sample's referenced_columns: the two that read
    # dim_customers v2's is_active, and every column Übersicht reads from fct_refunds.
    is_active = {
        "node": "model.acme_analytics.dim_customers.v2",
        "ref": "ref('dim_customers', v=2)",
        "column": "is_active",
        "change": "removed",
    }
    refunds = [
        {
            "node": "model.acme_analytics.fct_refunds",
            "ref": "ref('fct_refunds')",
            "column": c,
            "change": "node removed",
        }
        for c in ("customer_id", "refund_amount", "refund_date")
    ]
    assert {e["name"]: e["breaking_columns"] for e in doc["exposures"]} == {
        "hex_weekly_revenue": [],
        "hex_churn_analysis_9f9c96e0": [],
        "hex_ubersicht_umsatze": refunds,
        "hex_customer_filters": [is_active],
        "hex_revenue_by_region_yes_if_wip": [is_active],
    }
    assert by_name["hex_ubersicht_umsatze"]["upstream_modified"] == SAMPLE_MODIFIED[1:]
    assert by_name["hex_revenue_by_region_yes_if_wip"]["label"] == (
        "Revenue by {{ region }}: yes, {% if %} {# wip"
    )

    code, out, _err = run_impact(
        project, state, "--no-parse", "--fail-on", "breaking", capsys=capsys
    )
    assert code == 1
    rows = [line for line in out.splitlines() if line.startswith("| [")]
    assert [r.split("]")[0].removeprefix("| [") for r in rows] == [
        "Weekly Revenue",
        "Churn Analysis",
        "Übersicht Umsätze 📈",
        "Customer Filters",
        r"Revenue by \{\{ region \}\}: yes, \{% if %\} \{\# wip",
    ]
    assert rows[0].endswith("| none |")
    assert rows[3].endswith("| ⚠️ `dim_customers.v2.is_active` removed |")
    assert "⚠️ `fct_refunds.customer_id` node removed<br>" in rows[2]


def test_sample_exposures_from_the_current_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No model removed: dbt parses the exposures file and the manifest carries them."""
    project, state = sample_with_state(tmp_path)
    change_the_project(project, remove_model=False)
    code, out, err = run_impact(project, state, "--format", "json", capsys=capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["modified"] == SAMPLE_MODIFIED[:2]
    assert [e["name"] for e in doc["exposures"]] == [n for n, _ in SAMPLE_IMPACTED]
    assert {e["found_in"] for e in doc["exposures"]} == {"manifest"}
    breaking = {e["name"]: [b["column"] for b in e["breaking_columns"]] for e in doc["exposures"]}
    assert breaking == {
        "hex_weekly_revenue": [],
        "hex_churn_analysis_9f9c96e0": [],
        "hex_ubersicht_umsatze": [],
        "hex_customer_filters": ["is_active"],
        "hex_revenue_by_region_yes_if_wip": ["is_active"],
    }


def test_sample_nothing_changed_and_no_hex_side(
    changed_sample: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project, state = changed_sample
    monkeypatch.delenv("HEX_API_TOKEN", raising=False)
    # The production manifest against itself: nothing modified, one line.
    code, out, _err = run_impact(
        project, state, "--manifest", str(state / "manifest.json"), "--no-parse", capsys=capsys
    )
    assert (code, out) == (
        0,
        "**Hex impact:** no dbt model, seed, snapshot or source changed against production.\n",
    )
    code, out, err = run_impact(
        project, state, "--no-parse", "--live", "--format", "json", capsys=capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["app_views_known"] is False
    assert [e["app_views_30d"] for e in doc["exposures"]] == [None] * 5
    assert "app views are unknown" in err


def test_missing_state_manifest_is_one_line_exit_2(
    changed_sample: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, _state = changed_sample
    code, out, err = run_impact(project, tmp_path, "--no-parse", capsys=capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"hex-exposures: error: --state: {tmp_path / 'manifest.json'}: no such file "
        "(download the production manifest.json there)\n"
    )
    code, _out, err = run_impact(project, tmp_path / "nope", "--no-parse", capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "nope" in err


def test_sample_views_from_the_live_hex_api(
    changed_sample: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--live reads app views from a loopback Hex API; a project without `analytics` (the
    field is required by Hex's spec, but the tool does not bet on it) is `unknown`."""
    project, state = changed_sample
    snap = json.loads((SAMPLE / "hex_snapshot.json").read_text(encoding="utf-8"))
    projects = copy.deepcopy(snap["projects"])
    for p in projects:
        if p["title"] == "Customer Filters":
            p["analytics"]["appViews"]["lastThirtyDays"] = 5000
        if p["title"] == "Weekly Revenue":
            del p["analytics"]
    with serve(projects=projects, rate_limit=None, lifetime=30, token=TOKEN) as srv:
        args = ["--no-parse", "--live", "--hex-url", srv.url, "--hex-token", TOKEN]
        code, out, err = run_impact(project, state, *args, "--format", "json", capsys=capsys)
        assert code == 0, err
        views = [(e["name"], e["app_views_30d"]) for e in json.loads(out)["exposures"]]
        assert views == [
            ("hex_customer_filters", 5000),
            ("hex_churn_analysis_9f9c96e0", 264),
            ("hex_ubersicht_umsatze", 160),
            ("hex_revenue_by_region_yes_if_wip", 0),
            ("hex_weekly_revenue", None),
        ]
        assert srv.requests and all(r.path.startswith("/api/v1/projects") for r in srv.requests)
        srv.script("/api/v1/projects", 401)
        code, out, err = run_impact(project, state, *args, capsys=capsys)
        assert (code, out) == (3, "")
        assert err.count("\n") == 1 and "401" in err and TOKEN not in err


def test_upstream_masks_in_one_pass_and_through_a_cycle() -> None:
    from hex_exposures.impact import _upstream_masks

    graph = {"a": ["b", "x"], "b": ["c"], "c": ["e1"], "x": ["e1", "e2"], "e1": [], "e2": []}
    masks = _upstream_masks(["a", "c"], lambda u: graph.get(u, []))
    assert {u: m for u, m in masks.items() if u.startswith("e")} == {"e1": 0b11, "e2": 0b01}
    # Two graphs stitched together may loop (p -> q in one, q -> p in the other).
    loop = {"p": ["q"], "q": ["p", "e"], "e": []}
    masks = _upstream_masks(["q"], lambda u: loop.get(u, []))
    assert masks == {"q": 1, "p": 1, "e": 1}
    masks = _upstream_masks(["p", "e"], lambda u: loop.get(u, []))
    assert masks["e"] == 0b11 and masks["q"] == 0b01
