"""Options from flag > environment variable > config file > default, into one `Settings`.

click already puts a flag before its environment variable; this module fills what is still
unset from the config file (YAML, long option names with underscores as keys), checks every
value, and names the file or option in any error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import safety
from .errors import ConfigError
from .records import WAREHOUSES, Settings

# Keys a config file may hold, with the type each must have.
_FILE_KEYS: dict[str, type | tuple[type, ...]] = {
    "manifest": str,
    "parse": bool,
    "output": str,
    "hex_url": str,
    "workspace": str,
    "warehouse": str,
    "days": int,
    "from_snapshot": str,
    "include_context": (str, list),
    "format": str,
    "verbose": bool,
    "quiet": bool,
    "queried_tables": bool,
    "include_components": bool,
    "snowflake_connection": str,
    "account_usage": str,
    "access_history": bool,
    "bigquery_project": (str, list),
    "bigquery_region": (str, list),
    "maturity_map": dict,
    "owner_map": dict,
    "profiles_dir": str,
    "columns": bool,
    "hex_user": (str, list),
    "no_columns": bool,  # the --no-columns spelling: `no_columns: true` is `columns: false`
}
_PATH_KEYS = ("manifest", "output", "from_snapshot", "profiles_dir")
_SECRET_KEYS = ("hex_token", "token", "password", "snowflake_password", "private_key")
CONFIG_NAME = "hex_exposures.yml"


def config_path(project_dir: str, explicit: str | None) -> str | None:
    if explicit:
        if not os.path.isfile(explicit):
            raise ConfigError(f"--config: {explicit}: no such file")
        return explicit
    candidate = os.path.join(project_dir, CONFIG_NAME)
    return candidate if os.path.isfile(candidate) else None


def from_file_data(data: object, *, path: str, project_dir: str) -> dict[str, Any]:
    """Check a loaded config file and turn it into option values (paths made absolute)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        if key in _SECRET_KEYS:
            raise ConfigError(
                f"{path}: '{raw_key}' must not be in the config file (it is committed); "
                "set HEX_API_TOKEN or pass --hex-token"
            )
        expected = _FILE_KEYS.get(key)
        if expected is None:
            known = ", ".join(sorted(_FILE_KEYS))
            raise ConfigError(f"{path}: unknown option '{raw_key}' (known: {known})")
        if value is None:
            continue
        if (isinstance(value, bool) and expected is int) or not isinstance(value, expected):
            raise ConfigError(
                f"{path}: option '{raw_key}' has the wrong type ({type(value).__name__})"
            )
        if key == "no_columns":
            key, value = "columns", not value
        if key in _PATH_KEYS:
            value = os.path.join(project_dir, os.path.expanduser(str(value)))
        out[key] = value
    return out


def resolve(values: Mapping[str, Any], file_values: Mapping[str, Any]) -> Settings:
    """`values`: flag-or-env values from click (None when unset); `file_values`: the config file."""
    merged: dict[str, Any] = {}
    for key in Settings._fields:
        value = values.get(key)
        if value is None or value == ():
            value = file_values.get(key)
        if value is not None:
            merged[key] = value
    return _check(Settings(**merged))


def _as_tuple(value: object, option: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        raise ConfigError(f"{option}: expected a comma-separated list")
    return tuple(i.strip() for i in items if i.strip())


def check_hex_users(value: object) -> tuple[str, ...]:
    """--hex-user names (repeatable, or a comma-separated config value), each one line of
    printable text; `auto` (lower case) stands for the Hex data connections' users."""
    if isinstance(value, list | tuple) and any(not str(v).strip() for v in value):
        raise ConfigError("--hex-user: a user name is empty")
    names = _as_tuple(value, "--hex-user")
    for name in names:
        if len(name) > 255 or not name.isprintable():
            raise ConfigError(
                f"--hex-user: {name[:40]!r} is not a warehouse user name (one line of "
                "printable text, at most 255 characters)"
            )
    return tuple(dict.fromkeys(names))


def _check(s: Settings) -> Settings:
    if s.warehouse is not None and s.warehouse not in WAREHOUSES:
        raise ConfigError(f"--warehouse: {s.warehouse!r} is not one of: {', '.join(WAREHOUSES)}")
    if s.format not in ("text", "json"):
        raise ConfigError(f"--format: {s.format!r} is not one of: text, json")
    if not isinstance(s.days, int) or s.days < 1 or s.days > 365:
        raise ConfigError(f"--days: {s.days!r} must be a whole number of days from 1 to 365")
    contexts = tuple(
        c.upper() if c != "*" else c for c in _as_tuple(s.include_context, "--include-context")
    )
    if not contexts:
        raise ConfigError("--include-context: name at least one context, or * for all")
    for key in ("maturity_map", "owner_map"):
        mapping = getattr(s, key)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise ConfigError(f"{key}: expected a mapping of strings to strings")
    bad = [v for v in s.maturity_map.values() if v not in ("high", "medium", "low")]
    if bad:
        raise ConfigError(f"maturity_map: {bad[0]!r} is not one of: high, medium, low")
    # --hex-url, HEX_URL or the config's hex_url: https only (http to loopback), checked
    # here, before any connection can carry the token.
    hex_url = safety.check_hex_url(s.hex_url)
    return s._replace(
        hex_user=check_hex_users(s.hex_user),
        include_context=contexts,
        bigquery_project=_as_tuple(s.bigquery_project, "--bigquery-project"),
        bigquery_region=_as_tuple(s.bigquery_region, "--bigquery-region") or ("us",),
        hex_url=hex_url,
    )
