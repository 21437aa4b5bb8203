"""Where managed tags and meta go by dbt version (issue 12), through `merge` and the CLI.

dbt 1.8/1.9 read an exposure's tags and meta only top-level; from 1.10 they live under
`config:`. A managed exposure written in the other form moves in one sync, with no tool key
left in both places and a person's own keys where they were. The real dbt versions are in
dbt_matrix_test.py; here the in-process dbt (1.11) checks both forms parse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hex_exposures.cli import main
from hex_exposures.manifest import dbt_version, meta_layout
from hex_exposures.records import Exposure
from hex_exposures.validate import offline_expected
from hex_exposures.yaml_merge import merge, read_managed
from tests.dbt_helpers import dbt_parse, exposures_by_name, make_project, write_exposures

PATH = "models/hex_exposures.yml"
PID = "0a1b2c3d-1111-4aaa-8bbb-000000000001"
TOOL = {"tags", "meta"}


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
        "depends_on": ("ref('fct_orders')",),
        "tags": ("hex", "finance"),
        "project_id": PID,
        "hex_meta": {"status": "Production", "categories": ["Finance"], "published": True},
    }
    base.update(kw)
    return Exposure(**base)


def only(text: str) -> dict[str, Any]:
    items = yaml.safe_load(text)["exposures"]
    assert len(items) == 1
    item: dict[str, Any] = items[0]
    return item


MARKER = {"managed": True, "project_id": PID}
HEX = {"status": "Production", "categories": ["Finance"], "published": True}


@pytest.mark.parametrize(
    ("version", "layout"),
    [
        ("1.8.10", "top"),
        ("1.9.11", "top"),
        ("1.10.0", "config"),
        ("1.11.16", "config"),
        ("1.10.0b1", "config"),
        ("2.0.0", "config"),
        (None, "config"),
        ("junk", "config"),
    ],
)
def test_layout_follows_the_manifests_dbt_version(version: str | None, layout: str) -> None:
    manifest = {"metadata": {"dbt_version": version}} if version else {"metadata": {}}
    assert meta_layout(manifest) == layout
    if version and version[0].isdigit():
        assert dbt_version(manifest) == tuple(int(p) for p in version.split(".")[:2])


@pytest.mark.parametrize("layout", ["top", "config"])
def test_a_new_exposure_is_written_in_the_layout(layout: Any) -> None:
    item = only(merge(None, [exposure()], path=PATH, layout=layout))
    where = item["config"] if layout == "config" else item
    assert where["tags"] == ["hex", "finance"]
    assert where["meta"] == {"hex_exposures": MARKER, "hex": HEX}
    if layout == "top":
        assert "config" not in item
    else:
        assert not TOOL & set(item)


CONFIG_FORM = f"""\
version: 2
exposures:
  # the revenue board
  - name: hex_weekly_revenue
    label: Weekly Revenue
    type: dashboard
    maturity: high
    url: https://app.hex.tech/acme/hex/{PID}
    description: Revenue by week.
    owner:
      name: Jane Doe
      email: jane@acme.com
    depends_on:
      - ref('fct_orders')
    team: finance   # a person's key
    config:
      enabled: true
      tags: [hex, finance]
      meta:
        team_channel: '#finance'
        hex_exposures: {{managed: true, project_id: {PID}, keep: [label]}}
        hex: {{status: Production, categories: [Finance], published: true}}
  - name: hand_written
    type: notebook
    owner: {{email: a@b.c}}
    config:
      tags: [mine]
"""


def test_config_form_moves_to_top_level_in_one_merge_and_keeps_a_persons_keys() -> None:
    text = merge(CONFIG_FORM, [exposure(label="New title")], path=PATH, layout="top")
    data = yaml.safe_load(text)["exposures"]
    item = data[0]
    assert item["tags"] == ["hex", "finance"]
    assert item["meta"] == {"hex_exposures": {**MARKER, "keep": ["label"]}, "hex": HEX}
    # The person's config keys stay under config; none of the tool's are left there.
    assert item["config"] == {"enabled": True, "meta": {"team_channel": "#finance"}}
    assert item["label"] == "Weekly Revenue"  # still pinned: `keep` travelled with the marker
    assert item["team"] == "finance"
    assert data[1] == yaml.safe_load(CONFIG_FORM)["exposures"][1]  # not managed: untouched
    assert "# the revenue board" in text and "# a person's key" in text
    assert text.endswith(CONFIG_FORM[CONFIG_FORM.index("  - name: hand_written") :])
    # A second merge in the same layout changes nothing, and the marker is found there.
    assert merge(text, [exposure(label="New title")], path=PATH, layout="top") == text
    assert read_managed(text, path=PATH, layout="top")[PID].keep == ("label",)


def test_top_form_moves_under_config_and_an_emptied_meta_goes() -> None:
    top = merge(None, [exposure()], path=PATH, layout="top")
    assert "config:" not in top
    text = merge(top, [exposure()], path=PATH, layout="config")
    item = only(text)
    assert not TOOL & set(item)
    assert item["config"] == {
        "tags": ["hex", "finance"],
        "meta": {"hex_exposures": MARKER, "hex": HEX},
    }
    # Round trip back: the config that held only tool keys goes, bytes as first written.
    assert merge(text, [exposure()], path=PATH, layout="top") == top
    assert text == merge(None, [exposure()], path=PATH, layout="config")


def test_a_persons_top_level_meta_key_stays_when_moving_under_config() -> None:
    top = merge(None, [exposure()], path=PATH, layout="top").replace(
        "    meta:\n", "    meta:\n      sla: daily\n"
    )
    item = only(merge(top, [exposure()], path=PATH, layout="config"))
    assert item["meta"] == {"sla": "daily"}
    assert item["config"]["meta"] == {"hex_exposures": MARKER, "hex": HEX}
    assert "tags" not in item


BLOCK_KEEP = CONFIG_FORM.replace(
    f"hex_exposures: {{managed: true, project_id: {PID}, keep: [label]}}",
    "hex_exposures:\n"
    "          managed: true\n"
    "          keep:   # pins\n"
    "            - label   # the title\n"
    "            # and the text\n"
    "            - description\n"
    f"          project_id: {PID}",
)
KEEP_LINES = [
    "keep:   # pins",
    "  - label   # the title",
    "  # and the text",
    "  - description",
]


def test_a_multi_line_keep_list_moves_across_the_layout_change_byte_for_byte() -> None:
    top = merge(BLOCK_KEEP, [exposure(label="New title")], path=PATH, layout="top")
    moved = "".join(" " * 8 + line + "\n" for line in KEEP_LINES)  # under meta.hex_exposures
    assert moved in top
    item = yaml.safe_load(top)["exposures"][0]
    assert item["meta"]["hex_exposures"] == {**MARKER, "keep": ["label", "description"]}
    assert item["label"] == "Weekly Revenue"  # still pinned
    assert "hex_exposures" not in item["config"]["meta"]
    back = merge(top, [exposure(label="New title")], path=PATH, layout="config")
    assert "".join(" " * 10 + line + "\n" for line in KEEP_LINES) in back
    assert yaml.safe_load(back)["exposures"][0]["config"]["meta"]["hex_exposures"] == {
        **MARKER,
        "keep": ["label", "description"],
    }
    assert merge(back, [exposure(label="New title")], path=PATH, layout="config") == back


@pytest.mark.parametrize("pin", ["config.tags", "tags"])
def test_a_pinned_value_moves_as_it_is(pin: str) -> None:
    text = CONFIG_FORM.replace("keep: [label]", f"keep: [{pin}]")
    item = yaml.safe_load(merge(text, [exposure(tags=("hex",))], path=PATH, layout="top"))[
        "exposures"
    ][0]
    assert item["tags"] == ["hex", "finance"]
    assert "tags" not in item["config"]


def test_offline_check_moves_the_file_to_the_manifests_layout() -> None:
    manifest = {"metadata": {"dbt_version": "1.9.11"}, "nodes": {}, "sources": {}}
    text, _problems = offline_expected(manifest, CONFIG_FORM, warehouse="snowflake", path=PATH)
    item = yaml.safe_load(text)["exposures"][0]
    assert item["tags"] == ["hex", "finance"]
    assert item["meta"]["hex_exposures"] == {**MARKER, "keep": ["label"]}
    assert item["config"] == {"enabled": True, "meta": {"team_channel": "#finance"}}


@pytest.mark.parametrize("layout", ["top", "config"])
def test_dbt_parses_both_forms_with_the_marker_in_meta(tmp_path: Path, layout: Any) -> None:
    root = make_project(tmp_path, exposures=merge(None, [exposure()], path=PATH, layout=layout))
    parsed = exposures_by_name(dbt_parse(root))["hex_weekly_revenue"]
    assert parsed["meta"]["hex_exposures"] == MARKER  # dbt 1.11 reads both forms
    assert "hex" in parsed["tags"]


def test_sync_on_a_19_manifest_writes_top_level_and_moves_back_on_111(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli_test import copy_sample

    project = copy_sample(tmp_path / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    out = project / "models" / "hex_exposures.yml"
    config_form = out.read_text(encoding="utf-8")
    manifest_path = project / "target" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["metadata"]["dbt_version"] = "1.9.11"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    capsys.readouterr()
    args = ["--project-dir", str(project), "--no-parse"]
    assert main(["check", *args]) == 1  # the move is a change
    assert main(["sync", *args, "--quiet"]) == 0
    moved = yaml.safe_load(out.read_text(encoding="utf-8"))["exposures"]
    managed = [e for e in moved if (e.get("meta") or {}).get("hex_exposures")]
    assert len(managed) == 6
    assert all("config" not in e or not TOOL & set(e["config"]) for e in managed)
    assert main(["check", *args]) == 0
    # Back on dbt 1.11 (parse: true in the sample's config) it moves under config again.
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    assert out.read_text(encoding="utf-8") == config_form


def test_a_top_level_file_parses_and_moves_when_the_project_is_on_111(tmp_path: Path) -> None:
    top = merge(None, [exposure()], path=PATH, layout="top")
    root = make_project(tmp_path, exposures=top)
    manifest = dbt_parse(root)
    assert meta_layout(manifest) == "config"
    text, problems = offline_expected(manifest, top, warehouse="snowflake", path=PATH)
    assert problems == []
    write_exposures(root, text)
    parsed = exposures_by_name(dbt_parse(root))["hex_weekly_revenue"]
    assert parsed["config"]["meta"]["hex_exposures"] == MARKER
    assert parsed["meta"]["hex_exposures"] == MARKER
