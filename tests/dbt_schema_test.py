"""The written file uses only keys dbt's exposure schema allows (issue 12).

dbt 1.10+ ships the JSON schema it checks YAML against (for some adapters) inside its
package: dbt/jsonschemas/resources/latest.json, `ExposureProperties` with
`additionalProperties: false`. The Rust engine drops keys outside it. The sample's file as
sync writes it (config layout, the in-process dbt being 1.11) must validate against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hex_exposures.cli import main
from tests.cli_test import OUT, copy_sample


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_sample(tmp_path_factory.mktemp("schema") / "p")
    assert main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    return project


def resources_schema() -> dict[str, Any]:
    from dbt.jsonschemas import JSONSCHEMAS_PATH

    path = Path(JSONSCHEMAS_PATH) / "resources" / "latest.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def test_the_schema_is_the_one_dbt_checks_with() -> None:
    from dbt.jsonschemas import jsonschemas

    assert jsonschemas.resources_schema() == resources_schema()
    props = resources_schema()["definitions"]["ExposureProperties"]
    assert props["additionalProperties"] is False
    assert "tags" not in props["properties"] and "meta" not in props["properties"]


def test_the_synced_sample_file_validates_against_dbts_exposure_schema(synced: Path) -> None:
    data = yaml.safe_load((synced / OUT).read_text(encoding="utf-8"))
    managed = [e for e in data["exposures"] if "hex_exposures" in e["config"]["meta"]]
    assert len(managed) >= 6
    jsonschema.Draft7Validator(resources_schema()).validate(data)


def test_an_extra_key_fails_the_same_validation(synced: Path) -> None:
    """The control: the schema does refuse a key it does not list."""
    data = yaml.safe_load((synced / OUT).read_text(encoding="utf-8"))
    data["exposures"][0]["tags"] = ["hex"]  # top-level tags: 1.8/1.9 only
    with pytest.raises(jsonschema.ValidationError, match="tags"):
        jsonschema.Draft7Validator(resources_schema()).validate(data)
