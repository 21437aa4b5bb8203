"""Every local precondition fails with exit 2 before any network call.

A loopback Hex server records every request; each case asserts it got none. The Snowflake
cases run the CLI in a child process because the connector locates connections.toml when it
is imported (SNOWFLAKE_HOME is read then).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hex_exposures.cli import main
from tests.manifest_factory import manifest, model
from tests.servers.hex_server import TOKEN, HexServer, make_project, serve


@pytest.fixture
def hex_server() -> Iterator[HexServer]:
    with serve(projects=[make_project(i) for i in range(3)], rate_limit=None, lifetime=60) as srv:
        yield srv


def project(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "target").mkdir()
    (root / "dbt_project.yml").write_text("name: proj\nmodel-paths: [models]\n")
    (root / "target" / "manifest.json").write_text(json.dumps(manifest(model("fct_orders"))))
    return root


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SNOWFLAKE_", "HEX_", "GOOGLE_", "BIGQUERY_"))
    }
    home = tmp_path / "snowflake_home"
    home.mkdir(exist_ok=True)
    env.update(SNOWFLAKE_HOME=str(home), HEX_API_TOKEN=TOKEN, **extra)
    return env


def run_child(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hex_exposures", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_unknown_snowflake_connection_fails_before_hex_is_asked(
    tmp_path: Path, hex_server: HexServer
) -> None:
    root = project(tmp_path / "p")
    env = child_env(tmp_path)
    toml = Path(env["SNOWFLAKE_HOME"]) / "connections.toml"
    toml.write_text('[prod]\naccount = "acme"\nuser = "HEX_AUDIT"\n')
    toml.chmod(0o600)
    argv = ["sync", "--project-dir", str(root), "--hex-url", hex_server.url]
    argv += ["--warehouse", "snowflake", "--snowflake-connection", "nope"]
    child = run_child(argv, env)
    assert child.returncode == 2, child.stderr
    [line] = error_lines(child.stderr)
    assert line.startswith("hex-exposures: error: --snowflake-connection: 'nope' is not in ")
    assert str(toml) in line and "known: prod" in line
    assert hex_server.requests == []
    assert child.stdout == ""


def test_no_snowflake_connection_at_all_fails_before_hex_is_asked(
    tmp_path: Path, hex_server: HexServer
) -> None:
    root = project(tmp_path / "p")
    argv = ["sync", "--project-dir", str(root), "--hex-url", hex_server.url]
    child = run_child([*argv, "--warehouse", "snowflake"], child_env(tmp_path))
    assert child.returncode == 2, child.stderr
    [line] = error_lines(child.stderr)
    assert "Snowflake: no connection configured" in line and "--snowflake-connection" in line
    assert hex_server.requests == []


def _no_google_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "BIGQUERY_EMULATOR_HOST", "K_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("CLOUD_RUN_JOB", "GCE_METADATA_HOST", "GCE_METADATA_IP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no ADC file there
    dmi = Path("/sys/class/dmi/id/product_name")
    if dmi.is_file() and dmi.read_text().startswith("Google"):
        pytest.skip("on Google Cloud the metadata server has credentials")


def test_missing_bigquery_credentials_fail_before_hex_is_asked(
    tmp_path: Path,
    hex_server: HexServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _no_google_credentials(tmp_path, monkeypatch)
    root = project(tmp_path / "p")
    argv = ["sync", "--project-dir", str(root), "--hex-url", hex_server.url, "--hex-token", TOKEN]
    code = main([*argv, "--warehouse", "bigquery", "--bigquery-project", "acme-prod"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    [line] = error_lines(err)
    assert "BigQuery: no credentials found" in line and "GOOGLE_APPLICATION_CREDENTIALS" in line
    assert hex_server.requests == []
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "key.json"))
    code = main([*argv, "--warehouse", "bigquery", "--bigquery-project", "acme-prod"])
    err = capsys.readouterr().err
    assert code == 2 and f"{tmp_path / 'key.json'}: no such file" in err
    assert hex_server.requests == []


@pytest.mark.parametrize(
    ("warehouse", "module", "extra"),
    [("snowflake", "snowflake.connector", "snowflake"), ("bigquery", "google.cloud", "bigquery")],
)
def test_a_missing_extra_fails_before_hex_is_asked(
    warehouse: str,
    module: str,
    extra: str,
    tmp_path: Path,
    hex_server: HexServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError, as uninstalled
    if warehouse == "bigquery":
        monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    root = project(tmp_path / "p")
    argv = ["sync", "--project-dir", str(root), "--hex-url", hex_server.url, "--hex-token", TOKEN]
    argv += ["--warehouse", warehouse]
    if warehouse == "bigquery":
        argv += ["--bigquery-project", "acme-prod"]
    else:
        argv += ["--snowflake-connection", "prod"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    [line] = error_lines(err)
    assert f"pip install 'hex-exposures[{extra}]'" in line
    assert hex_server.requests == []


def test_a_bad_token_fails_before_hex_is_asked(
    tmp_path: Path, hex_server: HexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p")
    argv = ["sync", "--project-dir", str(root), "--hex-url", hex_server.url]
    code = main([*argv, "--hex-token", "has spaces in it", "--warehouse", "snowflake"])
    err = capsys.readouterr().err
    assert code == 2 and "--hex-token" in err
    assert hex_server.requests == []


def test_a_hex_retry_says_what_is_retried_and_why(
    tmp_path: Path, hex_server: HexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI (impact lists Hex projects for app views): one 503, then success."""
    import re
    import shutil

    root = project(tmp_path / "p")
    shutil.copytree(root / "target", tmp_path / "state")
    hex_server.script("/api/v1/projects", 503)
    argv = ["impact", "--state", str(tmp_path / "state"), "--project-dir", str(root)]
    code = main([*argv, "--hex-url", hex_server.url, "--hex-token", TOKEN])
    err = capsys.readouterr().err
    assert code == 0, err
    [line] = [x for x in err.splitlines() if "retrying" in x]
    assert re.fullmatch(
        r"hex-exposures: Hex API: HTTP 503, retrying in \d+\.\d s \(attempt 2 of 5\)", line
    ), line
    assert [r.path for r in hex_server.requests][:2] == ["/api/v1/projects"] * 2
