"""Our pre-commit hooks, run by pre-commit itself in a throwaway git repository that holds a
copy of sample_dbt_project (its config reads Hex from the bundled snapshot and parses with
dbt-duckdb, so nothing needs a network or a credential).

The default tests load `.pre-commit-hooks.yaml` and run its hooks as `repo: local` hooks with
`language: system`, so the `hex-exposures` of the running environment is used: pre-commit's
own `language: python` install of this package and its dependencies needs a package index.
That full install runs in `test_installed_hook_*`, only with HEX_EXPOSURES_SLOW_TESTS=1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_dbt_project"
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"
EXPOSURES = Path("models/hex_exposures.yml")
CHECK = "hex-exposures-check"
SYNC = "hex-exposures-sync"

# A managed exposure of the sample and one dependency it really has; the hand edit swaps
# that dependency for a model it does not read.
EDIT_FROM = "      - ref('fct_sessions')\n"
EDIT_TO = "      - ref('fct_refunds')\n"
EDITED_EXPOSURE = "hex_churn_analysis_9f9c96e0"

SLOW = os.environ.get("HEX_EXPOSURES_SLOW_TESTS") == "1"


def _load_hooks() -> dict[str, dict[str, Any]]:
    hooks = yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in hooks}


def _env(pre_commit_home: Path) -> dict[str, str]:
    """The caller's environment with our venv's bin first on PATH, a private PRE_COMMIT_HOME
    and nothing that could point the tool or git somewhere else."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEX_", "DBT_", "GIT_", "PRE_COMMIT")) and k != "SKIP"
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> tuple[int, str]:
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout


def _git(repo: Path, env: dict[str, str], *args: str) -> str:
    code, out = _run(["git", *args], repo, env)
    assert code == 0, out
    return out


def _pre_commit(
    repo: Path, env: dict[str, str], *args: str, timeout: float = 180
) -> tuple[int, str]:
    return _run([sys.executable, "-m", "pre_commit", *args, "--color", "never"], repo, env, timeout)


def _make_sample_repo(repo: Path, env: dict[str, str], config: dict[str, Any]) -> None:
    """A git repo holding sample_dbt_project, freshly synced, with `config` as its
    .pre-commit-config.yaml, all committed."""
    shutil.copytree(
        SAMPLE, repo, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb")
    )
    (repo / EXPOSURES).unlink(missing_ok=True)  # a local sync's output, not part of the sample
    (repo / ".gitignore").write_text("target/\nlogs/\ndbt_packages/\n*.duckdb\n.user.yml\n")
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    _git(repo, env, "init", "-q")
    for key, value in [
        ("user.email", "dev@example.com"),
        ("user.name", "Dev"),
        ("commit.gpgsign", "false"),
    ]:
        _git(repo, env, "config", key, value)
    code, out = _run(["hex-exposures", "sync", "--project-dir", "."], repo, env)
    assert code == 0, out
    assert (repo / EXPOSURES).is_file(), out
    _git(repo, env, "add", "-A")
    _git(repo, env, "commit", "-q", "-m", "sample with synced exposures")


def _hand_edit(repo: Path) -> bytes:
    path = repo / EXPOSURES
    text = path.read_text(encoding="utf-8")
    block = text.index(f"  - name: {EDITED_EXPOSURE}\n")
    start = text.index(EDIT_FROM, block)
    assert text.rfind("  - name: ", 0, start) == block, "the line belongs to another exposure"
    path.write_text(text[:start] + EDIT_TO + text[start + len(EDIT_FROM) :], encoding="utf-8")
    return path.read_bytes()


def _assert_fails_with_diff(code: int, out: str) -> None:
    assert code == 1, out
    assert re.search(r"^hex-exposures check \(offline\)\.+Failed$", out, re.M), out
    assert f"- hook id: {CHECK}" in out and "- exit code: 1" in out, out
    # The committed file has fct_refunds where Hex's queries say fct_sessions.
    assert "\n-" + EDIT_TO in out, out
    assert "\n+" + EDIT_FROM in out, out
    assert "files were modified by this hook" not in out, out


# --- the hooks file ---------------------------------------------------------------------


def test_hooks_file_is_a_valid_manifest_with_both_hooks(tmp_path: Path) -> None:
    code, out = _run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(HOOKS_FILE)],
        ROOT,
        _env(tmp_path),
    )
    assert code == 0, out
    hooks = _load_hooks()
    assert set(hooks) == {CHECK, SYNC}

    check, sync = hooks[CHECK], hooks[SYNC]
    assert check["name"] == "hex-exposures check (offline)"
    assert check["entry"] == "hex-exposures check --offline"
    assert check["language"] == sync["language"] == "python"
    assert check["pass_filenames"] is False and sync["pass_filenames"] is False
    assert "stages" not in check and "always_run" not in check
    assert "credentials" in check["description"]
    assert sync["entry"] == "hex-exposures sync"
    assert sync["stages"] == ["manual"] and sync["always_run"] is True
    assert "HEX_API_TOKEN" in sync["description"] and "warehouse" in sync["description"]


@pytest.mark.parametrize(
    ("path", "runs"),
    [
        ("models/hex_exposures.yml", True),
        ("models/marts/fct_orders.sql", True),
        ("models/staging/_sources.yml", True),
        ("models/x.yaml", True),
        ("dbt_project.yml", True),
        ("hex_snapshot.json", True),
        ("hex_exposures.yml", True),
        ("analytics/dbt/models/staging/stg_users.sql", True),
        ("analytics/dbt/dbt_project.yml", True),
        ("ci/hex_snapshot.json", True),
        ("README.md", False),
        ("seeds/country_codes.csv", False),
        ("models/README.md", False),
        ("my_dbt_project.yml", False),
        ("analyses/models.sql", False),
        ("old_hex_snapshot.json", False),
    ],
)
def test_check_hook_files_pattern(path: str, runs: bool) -> None:
    assert bool(re.search(_load_hooks()[CHECK]["files"], path)) is runs


# --- pre-commit running the hooks with the installed hex-exposures ------------------------


@pytest.fixture(scope="module")
def sample_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The sample, synced and committed, whose .pre-commit-config.yaml has our two hooks as
    local hooks: every key of .pre-commit-hooks.yaml but `language: system`."""
    base = tmp_path_factory.mktemp("precommit")
    env = _env(base / "pre-commit-home")
    hooks = [{**hook, "language": "system"} for hook in _load_hooks().values()]
    _make_sample_repo(base / "repo", env, {"repos": [{"repo": "local", "hooks": hooks}]})
    return base / "repo", env


@pytest.fixture
def repo(sample_repo: tuple[Path, dict[str, str]]) -> Iterator[tuple[Path, dict[str, str]]]:
    yield sample_repo
    path, env = sample_repo
    _git(path, env, "reset", "-q", "--hard")


def test_check_hook_passes_on_a_fresh_sync_and_sync_hook_waits(
    repo: tuple[Path, dict[str, str]],
) -> None:
    path, env = repo
    before = (path / EXPOSURES).read_bytes()
    code, out = _pre_commit(path, env, "run", "--all-files")
    assert code == 0, out
    assert re.search(r"^hex-exposures check \(offline\)\.+Passed$", out, re.M), out
    # The sync hook is manual: a plain run neither runs nor lists it.
    assert "hex-exposures sync" not in out, out
    assert (path / EXPOSURES).read_bytes() == before
    assert _git(path, env, "status", "--porcelain") == ""

    code, out = _pre_commit(path, env, "run", SYNC)
    assert code == 1 and f"No hook with id `{SYNC}` in stage `pre-commit`" in out, out


def test_check_hook_fails_with_the_diff_after_a_hand_edit(
    repo: tuple[Path, dict[str, str]],
) -> None:
    path, env = repo
    edited = _hand_edit(path)
    # Staged, as in a real commit: the hook runs because the exposures file matches `files`.
    _git(path, env, "add", str(EXPOSURES))
    code, out = _pre_commit(path, env, "run")
    _assert_fails_with_diff(code, out)
    assert f"changed  {EDITED_EXPOSURE}" in out, out
    assert (path / EXPOSURES).read_bytes() == edited


def test_check_hook_is_skipped_when_no_dbt_file_changes(
    repo: tuple[Path, dict[str, str]],
) -> None:
    path, env = repo
    (path / "README.md").write_text("edited\n")
    _git(path, env, "add", "README.md")
    code, out = _pre_commit(path, env, "run")
    assert code == 0, out
    assert re.search(r"^hex-exposures check \(offline\)\.+\(no files to check\)Skipped$", out, re.M)


# --- pre-commit installing this package itself (needs a package index) ---------------------


@pytest.mark.skipif(not SLOW, reason="set HEX_EXPOSURES_SLOW_TESTS=1 (pip-installs the package)")
def test_installed_hook_passes_then_fails_with_the_diff(tmp_path: Path) -> None:
    """`language: python` as users get it: pre-commit clones a repository holding this working
    tree and pip-installs it into its own environment. The sample parses with dbt-duckdb, so
    the hook needs it as an additional dependency (as a Snowflake project needs dbt-snowflake);
    `pre-commit try-repo` cannot add one, hence a config with a local `repo:` path."""
    env = _env(tmp_path / "pre-commit-home")
    source = tmp_path / "hex-exposures"
    shutil.copytree(ROOT / "hex_exposures", source / "hex_exposures")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, source / name)
    _git(source, env, "init", "-q")
    _git(source, env, "add", "-A")
    _git(
        source, env, "-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-qm", "x"
    )
    rev = _git(source, env, "rev-parse", "HEAD").strip()
    hook = {"id": CHECK, "additional_dependencies": ["dbt-duckdb>=1.8,<1.12"]}
    config = {"repos": [{"repo": str(source), "rev": rev, "hooks": [hook]}]}
    path = tmp_path / "repo"
    _make_sample_repo(path, env, config)

    code, out = _pre_commit(path, env, "run", "--all-files", timeout=900)
    assert code == 0, out
    assert re.search(r"^hex-exposures check \(offline\)\.+Passed$", out, re.M), out

    edited = _hand_edit(path)
    code, out = _pre_commit(path, env, "run", "--all-files")
    _assert_fails_with_diff(code, out)
    assert (path / EXPOSURES).read_bytes() == edited
