"""Hex-issued queries from BigQuery's ``INFORMATION_SCHEMA.JOBS_BY_PROJECT``.

One query per (project, region): the view is regional and per project, and one query cannot
read two regions. BigQuery does the heavy lifting (time window on the partition column, the
Hex marker, grouping by text and project); this module streams the groups page by page.

google-cloud-bigquery is imported lazily so the extra costs nothing until it is used, and
every Google error becomes a one-line `WarehouseError` here, at the edge.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import ConfigError, MissingExtraError, WarehouseError
from ..records import AUTO_USER, HexQuery, Settings, user_key
from . import Progress

PAGE_SIZE = 5_000
"""Rows per getQueryResults page (benchmarks/bigquery_bench.py): 100,000 rows take 20 round
trips and ~70 MiB of transient memory; 1,000 would take 100 round trips (each one a network
latency against BigQuery) for ~55 MiB less, 10,000 saves 10 trips for ~45 MiB more."""

# Identifiers cannot be query parameters, so project and region are spliced into the table
# path; both are validated first (`_project`, `_region`). `@days` is a real parameter.
# Scripts run as a parent job (the whole text, with the Hex comment) plus child jobs (one
# statement each, maybe without it): keep the parent only. Cached runs have no
# referenced_tables, so they are aggregated over every run of the same text. The tables come
# back as one STRING of backticked names joined by ',' (a character no BigQuery project,
# dataset or table name can hold): the client converts a REPEATED RECORD cell ~10x slower.
# Only the last non-blank line is Hex's comment (hex_comment.py): REGEXP_CONTAINS with `$`
# (RE2: the end of the text) keeps texts whose comment ends them, and the project id is read
# from that line (`[^\n]*` cannot reach back to an earlier line's comment).
LAST_LINE_SQL = r"REGEXP_CONTAINS(query, r'--[ \t]*Hex query metadata:[ \t]*\{[^\n]*\}\s*$')"
JOBS_SQL = r"""
WITH hex_jobs AS (
  SELECT
    project_id,
    -- Hex gives every run its own trace_id: blank it, or no two runs would group.
    REGEXP_REPLACE(query, r'"trace_id": *"[^"]*"', '"trace_id": ""') AS query,
    creation_time,
    referenced_tables,
    user_email,
    REGEXP_EXTRACT(
      query, r'--[ \t]*Hex query metadata:[^\n]*"project_id": *"([^"]+)"[^\n]*\}\s*$'
    ) AS hex_project_id
  FROM `{project}`.`region-{region}`.INFORMATION_SCHEMA.JOBS_BY_PROJECT
  WHERE creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days DAY)
    AND job_type = 'QUERY'
    AND state = 'DONE'
    AND error_result IS NULL
    AND parent_job_id IS NULL
    AND query LIKE '%Hex query metadata%'
    AND {last_line}{users}
)
SELECT
  hex_project_id,
  project_id AS job_project,
  query,
  user_email,
  COUNT(*) AS run_count,
  MAX(creation_time) AS last_seen,
  ARRAY_TO_STRING(ARRAY(
    SELECT DISTINCT CONCAT('`', t.project_id, '`.`', t.dataset_id, '`.`', t.table_id, '`')
    FROM UNNEST(ARRAY_CONCAT_AGG(referenced_tables)) AS t
  ), ',') AS referenced_tables
FROM hex_jobs
WHERE hex_project_id IS NOT NULL
GROUP BY hex_project_id, project_id, query, user_email
""".replace("{last_line}", LAST_LINE_SQL)

_PROJECT_RE = re.compile(r"[a-z][a-z0-9\-:.]*")
_REGION_RE = re.compile(r"[a-z0-9\-]+")
_GRANT = (
    "grant bigquery.jobs.listAll and bigquery.jobs.create on it "
    "(roles/bigquery.resourceViewer + roles/bigquery.user)"
)

ClientFactory = Callable[[str], Any]
"""Builds a ``bigquery.Client`` for a default (billing) project; tests inject their own."""


USERS_SQL = "\n    AND LOWER(user_email) IN UNNEST(@hex_users)"
"""--hex-user: an ARRAY<STRING> parameter of lower-cased names (emails compare that way)."""


def jobs_sql(project: str, region: str, *, users: bool = False) -> str:
    """The history query for one project and region (both validated, never user SQL)."""
    sql = JOBS_SQL.replace("{project}", _project(project)).replace("{region}", _region(region))
    return sql.replace("{users}", USERS_SQL if users else "")


def location_for(region: str) -> str:
    """The job location a region qualifier needs: region-us runs in US, region-eu in EU."""
    region = _region(region)
    return region.upper() if region in ("us", "eu") else region


def _project(project: str) -> str:
    if not _PROJECT_RE.fullmatch(project):
        raise ConfigError(
            f"--bigquery-project: {project!r} is not a BigQuery project id "
            "(lower-case letters, digits, '-', and 'domain:' or '.' for domain-scoped ids)"
        )
    return project


def _region(region: str) -> str:
    if not _REGION_RE.fullmatch(region):
        raise ConfigError(
            f"--bigquery-region: {region!r} is not a BigQuery region (e.g. us, eu, europe-west2)"
        )
    return region


def _normal_region(region: str) -> str:
    """Accept ``US`` and ``region-us`` for ``us``: the forms people copy from the console."""
    region = region.strip().lower()
    return region.removeprefix("region-")


class BigQuerySource:
    """A live BigQuery client plus the projects and regions whose job history it reads."""

    def __init__(
        self,
        client: Any,
        projects: Sequence[str],
        regions: Sequence[str],
        *,
        from_manifest: bool = False,
        progress: Progress | None = None,
        users: Sequence[str] = (),
    ) -> None:
        if AUTO_USER in users:  # the CLI asks Hex first; a caller that did not has a bug
            raise ConfigError("--hex-user auto: resolve it from the Hex API before reading jobs")
        self.users = tuple(users)
        self._client = client
        self.projects = tuple(_project(p) for p in projects)
        self.regions = tuple(_region(r) for r in regions)
        self._from_manifest = from_manifest
        self._progress = progress

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        default_projects: Sequence[str] = (),
        progress: Progress | None = None,
        client_factory: ClientFactory | None = None,
    ) -> BigQuerySource:
        projects, regions, from_manifest = _targets(settings, default_projects)
        factory = client_factory or _default_client
        try:
            client = factory(projects[0])
        except Exception as err:
            if not _is_google_error(err):
                raise
            raise _translate(err, projects[0], None, from_manifest=from_manifest) from err
        return cls(
            client,
            projects,
            regions or ("us",),
            from_manifest=from_manifest,
            progress=progress,
            users=settings.hex_user,
        )

    def queries(self, days: int) -> Iterator[HexQuery]:
        """One record per (Hex project, job project, text), streamed page by page."""
        if days < 1:
            raise ConfigError(f"--days: must be at least 1, not {days}")
        bigquery = _bigquery()
        parameters: list[Any] = [bigquery.ScalarQueryParameter("days", "INT64", days)]
        if self.users:
            names = [user_key(u, "bigquery") for u in self.users]
            parameters.append(bigquery.ArrayQueryParameter("hex_users", "STRING", names))
        config = bigquery.QueryJobConfig(query_parameters=parameters, use_legacy_sql=False)
        for project in self.projects:
            for region in self.regions:
                count = 0
                try:
                    job = self._client.query(
                        jobs_sql(project, region, users=bool(self.users)),
                        job_config=config,
                        location=location_for(region),
                        project=project,
                    )
                    for row in job.result(page_size=PAGE_SIZE):
                        record = _record(row, project)
                        if record is not None:
                            count += 1
                            yield record
                except Exception as err:
                    if not _is_google_error(err):
                        raise
                    raise _translate(
                        err, project, region, from_manifest=self._from_manifest
                    ) from err
                if self._progress is not None:
                    self._progress(
                        f"BigQuery {project} region-{region}: {count} distinct Hex queries"
                    )

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()


def _record(row: Any, project: str) -> HexQuery | None:
    hex_project = row["hex_project_id"]
    text = row["query"]
    if not hex_project or not text:
        return None
    last_seen = row["last_seen"]
    tables = {t for t in (row["referenced_tables"] or "").split(",") if t}
    return HexQuery(
        project_id=str(hex_project),
        query_text=str(text),
        database=row["job_project"] or project,
        schema=None,
        run_count=int(row["run_count"] or 0),
        last_seen=last_seen.isoformat() if last_seen is not None else None,
        tables=(),
        fallback_tables=tuple(sorted(tables)),
        warehouse_user=row["user_email"] or None,
    )


def _targets(
    settings: Settings, default_projects: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(projects, regions, projects came from the manifest), each checked."""
    projects = tuple(dict.fromkeys(p.strip() for p in settings.bigquery_project if p.strip()))
    from_manifest = not projects
    if from_manifest:
        projects = tuple(dict.fromkeys(p for p in default_projects if p))
    if not projects:
        raise ConfigError(
            "--bigquery-project: no BigQuery project to read job history from; pass the "
            "project(s) Hex runs its queries in"
        )
    regions = tuple(dict.fromkeys(_normal_region(r) for r in settings.bigquery_region))
    for p in projects:
        _project(p)
    for r in regions or ("us",):
        _region(r)
    return projects, regions, from_manifest


_ON_GOOGLE_ENV = ("K_SERVICE", "CLOUD_RUN_JOB", "GCE_METADATA_HOST", "GCE_METADATA_IP")


def preflight(
    settings: Settings, default_projects: Sequence[str], environ: Mapping[str, str]
) -> None:
    """Everything knowable without the network: the extra, projects and regions, and that
    some credential exists (an emulator host, GOOGLE_APPLICATION_CREDENTIALS naming a file,
    gcloud's application-default file, or a Google Cloud machine's metadata server)."""
    _targets(settings, default_projects)
    _bigquery()
    if environ.get("BIGQUERY_EMULATOR_HOST", "").strip():
        return
    named = environ.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    if named:
        if not os.path.isfile(named):
            raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS: {named}: no such file")
        return
    if os.path.isfile(_adc_path()) or any(environ.get(v) for v in _ON_GOOGLE_ENV):
        return
    try:
        with open("/sys/class/dmi/id/product_name", encoding="utf-8") as f:
            if f.read().startswith("Google"):
                return  # a Compute Engine machine: the metadata server has credentials
    except OSError:
        pass
    raise ConfigError(
        "BigQuery: no credentials found; run `gcloud auth application-default login` or set "
        "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
    )


def _adc_path() -> str:
    try:
        from google.auth import _cloud_sdk

        return str(_cloud_sdk.get_application_default_credentials_path())
    except Exception:  # a private helper: fall back to gcloud's documented place
        return os.path.expanduser("~/.config/gcloud/application_default_credentials.json")


def _default_client(project: str) -> Any:
    """ADC (or GOOGLE_APPLICATION_CREDENTIALS); an emulator host gets anonymous credentials."""
    bigquery = _bigquery()
    host = os.environ.get("BIGQUERY_EMULATOR_HOST", "").strip()
    if host:
        from google.auth.credentials import AnonymousCredentials

        if "://" not in host:
            host = "http://" + host
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": host},
        )
    return bigquery.Client(project=project)


def _bigquery() -> Any:
    try:
        from google.cloud import bigquery
    except ImportError as err:
        raise MissingExtraError("google-cloud-bigquery", "bigquery") from err
    return bigquery


def _is_google_error(err: BaseException) -> bool:
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from requests.exceptions import RequestException

    return isinstance(err, GoogleAPIError | GoogleAuthError | RequestException)


def _translate(
    err: BaseException, project: str, region: str | None, *, from_manifest: bool
) -> Exception:
    """A Google, auth or transport error as one actionable line (never a credential)."""
    from google.api_core import exceptions as api
    from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError

    if isinstance(err, api.RetryError) and isinstance(err.cause, Exception):
        err = err.cause
    where = f"project {project}" + (f" region-{region}" if region else "")
    hint = (
        " (project taken from the manifest; pass --bigquery-project to choose the projects"
        " Hex runs its queries in)"
        if from_manifest
        else ""
    )
    detail = _one_line(getattr(err, "message", None) or str(err))
    if isinstance(err, DefaultCredentialsError):
        return WarehouseError(
            "BigQuery: no Google credentials found; set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account key file or run `gcloud auth application-default login` "
            f"({detail})"
        )
    if isinstance(err, GoogleAuthError):
        return WarehouseError(
            f"BigQuery: Google credentials were refused for {where}; refresh them with "
            f"`gcloud auth application-default login` or check GOOGLE_APPLICATION_CREDENTIALS "
            f"({detail})"
        )
    reasons = {e.get("reason") for e in getattr(err, "errors", None) or () if isinstance(e, dict)}
    if isinstance(err, api.Forbidden) and reasons & {"rateLimitExceeded", "quotaExceeded"}:
        return WarehouseError(
            f"BigQuery quota or rate limit hit on {where}; retry later ({detail})"
        )
    if isinstance(err, api.Forbidden):
        return WarehouseError(
            f"BigQuery denied reading job history of {where} (403): {_GRANT} to the account "
            f"running hex-exposures{hint} ({detail})"
        )
    if region and (isinstance(err, api.NotFound) or "not found in location" in detail.lower()):
        return WarehouseError(
            f"BigQuery has no INFORMATION_SCHEMA.JOBS_BY_PROJECT for {where} "
            f"(location {location_for(region)}): check --bigquery-region and "
            f"--bigquery-project{hint} ({detail})"
        )
    if isinstance(err, api.GoogleAPICallError):
        code = f" ({err.code})" if err.code else ""
        return WarehouseError(f"BigQuery job history query failed for {where}{code}: {detail}")
    return WarehouseError(f"BigQuery could not be reached for {where}: {detail}")


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
