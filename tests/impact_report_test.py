"""impact_report: the JSON document and the pull-request comment."""

from __future__ import annotations

import json

from hex_exposures.impact import BreakingColumn, Impact, ImpactedExposure, NodeChange
from hex_exposures.impact_report import escape, impact_json, impact_markdown


def exposed(name: str, views: int | None, *, breaking: tuple[BreakingColumn, ...] = ()):
    return ImpactedExposure(
        name=name,
        unique_id=f"exposure.p.{name}",
        label=f"{name} | *bold* [x](y)",
        url=f"https://app.hex.tech/acme/hex/{name}",
        owner_name="Jane Doe",
        owner_email="jane@acme.com",
        project_id="pid",
        status="Production",
        app_views_30d=views,
        upstream_modified=("model.p.fct_orders", "source.p.stripe.charges"),
        breaking_columns=breaking,
        found_in="manifest",
    )


CHANGES = (
    NodeChange("model.p.fct_orders", "modified", ("checksum", "column removed: amount")),
    NodeChange("model.p.old", "renamed", ("renamed to model.p.new",), "model.p.new"),
)
GONE = BreakingColumn("model.p.fct_orders", "ref('fct_orders')", "amount", "removed", "NUMBER")
RETYPED = BreakingColumn("model.p.fct_orders", "ref('fct_orders')", "id", "retyped", "INT", "TEXT")


def test_nothing_to_report_is_one_line() -> None:
    assert impact_markdown(Impact((), (), True)).count("\n") == 0
    text = impact_markdown(Impact(CHANGES, (), True))
    assert text == "**Hex impact:** no Hex project reads the 2 dbt nodes this change modifies."


def test_markdown_table_rows_in_the_given_order_with_cells_escaped() -> None:
    result = Impact(
        CHANGES, (exposed("a", 1200, breaking=(RETYPED, GONE)), exposed("b", None)), False
    )
    lines = impact_markdown(result).splitlines()
    assert lines[0] == (
        "### Hex impact: 2 Hex projects downstream of 2 modified dbt nodes "
        "(1 with breaking column changes)"
    )
    rows = [line for line in lines if line.startswith("| [")]
    assert rows[0] == (
        r"| [a \| \*bold\* \[x\]\(y\)](https://app.hex.tech/acme/hex/a) | 1,200 | Production "
        "| Jane Doe | `fct_orders`, `stripe.charges` "
        "| ⚠️ `fct_orders.id` retyped INT → TEXT<br>`fct_orders.amount` removed |"
    )
    assert "| unknown |" in rows[1] and rows[1].endswith("| none |")
    assert "- `model.p.old`: renamed to model.p.new" in lines
    assert lines[-1] == "App views are unknown: no Hex snapshot or API token was given."
    # Every row has as many cells as the header: no `|` in a value broke the table.
    header = lines[2]
    assert all(r.replace(r"\|", "").count("|") == header.count("|") for r in rows)


def test_escape_keeps_text_inert_and_on_one_line() -> None:
    assert escape("a\nb  c") == "a b c"
    assert escape("<script>") == r"\<script\>"
    assert escape("@team_x") == r"@team\_x"


def test_json_shape() -> None:
    result = Impact(CHANGES, (exposed("a", 5, breaking=(GONE,)),), True)
    doc = json.loads(impact_json(result))
    assert doc["modified"] == ["model.p.fct_orders", "model.p.old"]
    assert doc["nodes"][1] == {
        "unique_id": "model.p.old",
        "change": "renamed",
        "reasons": ["renamed to model.p.new"],
        "renamed_to": "model.p.new",
    }
    (e,) = doc["exposures"]
    assert {k: e[k] for k in ("name", "url", "owner", "app_views_30d", "upstream_modified")} == {
        "name": "a",
        "url": "https://app.hex.tech/acme/hex/a",
        "owner": {"name": "Jane Doe", "email": "jane@acme.com"},
        "app_views_30d": 5,
        "upstream_modified": ["model.p.fct_orders", "source.p.stripe.charges"],
    }
    assert e["breaking_columns"] == [
        {
            "node": "model.p.fct_orders",
            "ref": "ref('fct_orders')",
            "column": "amount",
            "change": "removed",
            "was": "NUMBER",
        }
    ]
    assert doc["app_views_known"] is True
