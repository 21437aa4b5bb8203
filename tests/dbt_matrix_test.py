"""The sample on every supported dbt minor, with that version's own dbt (issue 12). No mocks.

`.ci/dbt-venvs` builds .venvs/dbt-<minor>/ (dbt-core and dbt-duckdb of the minor, plus this
package); each test runs that venv's `hex-exposures sync` (which runs that dbt's parse
in-process), then its `dbt parse` and `dbt ls -s tag:hex --resource-type exposure` as
subprocesses, and reads the manifest dbt wrote. The sample copy has one model made private
in a group, which Hex queries read: it must never break a parse. The venvs are optional
locally (the tests skip, saying how to build them); under CI=true a missing venv fails.

The scenarios are subprocesses with nothing shared, so one module fixture starts them all at
once (a thread each waits on its subprocesses) and each test checks its own outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_dbt_project"
VENVS = Path(os.environ.get("HEX_EXPOSURES_DBT_VENVS") or REPO / ".venvs")
MINORS = ("1.8", "1.9", "1.10", "1.11")
OUT = Path("models") / "hex_exposures.yml"
MANAGED = {
    "hex_churn_analysis_17cb56b5",
    "hex_churn_analysis_9f9c96e0",
    "hex_customer_filters",
    "hex_revenue_by_region_yes_if_wip",
    "hex_ubersicht_umsatze",
    "hex_weekly_revenue",
}
PRIVATE = "  - name: fct_refunds\n    access: private\n    group: finance\n"
GROUPS = "groups:\n  - name: finance\n    owner: {name: Finance}\n"


def built(minor: str) -> bool:
    path = VENVS / f"dbt-{minor}"
    return (path / "bin" / "dbt").is_file() and (path / "bin" / "hex-exposures").is_file()


def venv(minor: str) -> Path:
    """The version's venv, or skip (fail under CI=true: CI must run the matrix)."""
    path = VENVS / f"dbt-{minor}"
    if not built(minor):
        why = f"no dbt {minor} venv at {path}: build it with `bash .ci/dbt-venvs`"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI=true: the version matrix must run)")
        pytest.skip(why)
    return path


def sample(dest: Path, minor: str) -> Path:
    """A copy of the sample with fct_refunds private to a group; on dbt 1.8 (no YAML
    snapshots) its snapshot in SQL form."""
    ignore = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.duckdb.wal")
    shutil.copytree(SAMPLE, dest, ignore=ignore)
    (dest / OUT).unlink()
    marts = dest / "models" / "marts" / "_marts.yml"
    text = marts.read_text(encoding="utf-8")
    text = text.replace("  - name: fct_refunds\n", PRIVATE).replace(
        "models:\n", GROUPS + "models:\n"
    )
    marts.write_text(text, encoding="utf-8")
    if minor == "1.8":
        (dest / "snapshots" / "snap_users.yml").unlink()
        shutil.copy(
            REPO / "tests" / "fixtures" / "snap_users_dbt18.sql",
            dest / "snapshots" / "snap_users.sql",
        )
    return dest


def run(bin_dir: Path, tool: str, *args: str, cwd: Path, ok: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "VIRTUAL_ENV"))}
    env.update(DO_NOT_TRACK="1", PATH=f"{bin_dir}:{env.get('PATH', '')}")
    proc = subprocess.run(
        [str(bin_dir / tool), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if ok and proc.returncode != 0:
        raise AssertionError(
            f"{tool} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def sync(env: Path, project: Path, *args: str) -> str:
    return run(
        env / "bin", "hex-exposures", "sync", "--project-dir", str(project), *args, cwd=project
    )


def dbt_parse_and_ls(env: Path, project: Path) -> tuple[dict[str, Any], set[str]]:
    """That version's `dbt parse`, then `dbt ls -s tag:hex --resource-type exposure`."""
    common = ("--project-dir", str(project), "--profiles-dir", str(project))
    run(env / "bin", "dbt", "parse", "--no-partial-parse", *common, cwd=project)
    manifest = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    listed = run(
        env / "bin", "dbt", "ls", "-s", "tag:hex", "--resource-type", "exposure",
        "--output", "name", "--quiet", *common, cwd=project,
    )  # fmt: skip
    return manifest, {line.strip() for line in listed.splitlines() if line.strip()}


def managed_in_manifest(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["name"]: e
        for e in manifest["exposures"].values()
        if (e.get("meta") or {}).get("hex_exposures", {}).get("managed") is True
    }


def file_items(project: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load((project / OUT).read_text("utf-8"))["exposures"]
    return items


def assert_layout(project: Path, minor: str) -> None:
    top = minor in ("1.8", "1.9")
    for item in file_items(project):
        config = item.get("config") or {}
        if top:
            assert "hex_exposures" in item["meta"] and "hex" in item["tags"]
            assert not {"tags", "meta"} & set(config), item["name"]
        else:
            assert "hex_exposures" in config["meta"] and "hex" in config["tags"]
            assert not {"tags", "meta"} & set(item), item["name"]


def sample_on(minor: str, tmp_path: Path) -> None:
    env = VENVS / f"dbt-{minor}"
    project = sample(tmp_path / "p", minor)
    sync(env, project)
    assert_layout(project, minor)
    manifest, listed = dbt_parse_and_ls(env, project)
    assert manifest["metadata"]["dbt_version"].startswith(minor + ".")
    assert listed == MANAGED  # tag:hex selects every managed exposure
    managed = managed_in_manifest(manifest)
    assert set(managed) == MANAGED  # and their meta carries the marker
    for e in managed.values():
        assert e["meta"]["hex_exposures"]["project_id"] in e["url"]
        assert "hex" in e["tags"]
    # The private model is read by two projects but is no one's parent.
    parents = {uid for e in managed.values() for uid in e["depends_on"]["nodes"]}
    assert "model.acme_analytics.fct_refunds" not in parents
    assert "model.acme_analytics.fct_orders" in parents
    report = json.loads(
        run(env / "bin", "hex-exposures", "report", "--project-dir", str(project),
            "--no-parse", "--format", "json", "--quiet", cwd=project)
    )  # fmt: skip
    refused = [i for p in report["projects"] for i in p.get("not_allowed", [])]
    assert {i["node"] for i in refused} == {"model.acme_analytics.fct_refunds"}
    assert {i["group"] for i in refused} == {"finance"}
    # Steady state on this version: nothing to change.
    run(env / "bin", "hex-exposures", "check", "--project-dir", str(project), "--no-parse",
        "--quiet", cwd=project)  # fmt: skip


def upgrade(tmp_path: Path) -> None:
    old, new = VENVS / "dbt-1.9", VENVS / "dbt-1.11"
    project = sample(tmp_path / "p", "1.9")
    sync(old, project)
    assert_layout(project, "1.9")
    out = sync(new, project)
    assert "6 changed" in out, out
    assert_layout(project, "1.11")
    manifest, listed = dbt_parse_and_ls(new, project)
    assert listed == MANAGED
    assert set(managed_in_manifest(manifest)) == MANAGED
    before = (project / OUT).read_bytes()
    sync(new, project)
    assert (project / OUT).read_bytes() == before


def clash(minor: str, tmp_path: Path) -> None:
    env = VENVS / f"dbt-{minor}"
    project = sample(tmp_path / "p", minor)
    sync(env, project)
    (project / "models" / "by_hand.yml").write_text(
        "version: 2\nexposures:\n  - name: hex_weekly_revenue\n    type: dashboard\n"
        "    owner: {name: Finance}\n    depends_on: [\"ref('fct_orders')\"]\n",
        encoding="utf-8",
    )
    check = run(env / "bin", "hex-exposures", "check", "--project-dir", str(project),
                cwd=project, ok=False)  # fmt: skip
    assert "hex_weekly_revenue_0e50c729" in check
    out = sync(env, project)
    assert "renamed hex_weekly_revenue -> hex_weekly_revenue_0e50c729" in out
    assert "up to date" not in out
    manifest, listed = dbt_parse_and_ls(env, project)
    assert listed == (MANAGED - {"hex_weekly_revenue"}) | {"hex_weekly_revenue_0e50c729"}
    names = {e["name"]: e["original_file_path"] for e in manifest["exposures"].values()}
    assert names["hex_weekly_revenue"] == "models/by_hand.yml"


SCENARIOS: dict[str, tuple[tuple[str, ...], Callable[[Path], None]]] = {
    **{f"sample-{m}": ((m,), lambda tmp, m=m: sample_on(m, tmp)) for m in MINORS},
    "upgrade": (("1.9", "1.11"), upgrade),
    **{f"clash-{m}": ((m,), lambda tmp, m=m: clash(m, tmp)) for m in ("1.8", "1.11")},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[None]]]:
    """Start every scenario whose venvs exist, at once (2 cores: about 1.6x faster)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {
            name: pool.submit(work, tmp_path_factory.mktemp(name))
            for name, (minors, work) in SCENARIOS.items()
            if all(built(m) for m in minors)
        }


@pytest.mark.parametrize("minor", MINORS)
def test_sample_on_each_dbt_version(minor: str, outcomes: dict[str, Future[None]]) -> None:
    venv(minor)
    outcomes[f"sample-{minor}"].result()


def test_upgrade_from_19_to_111_moves_the_file_in_one_sync(
    outcomes: dict[str, Future[None]],
) -> None:
    venv("1.9")
    venv("1.11")
    outcomes["upgrade"].result()


@pytest.mark.parametrize("minor", ["1.8", "1.11"])
def test_a_clash_added_by_hand_after_a_sync(minor: str, outcomes: dict[str, Future[None]]) -> None:
    venv(minor)
    outcomes[f"clash-{minor}"].result()
