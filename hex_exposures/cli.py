"""The command line: parse options, wire files and sources to `pipeline`, print, exit.

Each command is a small function returning its exit code; every error the tool raises on
purpose carries its code (errors.py) and is printed as one line by `main`.
"""

from __future__ import annotations

import functools
import gc
import io
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

import click

from . import __version__, config, files, safety
from .cli_options import (
    config_option,
    format_option,
    hex_options,
    hex_url_option,
    input_options,
    live_option,
    log_options,
    manifest_option,
    options,
    output_option,
    parse_option,
    pipeline_options,
    profiles_dir_option,
    project_dir_option,
    project_options,
    warehouse_options,
)
from .errors import ConfigError, DbtError, HexExposuresError, ManifestError
from .records import AUTO_USER, HexProject, HexQuery, Settings

if TYPE_CHECKING:
    from . import pipeline
    from .last_run import Hit, LastRun, Seen

log = logging.getLogger("hex_exposures")
_SECRETS: set[str] = set()
_SECRET_ENV = (
    "HEX_API_TOKEN",
    "SNOWFLAKE_PASSWORD",
    "SNOWFLAKE_PRIVATE_KEY_FILE_PWD",
    "SNOWFLAKE_TOKEN",
)


_TOKEN_SHAPE = re.compile(r"hxt[pw]_[A-Za-z0-9]{8,}")  # Hex personal and workspace tokens


def scrub(text: str) -> str:
    """Last line of defence: no known secret leaves the process in anything we print."""
    for secret in _SECRETS:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _TOKEN_SHAPE.sub("***", text)


def _remember_env_secrets() -> None:
    for name in _SECRET_ENV:
        if os.environ.get(name):
            _SECRETS.add(os.environ[name])


def show(text: str, *, err: bool = False, nl: bool = True, json_doc: bool = False) -> None:
    """Print text that may hold Hex, warehouse or server text: secrets scrubbed, escape
    sequences and control characters stripped (JSON: escaped). Every printer goes through
    here or `_ScrubFilter`; the tool's own colours are added after, by `click.style`."""
    clean = scrub(text)
    click.echo(safety.json_text(clean) if json_doc else safety.terminal_text(clean), err=err, nl=nl)


def _terminal_safe(value: Any) -> Any:
    """`value` (a report record) with every string in it cleaned for a terminal."""
    if isinstance(value, str):
        return safety.terminal_text(scrub(value), one_line=True)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_terminal_safe(v) for v in value))
    if isinstance(value, tuple | list):
        return type(value)(_terminal_safe(v) for v in value)
    if isinstance(value, Mapping):
        return {_terminal_safe(k): _terminal_safe(v) for k, v in value.items()}
    return value


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = safety.terminal_text(scrub(record.getMessage()))
        record.args = ()
        return True


def settings_from(kwargs: Mapping[str, Any]) -> Settings:
    """Flag > environment > config file > default; a command-line flag beats any file value."""
    values = dict(kwargs)
    values["format"] = values.pop("format_", None)
    values["config"] = values.pop("config_file", None)
    live = values.pop("live", None)
    if live and values.get("from_snapshot"):
        raise click.UsageError("--live and --from-snapshot contradict each other: pass one")
    if values.get("verbose") and values.get("quiet"):
        raise click.UsageError("--verbose and --quiet contradict each other: pass one")
    if values.get("verbose"):
        values["quiet"] = False  # a flag beats the other one set in the config file
    elif values.get("quiet"):
        values["verbose"] = False
    project_dir = values.get("project_dir") or "."
    values["project_dir"] = project_dir
    path = config.config_path(project_dir, values.get("config"))
    file_values: dict[str, Any] = {}
    if path:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            with open(path, encoding="utf-8") as f:
                data = YAML(typ="safe", pure=True).load(f)
        except (OSError, YAMLError, UnicodeDecodeError) as err:
            raise ConfigError(
                f"{path}: cannot be read as YAML: {str(err).splitlines()[0]}"
            ) from err
        file_values = config.from_file_data(data, path=path, project_dir=project_dir)
    if live:
        file_values.pop("from_snapshot", None)
    settings = config.resolve(values, file_values)
    if settings.hex_token:
        _SECRETS.add(settings.hex_token)
    _setup_logging(settings)
    return settings


def _setup_logging(settings: Settings) -> None:
    _remember_env_secrets()
    level = logging.DEBUG if settings.verbose else logging.ERROR if settings.quiet else logging.INFO
    log.setLevel(level)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    # On a terminal, clear a half-written progress line first (see _progress).
    clear = "\r\033[K" if not settings.quiet and sys.stderr.isatty() else ""
    handler.setFormatter(logging.Formatter(clear + "hex-exposures: %(message)s"))
    handler.addFilter(_ScrubFilter())
    log.addHandler(handler)
    # sqlglot logs a warning per odd construct it meets; thousands of Hex queries would bury
    # our own lines. Parse failures are counted and reported by us instead.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


class Inputs(NamedTuple):
    manifest: Mapping[str, Any]
    manifest_path: str
    output: str
    output_display: str
    projects: Sequence[HexProject]
    queries: Sequence[HexQuery]
    warehouse: str
    workspace: str | None
    hex_url: str  # --hex-url, else the snapshot's, for project URLs
    hex_users: tuple[str, ...] = ()  # --hex-user with `auto` resolved; empty: every user


def _paths(settings: Settings) -> tuple[str, str, files.ProjectPaths]:
    dbt = files.read_dbt_project(settings.project_dir)
    manifest = settings.manifest or os.path.join(
        settings.project_dir, dbt.target_path, "manifest.json"
    )
    output = settings.output or os.path.join(
        settings.project_dir, dbt.model_paths[0], "hex_exposures.yml"
    )
    # Only a .yml under a resource path: dbt reads no other, and nothing else is ours.
    output = safety.check_output(output, settings.project_dir, dbt.resource_paths)
    return manifest, output, dbt


def _load_manifest(settings: Settings) -> tuple[Mapping[str, Any], str, str]:
    manifest_path, output, dbt = _paths(settings)
    if settings.parse:
        from . import dbt_runner

        target = os.path.dirname(os.path.abspath(manifest_path))
        log.info("running dbt parse in %s", settings.project_dir)
        try:
            dbt_runner.parse(
                settings.project_dir, profiles_dir=settings.profiles_dir, target_path=target
            )
        except DbtError as err:
            # A broken exposures file (say, a hand-added ref to a model that is gone) makes
            # dbt parse fail, and sync is how it gets repaired: parse without it.
            ours = os.path.relpath(output, settings.project_dir).replace(os.sep, "/")
            if not os.path.isfile(output) or not (
                ours in str(err) or _names_our_exposure(str(err), output)
            ):
                raise
            log.warning("dbt parse fails on %s itself; parsing the project without it", ours)
            dbt_runner.parse(
                settings.project_dir,
                profiles_dir=settings.profiles_dir,
                target_path=target,
                without=output,
            )
    else:
        _warn_if_stale(settings, manifest_path, output, dbt)
    return files.read_manifest(manifest_path), manifest_path, output


def _warn_if_stale(
    settings: Settings, manifest_path: str, output: str, dbt: files.ProjectPaths
) -> None:
    if os.path.isfile(manifest_path):
        newest = files.newest_source_mtime(settings.project_dir, dbt.model_paths, ignore=output)
        if newest > os.stat(manifest_path).st_mtime:
            log.warning(
                "%s is older than the project's models; pass --parse to rebuild it first",
                os.path.relpath(manifest_path),
            )


def _names_our_exposure(error: str, output: str) -> bool:
    """Does dbt's error name an exposure of our file? ("Node exposure.proj.hex_x attempted to
    reference node model.proj.m, which is not allowed because ... private ..." names no file.)"""
    from . import yaml_merge

    named = set(re.findall(r"\bexposure\.[A-Za-z0-9_]+\.([A-Za-z0-9_]+)", error))
    if not named:
        return False
    try:
        return bool(
            named & yaml_merge.exposure_names(files.read_existing(output).text, path=output)
        )
    except HexExposuresError:
        return False


def _progress(settings: Settings) -> Callable[[str], None] | None:
    if settings.quiet or not sys.stderr.isatty():
        return None
    return lambda line: click.echo(
        f"\r\033[K{safety.terminal_text(scrub(line), one_line=True)}", err=True, nl=False
    )


def gather(settings: Settings, *, need_manifest: bool = True) -> Inputs:
    """Read the manifest, then Hex projects and queries (snapshot or live). Writes nothing."""
    from . import pipeline

    hex_url = settings.hex_url
    snap = None
    if settings.from_snapshot:
        from .sources import snapshot

        snap = snapshot.load(settings.from_snapshot)  # before a slow --parse: fail fast
    try:
        manifest, manifest_path, output = _load_manifest(settings)
    except ManifestError:
        if need_manifest or not settings.warehouse:
            raise
        manifest, manifest_path, output = {}, "", settings.output or ""
    users: tuple[str, ...] = ()
    if snap is not None and settings.from_snapshot:
        warehouse = pipeline.choose_warehouse(settings, manifest, snap.warehouse)
        # auto from a snapshot: the users its capture was limited to (snapshot -o --hex-user)
        why = f"{settings.from_snapshot} was captured for every user"
        users = hex_users(settings.hex_user, snap.hex_users, why)
        snap = snapshot.for_users(snap, users, path=settings.from_snapshot, warehouse=warehouse)
        projects: Sequence[HexProject] = snap.projects
        queries: Sequence[HexQuery] = snap.queries
        workspace = settings.workspace or snap.workspace
        default_url = Settings._field_defaults["hex_url"]
        if settings.hex_url == default_url and snap.hex_url:
            hex_url = snap.hex_url
    else:
        projects, queries, warehouse, workspace, users = _live(settings, manifest)
    return Inputs(
        manifest=manifest,
        manifest_path=manifest_path,
        output=output,
        output_display=os.path.relpath(output, settings.project_dir) if output else "",
        projects=projects,
        queries=queries,
        warehouse=warehouse,
        workspace=workspace,
        hex_url=hex_url,
        hex_users=users,
    )


def hex_users(
    names: Sequence[str], found: Sequence[str] | None, why_none: str | None
) -> tuple[str, ...]:
    """--hex-user with `auto` replaced by `found` (what Hex's data connections log in as).

    When auto finds nobody the run goes on, said in one line: with the other names given,
    with every user otherwise, the default (a project-scoped connection can log in as a user
    the workspace's connections do not show, and dropping its queries would cost recall).
    """
    explicit = tuple(n for n in names if n != AUTO_USER)
    if AUTO_USER not in names:
        return explicit
    if found:
        log.info("--hex-user auto: %s (Hex's data connections)", ", ".join(found))
        return tuple(dict.fromkeys((*explicit, *found)))
    rest = f"counting only {', '.join(explicit)}" if explicit else "counting every user"
    log.warning("--hex-user auto found no warehouse user: %s; %s", why_none, rest)
    return explicit


def _live(
    settings: Settings, manifest: Mapping[str, Any]
) -> tuple[list[HexProject], list[HexQuery], str, str | None, tuple[str, ...]]:
    from . import pipeline
    from .hex_cache import cache_path
    from .manifest import build_index
    from .sources import open_hex, open_warehouse, preflight_warehouse

    warehouse = pipeline.choose_warehouse(settings, manifest)
    progress = _progress(settings)
    databases = build_index(manifest, warehouse).databases if manifest else ()
    # Every local precondition before the first request: a wrong connection name must not
    # wait behind a slow or unreachable Hex.
    target = files.read_dbt_project(settings.project_dir).target_path
    hex_source = open_hex(
        settings, progress=progress, cache_path=cache_path(settings.project_dir, target)
    )
    try:
        preflight_warehouse(settings, warehouse, default_projects=databases)
        projects = hex_source.projects()
        found, why = (
            hex_source.connection_users(warehouse) if AUTO_USER in settings.hex_user else ((), None)
        )
        users = hex_users(settings.hex_user, found, why)
        wh = open_warehouse(
            settings._replace(hex_user=users),
            warehouse,
            default_projects=databases,
            progress=progress,
        )
        try:
            queries = list(wh.queries(settings.days))
        finally:
            wh.close()
        if settings.queried_tables:
            queries += hex_source.queried_tables(projects, warehouse)
        workspace = (
            settings.workspace or pipeline.learn_workspace(queries) or hex_source.workspace()
        )
    finally:
        hex_source.close()
        if progress:
            click.echo("\r\033[K", err=True, nl=False)
    return projects, queries, warehouse, workspace, users


def compute(
    settings: Settings,
    *,
    writes: bool = False,
    needs: Sequence[str] = ("report", "exposures"),
) -> tuple[Inputs, files.Existing, pipeline.RunResult | Hit]:
    """Run the pipeline on the inputs `settings` name.

    A `--from-snapshot` run whose inputs are byte for byte the last run's gets the last
    answer without reading them (last_run.py): a `last_run.Hit` with the parts in `needs`
    read, the file it was worked out against unread (`Existing` holds its digest only), and
    `Inputs` with the paths only (no manifest, projects or queries). `writes`: the command
    writes the file it computes (sync), so the answer against that file is worked out too,
    for the next run.
    """
    from .last_run import DIRNAME

    target = files.read_dbt_project(settings.project_dir).target_path
    folder = os.path.join(settings.project_dir, target, DIRNAME)
    last = _last_run(settings, folder, needs)
    if last is not None and last.hit is not None:
        return last.inputs, last.existing, last.hit
    from . import pipeline
    from .parallel import parallel_columns, parallel_extractor
    from .parse_cache import ParseCache

    inputs = gather(settings)
    # The inputs live until the process ends: keep the collector from rescanning them.
    gc.freeze()
    existing = files.read_existing(inputs.output)
    # Parses persist under <target-path>/ (safe to delete); large batches use every core.
    cache = ParseCache.for_project(settings.project_dir, target)
    # What the exposures file said when last written: an unchanged file is not parsed again.
    memo = files.JsonMemo(os.path.join(folder, "run_memo.json"))
    prepared = pipeline.prepare(
        inputs.manifest,
        inputs.projects,
        inputs.queries,
        settings=settings._replace(hex_url=inputs.hex_url),
        cache=cache,
        workspace=inputs.workspace,
        warehouse=inputs.warehouse,
        extractor=parallel_extractor,
        column_extractor=parallel_columns,
        restricted_packages=files.restricted_packages(settings.project_dir),
        catalog=_catalog(os.path.join(os.path.dirname(inputs.manifest_path), "catalog.json"))
        if settings.columns and inputs.manifest_path
        else None,
    )
    cache.save()
    result = pipeline.conclude(
        prepared, existing=existing.text, output_path=inputs.output_display, memo=memo.data
    )
    if last is not None:
        if result.text == existing.text:
            last.memo.remember(last.key, last.seen, result.text, result)
        elif writes:
            # What the next run will find: the file this run writes (same inputs otherwise).
            again = pipeline.conclude(
                prepared, existing=result.text, output_path=inputs.output_display, memo=memo.data
            )
            if again.text == result.text:
                last.memo.remember(last.key, last.seen, result.text, again)
    memo.save()
    return inputs, existing, result


class _Last(NamedTuple):
    memo: LastRun
    key: str
    seen: Mapping[str, Seen]
    existing: files.Existing  # on a hit, the digest only
    hit: Hit | None
    inputs: Inputs


def _last_run(settings: Settings, folder: str, needs: Sequence[str]) -> _Last | None:
    """The last-run memo for a run from a snapshot (not with --parse: dbt rewrites inputs)."""
    if not settings.from_snapshot or settings.parse:
        return None
    from . import last_run

    manifest_path, output, dbt = _paths(settings)
    catalog = os.path.join(os.path.dirname(manifest_path), "catalog.json")
    memo = last_run.LastRun(os.path.join(folder, last_run.FILENAME))
    seen = memo.seen(
        [settings.from_snapshot, manifest_path, *([catalog] if settings.columns else [])]
    )
    # How the answer is shown (format, verbosity) is no part of it: sync, check and report
    # share one entry, and `--verbose` after a quiet run is a hit.
    shown = settings._replace(format="text", verbose=False, quiet=False)
    parts = {
        "settings": repr(shown),
        "manifest": manifest_path,
        "output": output,
        "cwd": os.getcwd(),
        "restricted": sorted(files.restricted_packages(settings.project_dir)),
    }
    key = last_run.run_key(parts, seen)
    hit = memo.look_up(key, output, needs=needs)
    if hit is not None:
        _warn_if_stale(settings, manifest_path, output, dbt)
        log.debug("inputs unchanged since the last run: its answer is reused")
    inputs = Inputs(
        manifest={},
        manifest_path=manifest_path,
        output=output,
        output_display=os.path.relpath(output, settings.project_dir),
        projects=(),
        queries=(),
        warehouse=hit.warehouse if hit else "",
        workspace=hit.head.workspace if hit else None,
        hex_url=settings.hex_url,
    )
    existing = files.Existing(None, hit.digest if hit else None)
    return _Last(memo, key, seen, existing, hit, inputs)


# --- commands ---------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hex-exposures")
def cli() -> None:
    """Write dbt exposures for Hex projects from the tables they really queried."""


def cli_command(
    *groups: Callable[[Any], Any], name: str | None = None
) -> Callable[[Callable[..., int]], click.Command]:
    """Register a command with exactly the option groups it uses; the group's help shows the
    docstring's whole first line (click would cut it at ~45 characters)."""

    def register(f: Callable[..., int]) -> click.Command:
        first = (f.__doc__ or "").strip().splitlines()[0]
        return cli.command(name=name, short_help=first)(options(*groups)(f))

    return register


def command(f: Callable[[Settings], int]) -> Callable[..., int]:
    """Hand the command its resolved Settings instead of click's keyword arguments."""

    @functools.wraps(f)
    def wrapper(**kwargs: Any) -> int:
        return f(settings_from(kwargs))

    return wrapper


_table_option = click.option(
    "--table/--no-table",
    "table",
    default=None,
    help="Print the exposures and their dependencies as a short table on stdout (default: "
    "when stdout is a terminal, so scripts and pre-commit get only the log lines).",
)


@cli_command(pipeline_options, _table_option, log_options)
def sync(table: bool | None, **kwargs: Any) -> int:
    """Write the exposures file (only when its bytes change).

    Runs the pipeline: manifest, Hex projects, warehouse query history, dbt nodes.
    """
    settings = settings_from(kwargs)
    table = table if table is not None else (sys.stdout.isatty() and not settings.quiet)
    inputs, existing, result = compute(settings, writes=True, needs=("exposures",) if table else ())
    if _is_hit(result):  # the file holds this answer already: nothing to write or compare
        for line in result.head.renamed:
            log.warning("renamed %s", line)
        for line in result.warnings:
            log.warning("%s", line)
        log.info("%s is up to date", inputs.output_display)
        log.info("%s", result.head.summary)
    else:
        from . import report

        for line in result.report.renamed:
            log.warning("renamed %s", line)
        for line in result.warnings:
            log.warning("%s", line)
        written = files.write_if_changed(inputs.output, result.text, existing)
        summary = report.changes_text(
            report.changes(existing.text, result.text, inputs.output_display)
        )
        if written:
            log.info("wrote %s: %s", inputs.output_display, summary)
        else:
            log.info("%s is up to date", inputs.output_display)
        log.info("%s", report.summary_line(result.report))
    if table:
        from . import report

        click.echo(report.exposures_table(result.exposures, style=_style()))
    return 0


def _is_hit(result: pipeline.RunResult | Hit) -> TypeGuard[Hit]:
    """A remembered answer (`last_run.Hit`), told apart without importing the pipeline."""
    return hasattr(result, "head")


_offline_option = click.option(
    "--offline",
    is_flag=True,
    help="No network: check against the snapshot when one is configured, else check the "
    "file's shape and that every dependency is a node in the manifest (for pre-commit).",
)


@cli_command(_offline_option, pipeline_options, format_option("text", "json"), log_options)
def check(offline: bool, **kwargs: Any) -> int:
    """Exit 1 with a diff when the exposures file is out of date.

    Runs what sync runs, writes nothing; prints a unified diff and a summary on stdout.
    """
    settings = settings_from(kwargs)
    problems: list[str] = []
    warnings: list[str] = []  # listed with the problems; they do not make the file differ
    new_text: str | None = None  # None: the remembered answer, which the file holds
    if offline and not settings.from_snapshot:
        path, existing, new_text, problems = _offline(settings)
        warnings = _keep_warnings(existing.text, path)
    else:
        inputs, existing, result = compute(settings, needs=())
        path, warnings = inputs.output_display, list(result.warnings)
        new_text = None if _is_hit(result) else result.text
    diff: str = ""
    items: list[Any] = []
    if new_text is not None:
        from . import report

        diff = report.unified_diff(existing.text, new_text, path=path)
        items = report.changes(existing.text, new_text, path) if diff else []
    differs = bool(diff or problems)
    if settings.format == "json":
        counts = {k: sum(1 for c in items if c.kind == k) for k in ("added", "removed", "changed")}
        doc = {
            "up_to_date": not differs,
            "path": path,
            "summary": counts,
            "changes": [c._asdict() for c in items],
            "problems": problems + warnings,
            "diff": diff,
        }
        show(json.dumps(doc, indent=2, ensure_ascii=False), json_doc=True)
    else:
        for line in warnings:
            log.warning("%s", line)
    if settings.format != "json" and differs:
        for line in problems:
            show(line)
        if diff:
            from . import report

            click.echo(_colour_diff(safety.terminal_text(scrub(diff))), nl=False)
            show(report.changes_text(items))
        hint = "fix the file by hand" if offline and not settings.from_snapshot else ""
        click.echo(
            f"hex-exposures: {path} is out of date: run `hex-exposures sync`"
            + (f" or {hint}" if hint else ""),
            err=True,
        )
    elif not differs:
        log.info("%s is up to date", path)  # stderr: stdout stays empty for scripts
    return 1 if differs else 0


def _keep_warnings(text: str | None, path: str) -> list[str]:
    """`keep` entries that name no tool field, for check --offline (no manifest layout needed:
    the marker is found in either place)."""
    from . import yaml_merge

    return yaml_merge.keep_warnings(text, path=path)


def _offline(settings: Settings) -> tuple[str, files.Existing, str, list[str]]:
    """check --offline without a snapshot: the file against the manifest, no network."""
    from . import pipeline
    from .validate import offline_expected

    manifest, _manifest_path, output = _load_manifest(settings)
    warehouse = pipeline.choose_warehouse(settings, manifest)
    path = os.path.relpath(output, settings.project_dir)
    existing = files.read_existing(output)
    if existing.text is None:
        log.info("%s does not exist yet: nothing to check offline", path)
        return path, existing, "", []
    text, problems = offline_expected(
        manifest,
        existing.text,
        warehouse=warehouse,
        path=path,
        restricted_packages=files.restricted_packages(settings.project_dir),
    )
    return path, existing, text, problems


_ROLES: dict[str, dict[str, Any]] = {
    "good": {"fg": "green", "bold": True},
    "warn": {"fg": "yellow", "bold": True},
    "dim": {"bold": True, "dim": True},
    "title": {"bold": True},
}


def _style() -> Callable[[str, str], str]:
    """Colour for report text on a terminal only: piped or redirected output stays plain."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return lambda text, _role: text
    return lambda text, role: click.style(text, **_ROLES.get(role, {}))


def _colour_diff(diff: str) -> str:
    """Colour a unified diff; click strips the colour again when stdout is not a terminal."""
    out = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            out.append(click.style(line, bold=True))
        elif line.startswith("+"):
            out.append(click.style(line, fg="green"))
        elif line.startswith("-"):
            out.append(click.style(line, fg="red"))
        elif line.startswith("@@"):
            out.append(click.style(line, fg="cyan"))
        else:
            out.append(line)
    return "".join(out)


@cli_command(
    project_dir_option, manifest_option, profiles_dir_option, output_option, config_option,
    log_options,
)  # fmt: skip
@command
def validate(settings: Settings) -> int:
    """Run `dbt parse`; fail if a managed exposure lost a dependency.

    Also fails when a managed exposure's name is reused by another exposure.
    """
    from . import dbt_runner
    from .errors import DbtError
    from .validate import dbt_problems, managed_items

    manifest_path, output, _dbt = _paths(settings)
    try:
        dbt_runner.parse(
            settings.project_dir,
            profiles_dir=settings.profiles_dir,
            target_path=os.path.dirname(os.path.abspath(manifest_path)),
        )
    except DbtError as err:
        show(str(err))
        return 1
    manifest = files.read_manifest(manifest_path)
    existing = files.read_existing(output)
    path = os.path.relpath(output, settings.project_dir)
    problems = dbt_problems(manifest, existing.text, path=path)
    for line in problems:
        show(line)
    if problems:
        log.error("%s: %d problem(s); dbt parse alone would not have failed", path, len(problems))
        return 1
    log.info(
        "%s: dbt parse passed; all %d managed exposures keep every dependency",
        path,
        len(managed_items(existing.text)),
    )
    return 0


@cli_command(pipeline_options, format_option("text", "json"), log_options, name="report")
@command
def report_command(settings: Settings) -> int:
    """Per Hex project: dbt nodes, unmatched tables, query counts."""
    from . import report

    _inputs, _existing, result = compute(settings, needs=("report",))
    if settings.format == "json":
        show(report.report_json(result.report), json_doc=True)
    else:
        # Hex and warehouse text cleaned field by field, so the tool's own colours survive.
        clean = _terminal_safe(result.report)
        click.echo(report.report_text(clean, days=settings.days, style=_style()))
    return 0


@cli_command(
    click.option(
        "-o", "--output-file", "output_file", required=True, help="Where to write the snapshot."
    ),
    project_dir_option, manifest_option, parse_option, profiles_dir_option, config_option,
    hex_options, input_options, warehouse_options, log_options,
)  # fmt: skip
def snapshot(output_file: str, **kwargs: Any) -> int:
    """Save Hex projects and Hex queries to one JSON file, no secrets.

    For offline runs with --from-snapshot; the queries are grouped by text.
    """
    from .sources import snapshot as snap

    settings = settings_from(kwargs)
    inputs = gather(settings, need_manifest=False)
    text = snap.dumps(
        inputs.projects,
        inputs.queries,
        warehouse=inputs.warehouse,
        workspace=inputs.workspace,
        hex_url=inputs.hex_url,
        captured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        hex_users=inputs.hex_users,
    )
    files.write_if_changed(output_file, text, files.read_existing(output_file))
    log.info(
        "wrote %s: %d projects, %d queries", output_file, len(inputs.projects), len(inputs.queries)
    )
    return 0


@cli_command(
    click.option(
        "--state",
        required=True,
        type=click.Path(),
        help="Folder with the production manifest.json (dbt's --state convention).",
    ),
    click.option(
        "--format",
        "format_",
        type=click.Choice(["markdown", "json"]),
        default="markdown",
        show_default=True,
        help="markdown: a table to post as a pull-request comment.",
    ),
    click.option(
        "--fail-on",
        type=click.Choice(["breaking"]),
        help="Exit 1 when a Hex project reads a column that is gone or retyped.",
    ),
    project_options,
    hex_url_option,
    click.option(
        "--hex-token",
        envvar="HEX_API_TOKEN",
        help="Hex API token for app views (env HEX_API_TOKEN; without one, views are unknown).",
    ),
    click.option("--from-snapshot", help="Read Hex projects (app views) from a snapshot."),
    live_option,
    log_options,
    name="impact",
)
def impact_command(state: str, format_: str, fail_on: str | None, **kwargs: Any) -> int:
    """Managed Hex exposures downstream of nodes changed since --state."""
    from . import impact, impact_report

    settings = settings_from(kwargs)
    state_manifest = _state_manifest(state)
    projects = _impact_projects(settings)
    manifest, manifest_path, output = _load_manifest(settings)
    existing = files.read_existing(output)
    gc.freeze()  # two big manifests live until exit: keep the collector from rescanning them
    result = impact.impact(
        state_manifest,
        manifest,
        file_items=_exposure_items(existing.text, output) if existing.text is not None else None,
        projects=projects,
        state_catalog=_catalog(os.path.join(state, "catalog.json")),
        current_catalog=_catalog(os.path.join(os.path.dirname(manifest_path), "catalog.json")),
    )
    if format_ == "json":
        show(impact_report.impact_json(result), json_doc=True)
    else:
        show(impact_report.impact_markdown(result))
    log.debug("%d modified nodes, %d exposures", len(result.modified), len(result.exposures))
    breaking = any(e.breaking_columns for e in result.exposures)
    return 1 if fail_on == "breaking" and breaking else 0


def _state_manifest(state: str) -> Mapping[str, Any]:
    path = os.path.join(state, "manifest.json")
    if not os.path.isdir(state):
        raise ConfigError(f"--state: {state}: no such folder (it should hold manifest.json)")
    if not os.path.isfile(path):
        raise ConfigError(
            f"--state: {path}: no such file (download the production manifest.json there)"
        )
    return files.read_manifest(path)


def _impact_projects(settings: Settings) -> Mapping[str, HexProject] | None:
    """Hex projects by id for app views: snapshot, else the API with a token, else None."""
    if settings.from_snapshot:
        from .sources import snapshot

        return {p.id: p for p in snapshot.load(settings.from_snapshot).projects}
    if not settings.hex_token:
        log.info("no --from-snapshot and no Hex token: app views are unknown")
        return None
    from .sources import open_hex

    source = open_hex(settings, progress=_progress(settings))
    try:
        return {p.id: p for p in source.projects()}
    finally:
        source.close()


def _exposure_items(text: str, path: str) -> list[Mapping[str, Any]] | None:
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        log.warning("%s is not valid YAML: reading exposures from the manifests only", path)
        return None
    items = data.get("exposures") if isinstance(data, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _catalog(path: str) -> Mapping[str, Any] | None:
    """catalog.json (dbt docs generate) for column types; None when absent or unreadable."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.warning("%s: ignored (%s)", path, str(err).splitlines()[0])
        return None
    return data if isinstance(data, Mapping) else None


# --- entry point ------------------------------------------------------------------------


@contextmanager
def _errors() -> Iterator[list[int]]:
    code = [0]
    try:
        yield code
    except HexExposuresError as err:
        show(f"hex-exposures: error: {safety.terminal_text(str(err), one_line=True)}", err=True)
        code[0] = err.exit_code
    except click.exceptions.Exit as err:
        code[0] = err.exit_code
    except click.ClickException as err:
        shown = io.StringIO()  # click quotes the bad value, which may be a pasted secret
        err.show(file=shown)
        show(shown.getvalue(), err=True, nl=False)
        code[0] = err.exit_code
    except click.exceptions.Abort:
        click.echo("hex-exposures: aborted", err=True)
        code[0] = 130
    except KeyboardInterrupt:
        click.echo("hex-exposures: interrupted; nothing written", err=True)
        code[0] = 130
    except Exception as err:  # a bug of ours: one scrubbed line, the traceback only at debug
        log.debug("%s", "".join(traceback.format_exception(err)))
        line = scrub(f"{type(err).__name__}: {err}".splitlines()[0])
        show(
            f"hex-exposures: internal error: {safety.terminal_text(line, one_line=True)}"
            " (nothing written; rerun with --verbose for the traceback and report it)",
            err=True,
        )
        code[0] = 3


def main(argv: Sequence[str] | None = None) -> int:
    _remember_env_secrets()  # before any option or config value can be echoed in an error
    with _errors() as code:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="hex-exposures",
            standalone_mode=False,
        )
        code[0] = result if isinstance(result, int) else 0
    return code[0]
