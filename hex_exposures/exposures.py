"""Turn Hex projects into `Exposure` records: names, URLs, owners, maturity, dbt-safe text.

Pure functions over records; no I/O. `yaml_merge` turns the records into bytes.

Two dbt facts shape this module (reference/dbt.md 1.2 and 5.2 item 3a):
- Exposure names should match ``^[A-Za-z0-9_]+$``; we emit ``^[a-z_][a-z0-9_]*$`` and put the
  human title in ``label``.
- dbt renders every string of an exposure through Jinja when it parses the YAML (``label``,
  ``owner``, ``config.meta`` in native mode; ``description`` later, in text mode), so text
  copied from Hex must be made inert or ``{{ region }}`` comes back blank.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from urllib.parse import quote

from hex_exposures import safety
from hex_exposures.records import Exposure, HexProject

NAME_PREFIX = "hex_"
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
MATURITIES = ("high", "medium", "low")
# Keys are compared case-insensitively; a status found in neither map is "medium".
DEFAULT_MATURITY: Mapping[str, str] = {
    "production": "high",
    "approved": "high",
    "certified": "high",
    "in development": "low",
    "in progress": "low",
    "exploratory": "low",
    "draft": "low",
    "scratchpad": "low",
    "deprecated": "low",
}
UNKNOWN_OWNER = "unknown"
_SLUG_MAX = 60
# Letters NFKD does not decompose into ASCII.
_TRANSLIT = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d",
     "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "ı": "i"}
)  # fmt: skip
# The characters that make dbt hand a string to Jinja (dbt/clients/jinja.py _HAS_RENDER_CHARS_PAT).
_RENDER_CHARS = re.compile(r"\{[{%#]|[#}%]\}")
# The opening of anything Jinja's lexer would take for the end of a raw block.
_ENDRAW_OPEN = re.compile(r"\{%(?=[-+]?\s*endraw)")


def _snake(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    ascii_text = ascii_text.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def slug(title: str) -> str:
    """ASCII snake_case of a title, at most 60 characters, never empty.

    Accents are transliterated (``Übersicht`` -> ``ubersicht``), everything else that is not
    a letter or digit (emoji, punctuation) becomes a separator. A leading digit gets a
    leading underscore so the slug is an identifier on its own; the name builder drops it
    behind the ``hex_`` prefix. Nothing usable left: ``project``.
    """
    text = _snake(title)[:_SLUG_MAX].rstrip("_") or "project"
    return f"_{text}" if text[0].isdigit() else text


def _base_name(title: str) -> str:
    return NAME_PREFIX + slug(title).lstrip("_")


def _id_part(project_id: str, length: int | None) -> str:
    digits = re.sub(r"[^0-9a-f]", "", project_id.lower())
    return (digits or _snake(project_id) or "0")[:length]


def assign_names(
    projects: Sequence[HexProject],
    *,
    existing: Mapping[str, str],
    reserved: Collection[str],
) -> dict[str, str]:
    """Map each project id to its exposure name, the same whatever the input order.

    A project that already has a managed exposure keeps that name (`existing`: project id ->
    name) even when its title changed. A new project gets ``hex_<slug>``, unless that name is
    wanted by another new project or already taken by an existing or `reserved` (hand-written)
    exposure: then every new project wanting it gets ``hex_<slug>_<first 8 hex digits of its
    id>`` (and, should even that clash, the whole id). `projects` should be the projects that
    get an exposure, so a project without one does not push a suffix onto another.
    """
    names: dict[str, str] = {}
    pending: dict[str, str] = {}  # project id -> title, in no meaningful order
    for project in projects:
        if project.id in existing:
            names[project.id] = existing[project.id]
        else:
            pending[project.id] = project.title
    taken = set(existing.values()) | set(reserved) | set(names.values())
    for length in (0, 8, None):
        wanted = {
            pid: _base_name(title)
            if length == 0
            else f"{_base_name(title)}_{_id_part(pid, length)}"
            for pid, title in pending.items()
        }
        counts = Counter(wanted.values())
        settled = {pid: n for pid, n in wanted.items() if counts[n] == 1 and n not in taken}
        names.update(settled)
        taken.update(settled.values())
        pending = {pid: t for pid, t in pending.items() if pid not in settled}
    # Only ids that are not hex and slug alike get here; number them in id order.
    for pid in sorted(pending):
        base, n = f"{_base_name(pending[pid])}_{_id_part(pid, None)}", 2
        while f"{base}_{n}" in taken:
            n += 1
        names[pid] = f"{base}_{n}"
        taken.add(names[pid])
    return names


def rename_clashes(
    existing: Mapping[str, str], reserved: Collection[str]
) -> dict[str, tuple[str, str]]:
    """Managed names that another exposure of the project now uses (a person added it after
    a sync): project id -> (old name, new name). The stable-name rule decides the new name:
    the old one plus the first 8 hex digits of the project id (the whole id should that be
    taken too), so it never depends on order and the next sync keeps it."""
    taken = set(existing.values()) | set(reserved)
    out: dict[str, tuple[str, str]] = {}
    for pid, name in sorted(existing.items()):
        if name not in reserved:
            continue
        for candidate in (f"{name}_{_id_part(pid, 8)}", f"{name}_{_id_part(pid, None)}"):
            if candidate not in taken:
                break
        else:
            n = 2
            while f"{candidate}_{n}" in taken:
                n += 1
            candidate = f"{candidate}_{n}"
        taken.add(candidate)
        out[pid] = (name, candidate)
    return out


def jinja_safe(text: str) -> str:
    """Return `text` so that dbt's Jinja rendering gives back exactly `text`.

    Text that dbt would render (it contains ``{{``, ``{%``, ``{#``, ``}}``, ``%}`` or ``#}``)
    or that ends with a newline (Jinja drops one trailing newline, and dbt renders ``label``
    even without Jinja characters) is wrapped in ``{% raw %}...{% endraw %}``. Anything inside
    that Jinja would read as the end of the raw block has its ``{%`` emitted by an expression
    instead. Other text is returned unchanged.
    """
    if not (_RENDER_CHARS.search(text) or text.endswith("\n")):
        return text
    inner = _ENDRAW_OPEN.sub("{% endraw %}{{ '{%' }}{% raw %}", text)
    return "{% raw %}" + inner + "{% endraw %}"


def jinja_safe_items(items: Iterable[Mapping[str, str]]) -> tuple[Mapping[str, str], ...]:
    """`referenced_columns` items with every value Jinja-safe: a column name can come
    straight from a warehouse user's SQL (``select "{{ x }}" from t``), and dbt renders meta."""
    return tuple({k: jinja_safe(_lines(v)) for k, v in item.items()} for item in items)


def project_url(hex_url: str, workspace: str | None, project_id: str) -> str:
    """Link to a project in the Hex web app: ``https://<host>/<workspace>/hex/<id>``.

    `hex_url` may be the API base (``.../api/v1``) or carry a trailing slash; a bare host
    gets ``https://``. Without a workspace the link is ``https://<host>/hex/<id>``, the same
    path without the workspace segment, because Hex's web routes need the workspace and
    there is nothing better to guess.
    """
    scheme, netloc, path = safety.link_base(hex_url)  # path percent-encoded: no Jinja
    path = path.rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    segments = [workspace, "hex", project_id] if workspace else ["hex", project_id]
    return f"{scheme}://{netloc}{path}/" + "/".join(quote(s, safe="") for s in segments)


def maturity(status: str | None, maturity_map: Mapping[str, str]) -> str | None:
    """dbt maturity for a Hex status: the map (case-insensitive), then the defaults, else medium."""
    if status is None:
        return None
    for table in (maturity_map, DEFAULT_MATURITY):
        if status in table:
            return table[status]
        folded = {k.casefold(): v for k, v in table.items()}
        if status.casefold() in folded:
            return folded[status.casefold()]
    return "medium"


def owner_name(email: str | None, owner_map: Mapping[str, str]) -> str:
    """Display name for an owner: the configured map (emails compare case-insensitively),
    else the email's local part."""
    if not email:
        return UNKNOWN_OWNER
    if email in owner_map:
        return owner_map[email]
    folded = {k.casefold(): v for k, v in owner_map.items()}
    return folded.get(email.casefold(), email.split("@", 1)[0] or email)


def _lines(text: str) -> str:
    # Jinja and YAML both turn CR LF into LF; do it once here so what we write is what dbt reads.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def build_exposure(
    project: HexProject,
    depends_on: Iterable[str],
    *,
    name: str,
    url: str,
    maturity_map: Mapping[str, str],
    owner_map: Mapping[str, str],
) -> Exposure:
    """The exposure the tool wants for `project`; every string dbt renders is Jinja-safe
    (the url too; the project id is a UUID, `pipeline.run` skips any other)."""
    email = project.owner_email or project.creator_email
    categories = [jinja_safe(_lines(c)) for c in project.categories]
    tags = sorted({_snake(c) for c in project.categories} - {"", "hex"})
    return Exposure(
        name=name,
        label=jinja_safe(_lines(project.title)) if project.title else name,
        type="dashboard" if project.published else "notebook",
        maturity=maturity(project.status, maturity_map),
        url=jinja_safe(url),
        description=jinja_safe(_lines(project.description or "")),
        owner_name=jinja_safe(_lines(owner_name(email, owner_map))),
        owner_email=jinja_safe(_lines(email)) if email else None,
        depends_on=tuple(sorted(set(depends_on))),
        tags=("hex", *tags),
        project_id=project.id,
        hex_meta={
            "status": jinja_safe(_lines(project.status)) if project.status is not None else None,
            "categories": categories,
            "published": project.published,
        },
    )
