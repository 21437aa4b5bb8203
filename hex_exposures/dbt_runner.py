"""dbt-core, imported only here and only when a command needs it (its import costs 2-3 s)."""

from __future__ import annotations

import os

from .errors import DbtError, MissingExtraError


def profiles_dir_for(project_dir: str, explicit: str | None) -> str | None:
    """--profiles-dir, else DBT_PROFILES_DIR (dbt reads it), else a profiles.yml in the project."""
    if explicit:
        return explicit
    if os.environ.get("DBT_PROFILES_DIR"):
        return None
    if os.path.isfile(os.path.join(project_dir, "profiles.yml")):
        return project_dir
    return None


def parse(
    project_dir: str, *, profiles_dir: str | None = None, target_path: str | None = None
) -> None:
    """Run `dbt parse` in-process so target/manifest.json reflects the project on disk."""
    try:
        from dbt.cli.main import dbtRunner
    except ImportError as err:  # pragma: no cover - dbt-core is a hard dependency
        raise MissingExtraError("dbt-core", "all") from err
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Errors come back in result.exception and are quoted in ours; dbt printing them too
    # would say everything twice.
    args = ["parse", "--project-dir", project_dir, "--quiet", "--log-level", "none"]
    profiles = profiles_dir_for(project_dir, profiles_dir)
    if profiles:
        args += ["--profiles-dir", profiles]
    if target_path:
        args += ["--target-path", target_path]
    result = dbtRunner().invoke(args)
    if not result.success:
        detail = str(result.exception or "see the dbt output above").strip().splitlines()
        raise DbtError(f"dbt parse failed in {project_dir}: {' '.join(detail)[:500]}")
