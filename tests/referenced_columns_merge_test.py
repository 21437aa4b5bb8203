"""`meta.referenced_columns` in the exposures file: written, updated line by line, pinned."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from hex_exposures.records import Exposure
from hex_exposures.yaml_merge import merge

PATH = "models/hex_exposures.yml"
PID = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
NODE = "ref('fct_orders')"
COLUMNS = (
    {"column_name": "amount", "data_type": "numeric", "node": NODE},
    {"column_name": "order_id", "node": NODE},
    {"column_name": "email", "node": "source('app', 'users')"},
)


def exposure(**kw: Any) -> Exposure:
    base: dict[str, Any] = {
        "name": "hex_weekly_revenue",
        "label": "Weekly Revenue",
        "type": "dashboard",
        "maturity": "high",
        "url": f"https://app.hex.tech/acme/hex/{PID}",
        "description": "Revenue by week.",
        "owner_name": "Jane Doe",
        "owner_email": "jane@acme.com",
        "depends_on": (NODE, "source('app', 'users')"),
        "tags": ("hex",),
        "project_id": PID,
        "hex_meta": {"status": "Production", "categories": [], "published": True},
        "referenced_columns": COLUMNS,
    }
    base.update(kw)
    return Exposure(**base)


def _read(text: str, *at: str) -> Any:
    data = yaml.safe_load(text)["exposures"][0]
    for key in at:
        data = data[key]
    return data


def test_written_under_config_meta_one_line_per_column() -> None:
    text = merge(None, [exposure()], path=PATH)
    assert _read(text, "config", "meta", "referenced_columns") == list(COLUMNS)
    lines = text.splitlines()
    start = lines.index("        referenced_columns:")
    assert lines[start + 1 : start + 4] == [
        "          - {column_name: amount, data_type: numeric, node: \"ref('fct_orders')\"}",
        "          - {column_name: order_id, node: \"ref('fct_orders')\"}",
        "          - {column_name: email, node: \"source('app', 'users')\"}",
    ]


def test_top_level_meta_before_dbt_1_10() -> None:
    text = merge(None, [exposure()], path=PATH, layout="top")
    assert _read(text, "meta", "referenced_columns") == list(COLUMNS)
    assert "referenced_columns" not in str(_read(text).get("config"))


def test_odd_column_names_read_back_the_same_in_yaml_1_1_and_1_2() -> None:
    from ruamel.yaml import YAML

    odd = ({"column_name": "Odd: name #1", "node": NODE}, *COLUMNS)
    text = merge(None, [exposure(referenced_columns=odd)], path=PATH)
    assert _read(text, "config", "meta", "referenced_columns") == list(odd)
    ruamel = YAML(typ="safe", pure=True).load(text)["exposures"][0]
    assert ruamel["config"]["meta"]["referenced_columns"] == list(odd)


def test_absent_when_empty_and_removed_when_emptied() -> None:
    text = merge(None, [exposure(referenced_columns=())], path=PATH)
    assert "referenced_columns" not in text
    full = merge(None, [exposure()], path=PATH)
    emptied = merge(full, [exposure(referenced_columns=())], path=PATH)
    assert emptied == text


def test_a_changed_column_changes_only_its_line_and_comments_stay() -> None:
    full = merge(None, [exposure()], path=PATH)
    commented = full.replace(
        "          - {column_name: order_id",
        "          # the key the dashboard joins on\n          - {column_name: order_id",
    )
    changed = (
        {"column_name": "amount", "data_type": "string", "node": NODE},
        *COLUMNS[1:],
    )
    after = merge(commented, [exposure(referenced_columns=changed)], path=PATH)
    diff = [
        line
        for line in difflib.unified_diff(commented.splitlines(), after.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert diff == [
        "-          - {column_name: amount, data_type: numeric, node: \"ref('fct_orders')\"}",
        "+          - {column_name: amount, data_type: string, node: \"ref('fct_orders')\"}",
    ]
    assert "# the key the dashboard joins on" in after


def test_keep_pins_it() -> None:
    full = merge(None, [exposure()], path=PATH)
    pinned = full.replace(
        f"project_id: {PID}}}",
        f"project_id: {PID}, keep: [config.meta.referenced_columns]}}",
    )
    assert pinned != full
    after = merge(pinned, [exposure(referenced_columns=COLUMNS[:1])], path=PATH)
    assert after == pinned
    assert _read(after, "config", "meta", "referenced_columns") == list(COLUMNS)
