from __future__ import annotations

import pytest

from hex_exposures import config
from hex_exposures.errors import ConfigError


def test_flag_beats_config_file_beats_default() -> None:
    s = config.resolve({"days": 7}, {"days": 30, "warehouse": "bigquery"})
    assert s.days == 7 and s.warehouse == "bigquery" and s.hex_url == "https://app.hex.tech"


def test_config_paths_are_relative_to_the_project_dir() -> None:
    values = config.from_file_data(
        {"from_snapshot": "snap.json"}, path="p/hex_exposures.yml", project_dir="p"
    )
    assert values == {"from_snapshot": "p/snap.json"}


def test_include_context_accepts_a_comma_list_or_a_yaml_list() -> None:
    assert config.resolve({"include_context": "app_view, SCHEDULED_RUN"}, {}).include_context == (
        "APP_VIEW",
        "SCHEDULED_RUN",
    )
    assert config.resolve({}, {"include_context": ["LOGIC_VIEW"]}).include_context == (
        "LOGIC_VIEW",
    )


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"hex_token": "hxtw_x"}, "'hex_token' must not be in the config file"),
        ({"dayz": 3}, "unknown option 'dayz'"),
        ({"days": "three"}, "option 'days' has the wrong type"),
        ({"days": True}, "option 'days' has the wrong type"),
        (["days"], "expected a mapping"),
    ],
)
def test_bad_config_files_name_the_file_and_key(data: object, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.from_file_data(data, path="proj/hex_exposures.yml", project_dir="proj")
    assert needle in str(err.value) and str(err.value).startswith("proj/hex_exposures.yml:")


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"days": 0}, "--days"),
        ({"warehouse": "redshift"}, "--warehouse"),
        ({"format": "xml"}, "--format"),
        ({"include_context": " , "}, "--include-context"),
        ({"hex_url": "app.hex.tech"}, "--hex-url"),
        ({"maturity_map": {"Prod": "critical"}}, "maturity_map"),
    ],
)
def test_bad_values_name_the_option(values: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.resolve(values, {})
    assert needle in str(err.value)


def test_settings_repr_never_shows_the_token() -> None:
    s = config.resolve({"hex_token": "hxtw_supersecret"}, {})
    assert "supersecret" not in repr(s) and "hex_token='***'" in repr(s)
