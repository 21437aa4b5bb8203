"""dbt-core, imported only here and only when a command needs it (its import costs 2-3 s)."""

from __future__ import annotations

import os
import tempfile

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
    project_dir: str,
    *,
    profiles_dir: str | None = None,
    target_path: str | None = None,
    without: str | None = None,
) -> None:
    """Run `dbt parse` in-process so target/manifest.json reflects the project on disk.

    `without`: a file to leave out (our own exposures file, when it is what breaks the
    parse); dbt then parses a mirror of the project made of symlinks, in a temporary folder.
    """
    if without:
        with tempfile.TemporaryDirectory(prefix="hex-exposures-parse-") as tmp:
            mirror = os.path.join(tmp, "project")
            _mirror(project_dir, mirror, os.path.abspath(without))
            target = target_path or os.path.join(os.path.abspath(project_dir), "target")
            profiles = profiles_dir_for(project_dir, profiles_dir)
            _invoke(
                mirror,
                profiles_dir=os.path.abspath(profiles) if profiles else None,
                target_path=target,
                extra=["--no-partial-parse"],
                shown_dir=project_dir,
            )
        return
    _invoke(
        project_dir,
        profiles_dir=profiles_dir_for(project_dir, profiles_dir),
        target_path=target_path,
    )


def _mirror(source: str, dest: str, skip: str) -> None:
    """`dest` mirrors `source` with symlinks, except `skip`.

    dbt does not descend into symlinked folders below a path it walks, so the top-level
    folder holding `skip` (the model path) is rebuilt from real folders with file links.
    """
    os.makedirs(dest)
    for name in os.listdir(source):
        path = os.path.abspath(os.path.join(source, name))
        if path == skip:
            continue
        if os.path.isdir(path) and skip.startswith(path + os.sep):
            for root, _dirs, names in os.walk(path):
                here = os.path.join(dest, name, os.path.relpath(root, path))
                os.makedirs(here, exist_ok=True)
                for file in names:
                    full = os.path.join(root, file)
                    if os.path.abspath(full) != skip:
                        os.symlink(full, os.path.join(here, file))
        else:
            os.symlink(path, os.path.join(dest, name))


def _invoke(
    project_dir: str,
    *,
    profiles_dir: str | None,
    target_path: str | None,
    extra: list[str] | None = None,
    shown_dir: str | None = None,
) -> None:
    try:
        from dbt.cli.main import dbtRunner
    except ImportError as err:  # pragma: no cover - dbt-core is a hard dependency
        raise MissingExtraError("dbt-core", "all") from err
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Errors come back in result.exception and are quoted in ours; dbt printing them too
    # would say everything twice.
    args = ["parse", "--project-dir", project_dir, "--quiet", "--log-level", "none"]
    if profiles_dir:
        args += ["--profiles-dir", profiles_dir]
    if target_path:
        args += ["--target-path", target_path]
    result = dbtRunner().invoke(args + (extra or []))
    if not result.success:
        detail = str(result.exception or "see the dbt output above").strip().splitlines()
        shown = shown_dir or project_dir
        raise DbtError(f"dbt parse failed in {shown}: {' '.join(detail)[:500]}")
