"""The command line's options, one decorator per group (SPEC: "Each command lists and
accepts only the options it uses"), so a command with a chosen subset is one line.

Every option defaults to None so that the config file and then the Settings default fill it
(`cli.settings_from`). Declarations only: nothing here reads a file or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Apply option decorators in reading order (the first listed shows first in --help)."""

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def _pairs(name: str) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], Any]:
    """KEY=VALUE items (repeatable) into a dict; None when the flag is not given."""

    def convert(
        _ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]
    ) -> dict[str, str] | None:
        if not items:
            return None
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=name)
            out[key.strip()] = value.strip()
        return out

    return convert


project_dir_option = click.option(
    "--project-dir",
    envvar="DBT_PROJECT_DIR",
    type=click.Path(file_okay=False),
    help="The dbt project (default: current directory).",
)
manifest_option = click.option(
    "--manifest", help="manifest.json (default: <project-dir>/<target-path>/manifest.json)."
)
parse_option = click.option(
    "--parse/--no-parse",
    "parse",
    default=None,
    help="Run `dbt parse` first to (re)build the manifest.",
)
profiles_dir_option = click.option(
    "--profiles-dir",
    help="profiles.yml folder for dbt parse (default: the project's own, else dbt's).",
)
output_option = click.option(
    "--output", help="The exposures file (default: <first model-path>/hex_exposures.yml)."
)
config_option = click.option(
    "--config",
    "config_file",
    help="Config file (default: <project-dir>/hex_exposures.yml when present).",
)
project_options = options(
    project_dir_option, manifest_option, parse_option, profiles_dir_option, output_option,
    config_option,
)  # fmt: skip

hex_url_option = click.option(
    "--hex-url", envvar="HEX_URL", help="Hex base URL (default https://app.hex.tech)."
)
hex_token_option = click.option(
    "--hex-token",
    envvar="HEX_API_TOKEN",
    help="Hex API token (env HEX_API_TOKEN; never put it in the config file).",
)
hex_options = options(
    hex_url_option,
    hex_token_option,
    click.option(
        "--workspace",
        envvar="HEX_WORKSPACE",
        help="Workspace for project URLs (default: learned from query comments, else "
        "/v1/users/me).",
    ),
    click.option(
        "--queried-tables/--no-queried-tables",
        "queried_tables",
        default=None,
        help="Use Hex's queriedTables API (Enterprise) as evidence (default on).",
    ),
    click.option(
        "--include-components/--no-include-components",
        "include_components",
        default=None,
        help="List Hex components too (default on).",
    ),
)
from_snapshot_option = click.option(
    "--from-snapshot",
    help="Read Hex projects and queries from a snapshot file instead of the network.",
)
live_option = click.option(
    "--live",
    is_flag=True,
    default=None,
    help="Ignore a configured from_snapshot: read Hex and the warehouse.",
)
input_options = options(
    from_snapshot_option,
    live_option,
    click.option(
        "--warehouse",
        envvar="HEX_EXPOSURES_WAREHOUSE",
        type=click.Choice(["snowflake", "bigquery"]),
        help="Default: the manifest's adapter_type.",
    ),
    click.option("--days", type=int, help="Days of query history to read (default 14)."),
    click.option(
        "--hex-user",
        "hex_user",
        multiple=True,
        metavar="NAME",
        help="Count only queries these warehouse users ran (Snowflake USER_NAME, BigQuery "
        "user_email; repeatable; applied in SQL; `auto`: the users Hex's data connections "
        "log in as). Default: every user.",
    ),
    click.option(
        "--include-context",
        help="Hex run contexts that count, comma-separated, or * (default "
        "SCHEDULED_RUN,APP_VIEW,LOGIC_VIEW).",
    ),
)
warehouse_options = options(
    click.option(
        "--snowflake-connection",
        help='connections.toml connection name ("" to use the SNOWFLAKE_* variables).',
    ),
    click.option(
        "--account-usage",
        help="Schema holding QUERY_HISTORY (default SNOWFLAKE.ACCOUNT_USAGE).",
    ),
    click.option(
        "--access-history/--no-access-history",
        "access_history",
        default=None,
        help="Use ACCOUNT_USAGE.ACCESS_HISTORY (default: when readable).",
    ),
    click.option(
        "--bigquery-project",
        multiple=True,
        help="Project whose jobs to read (repeatable; default: the manifest's databases).",
    ),
    click.option(
        "--bigquery-region",
        multiple=True,
        help="Region of the jobs views (repeatable; default us).",
    ),
)
exposure_options = options(
    click.option(
        "--columns/--no-columns",
        "columns",
        default=None,
        help="Write meta.referenced_columns, the columns each exposure reads (default on).",
    ),
    click.option(
        "--maturity-map",
        multiple=True,
        metavar="STATUS=LEVEL",
        callback=_pairs("--maturity-map"),
        help="Hex status to dbt maturity (repeatable; replaces the config file's map).",
    ),
    click.option(
        "--owner-map",
        multiple=True,
        metavar="EMAIL=NAME",
        callback=_pairs("--owner-map"),
        help="Owner display name by email (repeatable; replaces the config file's map).",
    ),
)


def format_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "format_",
        type=click.Choice(choices),
        help=f"Output format (default {choices[0]}).",
    )


log_options = options(
    click.option("--verbose", "-v", is_flag=True, default=None, help="Debug log on stderr."),
    click.option("--quiet", "-q", is_flag=True, default=None, help="Print errors only."),
)
# What a command that runs the whole pipeline reads.
pipeline_options = options(
    project_options, hex_options, input_options, warehouse_options, exposure_options
)
