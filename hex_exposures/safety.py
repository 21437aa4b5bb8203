"""Small pure guards for what crosses a trust boundary (SECURITY.md "Threat model").

- `is_uuid`: Hex project ids are UUIDs; anything else never reaches a file dbt renders.
- `check_hex_url`: the token only travels over HTTPS (plain http:// only to loopback).
- `link_base`: a Hex URL made safe to build project links from (no Jinja, no odd host).
- `terminal_text` / `json_text`: Hex and warehouse text on its way to a terminal, without
  escape sequences, control or bidi characters.
- `fix_surrogates`: lone UTF-16 surrogates (JSON ``"\\ud83d"``) become U+FFFD.
- `check_output`: the exposures file is a ``.yml`` under one of the project's resource paths.

Only `errors` is imported, so the core, the sources and the shell can all use these.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import ConfigError

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# A DNS name (letters, digits, hyphens, dots; IDNA already encoded) or an IPv6 literal.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+\Z|\[[0-9A-Fa-f:.]+\]\Z")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def is_uuid(value: object) -> bool:
    """The standard 8-4-4-4-12 hexadecimal form the Hex spec gives `ProjectId`."""
    return isinstance(value, str) and _UUID.match(value) is not None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: the only hosts plain HTTP may carry the token to."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_hex_url(url: str, *, option: str = "--hex-url") -> str:
    """`url` stripped, refused unless it is https (or http to a loopback host), has a plain
    host name and carries no user name or password. Called before any connection."""
    text = (url or "").strip()
    if not text:
        raise ConfigError(f"{option} is empty")
    if "://" not in text:
        raise ConfigError(f"{option}: {text!r} must start with https://")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{option}: not a URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{option}: not an http(s) URL: {url!r}")
    if "@" in parts.netloc:
        raise ConfigError(f"{option} must not contain a user name or password")
    if not _HOST.match(host if ":" not in host else f"[{host}]"):
        raise ConfigError(f"{option}: {host!r} is not a host name")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{option}: https is required: {parts.scheme}://{parts.netloc} would send the Hex"
            " token in cleartext (plain http:// is allowed only to 127.0.0.1, ::1 or localhost)"
        )
    return text


def link_base(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, path) of a Hex URL to build links from, every character of the path
    that is not a plain URL character percent-encoded (so ``{{`` cannot reach dbt's Jinja).
    A netloc that is not ``host[:port]`` raises ValueError."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = parts.hostname or ""
    parts.port  # noqa: B018 - raises ValueError on a bad port
    if (
        parts.scheme not in ("http", "https")
        or "@" in parts.netloc
        or not _HOST.match(host if ":" not in host else f"[{host}]")
    ):
        raise ValueError(f"not a Hex URL: {url!r}")
    return parts.scheme, parts.netloc.lower(), quote(parts.path, safe="/%-._~!$&'()*+,;=:@")


# --- terminals ------------------------------------------------------------------------------

# ESC sequences (CSI, OSC such as OSC 8 links and OSC 52 clipboard writes, DCS/SOS/PM/APC
# strings, and two-character escapes), in their 7-bit and 8-bit (C1) forms.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI ... final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences
)
# C0 (but tab and newline), DEL, C1, and the Unicode controls that reorder or hide text
# (bidi embeddings, overrides and isolates, "Trojan Source"), line/paragraph separators.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """`text` with every escape sequence and control character removed, for a terminal.

    Newlines and tabs survive (``one_line``: they become spaces); a carriage return, which
    would let text overwrite the start of its line, is dropped. Applied by every printer to
    text from Hex, the warehouse or a server; the tool's own colours are added afterwards.
    """
    if text.isascii() and text.isprintable():
        return text
    text = fix_text(text.replace("\r\n", "\n"))
    cleaned = _CONTROLS.sub("", _ESCAPES.sub("", text))
    if one_line:
        cleaned = " ".join(cleaned.split())
    return cleaned


def json_text(text: str) -> str:
    """JSON output (already dumped) with DEL, C1 and bidi controls as ``\\uXXXX`` escapes:
    the data is unchanged for a JSON reader, and nothing reaches a terminal raw. (json.dumps
    escapes C0 itself.)"""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", fix_text(text))


# --- lone surrogates ------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def fix_text(text: str) -> str:
    """Lone surrogates (which no UTF-8 file or terminal can hold) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


# A high surrogate escape not followed by a low one, or a low one not preceded by a high one.
_LONE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def may_hold_surrogates(raw: bytes) -> bool:
    """Strict UTF-8 cannot encode a surrogate: JSON can carry a lone one only as an escape
    (``\\ud83d`` without its pair), so bytes with no such escape need no walk."""
    return (b"\\ud" in raw or b"\\uD" in raw) and _LONE_ESCAPE.search(raw) is not None


def fix_surrogates(data: Any) -> Any:
    """`data` (decoded JSON) with every string, keys included, passed through `fix_text`.

    Iterative, so a deep document cannot exhaust the stack here.
    """
    if isinstance(data, str):
        return fix_text(data)
    if not isinstance(data, dict | list):
        return data
    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            parent[key] = fix_text(value)
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            if any(isinstance(k, str) and _SURROGATE.search(k) for k in value):
                value = parent[key] = {
                    fix_text(k) if isinstance(k, str) else k: v for k, v in value.items()
                }
            stack.extend((value, k) for k in value)
    return root[0]


# --- the exposures file's place -------------------------------------------------------------


def check_output(output: str, project_dir: str, resource_paths: Iterable[str]) -> str:
    """`output` if it is a ``.yml`` file inside the project under one of its resource paths
    (model-paths, seed-paths, ...: dbt reads YAML nowhere else); else ConfigError."""
    where = f"--output / output: {output}"
    path = os.path.abspath(os.path.expanduser(output))
    root = os.path.abspath(project_dir)
    if not path.endswith(".yml") or os.path.basename(path) == ".yml":
        raise ConfigError(f"{where}: the exposures file must be a .yml file")
    if os.path.basename(path) == "dbt_project.yml" and os.path.dirname(path) == root:
        raise ConfigError(f"{where}: that is the project's dbt_project.yml")
    allowed = sorted(
        {os.path.abspath(os.path.join(root, p)) for p in resource_paths if p and p.strip()}
    )
    inside = [
        a
        for a in allowed
        if _within(a, root) and _within(path, a) and path != a  # a file, below the folder
    ]
    if not inside:
        names = ", ".join(os.path.relpath(a, root) for a in allowed if _within(a, root))
        raise ConfigError(
            f"{where}: must be a .yml under one of the dbt project's resource paths"
            f" ({names or 'none inside the project'}); dbt reads no other"
        )
    return path


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
