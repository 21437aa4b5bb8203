"""What a person types: each command's options, refused options, and flags beating the config.

Driven in-process with click's CliRunner (no dbt parse: every case here stops before or
without it, or uses the sample's committed manifest-free paths).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hex_exposures import config
from hex_exposures.cli import cli, main

MANIFEST = {
    "metadata": {
        "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
        "adapter_type": "snowflake",
        "dbt_version": "1.10.0",
    },
    "nodes": {},
    "sources": {},
    "exposures": {},
}
COMMANDS = ("check", "impact", "report", "snapshot", "sync", "validate")
PIPELINE_ONLY = (
    "--hex-url",
    "--hex-token",
    "--workspace",
    "--days",
    "--from-snapshot",
    "--live",
    "--warehouse",
    "--include-context",
    "--snowflake-connection",
    "--bigquery-project",
)


def help_of(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def option_names(name: str) -> set[str]:
    command = cli.commands[name]
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def test_group_help_shows_each_commands_whole_first_line() -> None:
    text = help_of()
    for name in COMMANDS:
        command = cli.commands[name]
        first = (command.help or "").strip().splitlines()[0]
        line = next(x for x in text.splitlines() if x.strip().startswith(name + " "))
        assert line.split(None, 1)[1].strip() == first, line
        assert len(line) <= 80
    commands = text.split("Commands:", 1)[1]
    assert "..." not in commands


def test_validate_lists_only_what_it_uses() -> None:
    text = help_of("validate")
    for flag in (*PIPELINE_ONLY, "--format", "--parse", "--maturity-map"):
        assert flag not in text, flag
    for flag in ("--project-dir", "--manifest", "--profiles-dir", "--output", "--config"):
        assert flag in text
    assert "--verbose" in text and "--quiet" in text


def test_sync_has_no_format_and_check_and_report_do() -> None:
    assert "--format" not in option_names("sync")
    for name in ("check", "report"):
        assert "--format" in option_names(name)
        assert {"--live", "--days", "--snowflake-connection"} <= option_names(name)
    assert "--offline" in option_names("check") and "--offline" not in option_names("sync")


def test_snapshot_does_not_take_exposure_file_options() -> None:
    names = option_names("snapshot")
    assert {"-o", "--live", "--from-snapshot", "--days", "--hex-token"} <= names
    assert not {"--output", "--format", "--maturity-map", "--owner-map"} & names


def test_every_command_takes_verbose_and_quiet() -> None:
    for name in COMMANDS:
        assert {"--verbose", "--quiet", "-v", "-q"} <= option_names(name), name


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["sync", "--format", "json"], "--format"),
        (["validate", "--days", "3"], "--days"),
        (["validate", "--hex-token", "hxtw_x"], "--hex-token"),
        (["validate", "--snowflake-connection", "prod"], "--snowflake-connection"),
        (["snapshot", "-o", "x.json", "--output", "m.yml"], "--output"),
        (["impact", "--state", "s", "--days", "3"], "--days"),
        (["sync", "--offline"], "--offline"),
    ],
)
def test_an_option_a_command_does_not_use_is_refused(
    args: list[str], flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*args, "--project-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert f"No such option '{flag}'" in err
    assert f"Usage: hex-exposures {args[0]}" in err
    assert list(tmp_path.iterdir()) == []


def test_every_config_key_has_a_flag_that_can_override_it() -> None:
    """config.py's keys against the flags: a value set in the file can always be beaten."""
    dests: dict[str, set[str]] = {}
    for command in cli.commands.values():
        for p in command.params:
            if isinstance(p, click.Option):
                dests.setdefault(p.name or "", set()).update((*p.opts, *p.secondary_opts))
    aliases = {"format": "format_", "config": "config_file", "no_columns": "columns"}
    for key, kind in config._FILE_KEYS.items():
        flags = dests.get(aliases.get(key, key))
        assert flags, f"config key {key!r} has no command-line flag"
        if kind is bool and key not in ("verbose", "quiet"):
            # A boolean set true in the file needs a way to say false on the command line.
            assert any(f.startswith("--no-") for f in flags), key
    assert "--live" in dests["live"]  # beats from_snapshot


# --- flags beat the config file ---------------------------------------------------------


def _project(tmp_path: Path, config_text: str) -> Path:
    project = tmp_path / "p"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: p\nversion: '1.0'\nprofile: p\n")
    (project / "hex_exposures.yml").write_text(config_text)
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text(json.dumps(MANIFEST))
    return project


def test_live_ignores_a_configured_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HEX_API_TOKEN", raising=False)
    # The configured snapshot does not exist: reading it would fail with "snapshot".
    project = _project(tmp_path, "from_snapshot: missing.json\nwarehouse: snowflake\n")
    code = main(["sync", "--project-dir", str(project), "--live"])
    err = capsys.readouterr().err
    assert code == 2
    assert "missing.json" not in err
    assert "--hex-token / HEX_API_TOKEN is required" in err
    code = main(["sync", "--project-dir", str(project)])
    assert code == 2 and "missing.json" in capsys.readouterr().err


def test_live_and_from_snapshot_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync", "--project-dir", str(tmp_path), "--live", "--from-snapshot", "s.json"])
    err = capsys.readouterr().err
    assert code == 2 and "--live and --from-snapshot" in err


def test_quiet_flag_beats_verbose_in_the_config(tmp_path: Path) -> None:
    from hex_exposures.cli import settings_from

    project = _project(tmp_path, "verbose: true\nmaturity_map: {Production: high}\n")
    base = {"project_dir": str(project)}
    assert settings_from(base).verbose is True
    quiet = settings_from({**base, "quiet": True})
    assert (quiet.verbose, quiet.quiet) == (False, True)
    mapped = settings_from({**base, "maturity_map": {"Draft": "low"}})
    assert dict(mapped.maturity_map) == {"Draft": "low"}
    assert dict(settings_from(base).maturity_map) == {"Production": "high"}


def test_map_flags_parse_key_value_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sync", "--owner-map", "no-equals-sign"])
    err = capsys.readouterr().err
    assert code == 2 and "--owner-map" in err and "KEY=VALUE" in err


# --- --hex-user (issue 17, class 6) -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "needle"),
    [("", "a user name is empty"), ("  ", "a user name is empty"), ("a\nb", "not a warehouse")],
)
def test_a_bad_hex_user_is_one_line_and_exit_2(
    value: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, "warehouse: snowflake\n")
    before = sorted(p.name for p in project.rglob("*"))
    code = main(["report", "--project-dir", str(project), "--hex-user", value])
    err = capsys.readouterr().err
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith("hex-exposures: error: --hex-user: ") and needle in line
    assert sorted(p.name for p in project.rglob("*")) == before


def test_hex_user_from_the_config_file_and_the_flag_beats_it(tmp_path: Path) -> None:
    from hex_exposures.cli import settings_from

    project = _project(tmp_path, "hex_user: [HEX_SERVICE, auto, HEX_SERVICE]\n")
    base = {"project_dir": str(project)}
    assert settings_from(base).hex_user == ("HEX_SERVICE", "auto")
    assert settings_from({**base, "hex_user": ("JANE",)}).hex_user == ("JANE",)
    (project / "hex_exposures.yml").write_text("hex_user: HEX_A, HEX_B\n")
    assert settings_from(base).hex_user == ("HEX_A", "HEX_B")
    assert {"--hex-user"} <= option_names("snapshot") & option_names("sync")
    assert "--hex-user" not in option_names("validate")


def _snapshot_project(tmp_path: Path, **dump: object) -> tuple[Path, Path]:
    from hex_exposures.records import HexProject, HexQuery
    from hex_exposures.sources import snapshot
    from tests.servers.hex_server import make_project

    project = _project(tmp_path, "warehouse: snowflake\n")
    hex_project = HexProject.from_api(make_project(0))
    comment = '\n-- Hex query metadata: {"project_id": "' + hex_project.id + '"}'
    queries = [
        HexQuery(hex_project.id, "select 1" + comment, "DB", "S", 3, **dump),  # type: ignore[arg-type]
        HexQuery(hex_project.id, "", tables=("DB.S.FROM_HEX",), run_count=0),
    ]
    path = project / "snap.jsonl"
    text = snapshot.dumps(
        [hex_project], queries, warehouse="snowflake", workspace="acme",
        hex_url="https://app.hex.tech", captured_at="c",
    )  # fmt: skip
    path.write_text(text)
    return project, path


def test_hex_user_on_a_snapshot_without_users_is_refused_and_auto_falls_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, snap = _snapshot_project(tmp_path)
    args = ["report", "--project-dir", str(project), "--from-snapshot", str(snap)]
    assert main([*args, "--hex-user", "HEX_SERVICE"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "--hex-user: " in line and "records no warehouse users" in line
    assert main([*args, "--hex-user", "auto", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["summary"]["queries"] == 2
    [warning] = err.splitlines()
    assert warning == (
        f"hex-exposures: --hex-user auto found no warehouse user: {snap} was captured for "
        "every user; counting every user"
    )


def test_hex_user_filters_a_snapshot_keeping_hex_s_own_table_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, snap = _snapshot_project(tmp_path, warehouse_user="HEX_SERVICE")
    args = ["report", "--project-dir", str(project), "--from-snapshot", str(snap), "-q"]
    for user, records in (("hex_service", 2), ("MALLORY", 1)):
        assert main([*args, "--hex-user", user, "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["summary"]["queries"] == records  # queriedTables' record always stays
