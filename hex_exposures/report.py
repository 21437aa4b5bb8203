"""What people read: the `report` table or JSON, and `check`'s diff and summary."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from . import yaml_merge
from .bulk import gc_paused
from .errors import ExposuresFileError
from .pipeline import KEEPS_EXPOSURE, ProjectReport, Report
from .records import Exposure


def report_json(report: Report) -> str:
    doc: dict[str, Any] = {
        "warehouse": report.warehouse,
        "workspace": report.workspace,
        "summary": {
            "projects": len(report.projects),
            "exposed": sum(1 for p in report.projects if p.status in KEEPS_EXPOSURE),
            "queries": report.queries,
            "skipped_no_comment": report.skipped_no_comment,
            "skipped_context": report.skipped_context,
            "unknown_project": report.unknown_project,
            "unparsed": report.unparsed,
        },
        "projects": [p._asdict() for p in report.projects],
        "renamed": list(report.renamed),
        "warehouse_users": [u._asdict() for u in report.warehouse_users],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


Style = Callable[[str, str], str]
"""(text, role) -> text to print; roles: good, warn, dim, title. The CLI colours on a terminal."""


def plain(text: str, _role: str) -> str:
    return text


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def shown(text: str | None) -> str:
    """The one place Hex-supplied text (titles, emails) is made fit for a terminal line."""
    return " ".join((text or "").split())


# Outcome groups in the order the report shows them: (status, heading, role).
_GROUPS = (
    ("exposed", "Exposed", "good"),
    ("kept", "Kept: did not run in the last {days}, dependencies from the last run", "good"),
    (
        "kept_no_dbt_nodes",
        "Kept with no dependencies: no dbt node matched, the exposure has a person's edits",
        "warn",
    ),
    ("no_dbt_nodes", "No exposure: no dbt node matched", "warn"),
    ("not_run", "No exposure: did not run in the last {days}", "warn"),
    ("archived", "No exposure: archived", "dim"),
    ("trashed", "No exposure: trashed", "dim"),
)
_LABEL = 16  # width of the label column ("not a dbt node" + 2)


def report_text(report: Report, *, days: int = 14, style: Style = plain) -> str:
    """Projects grouped by outcome, a heading per group, one aligned block per project."""
    known = {key for key, _h, _r in _GROUPS}
    groups = [*_GROUPS] + [
        (s, s.replace("_", " ").capitalize(), "warn")
        for s in sorted({p.status for p in report.projects} - known)
    ]
    lines: list[str] = []
    for status, heading, role in groups:
        members = [p for p in report.projects if p.status == status]
        if not members:
            continue
        if lines:
            lines.append("")
        title = heading.format(days=plural(days, "day"))
        lines.append(style(f"{title} ({plural(len(members), 'project')})", role))
        for p in members:
            lines.append("")
            lines += _project_block(p, style)
    lines.append("")
    lines += [f"renamed: {line}" for line in report.renamed]
    lines += users_block(report, style)
    lines.append(summary_line(report))
    return "\n".join(lines)


def users_block(report: Report, style: Style = plain) -> list[str]:
    """Who ran texts with Hex's comment (issue 17): anyone can write the comment, so a team
    picks --hex-user from the users its Hex data connections log in as."""
    if not report.warehouse_users:
        return []
    width = max(len(shown(u.user)) for u in report.warehouse_users) + 2
    lines = [style("Warehouse users running queries with Hex's comment (see --hex-user)", "title")]
    for u in report.warehouse_users:
        counts = f"{plural(u.queries, 'query', 'queries')}, {plural(u.runs, 'run')}"
        lines.append(f"  {shown(u.user):<{width}}{counts}")
    return [*lines, ""]


def _project_block(p: ProjectReport, style: Style) -> list[str]:
    rows: list[tuple[str, str]] = []
    if p.exposure:
        rows.append(("exposure", p.exposure))
    rows.append(("owner", shown(p.owner) or "unknown"))
    if p.url:
        rows.append(("url", p.url))
    activity = f"{plural(p.queries, 'query', 'queries')}, {plural(p.runs, 'run')}"
    if p.unparsed:
        activity += f", {p.unparsed} unparsed"
    rows.append(("queries", activity))
    for i, dep in enumerate(p.depends_on):
        rows.append(("depends on" if i == 0 else "", dep))
        if p.columns.get(dep):
            rows.append(("", f"  columns: {', '.join(p.columns[dep])}"))
    for i, table in enumerate(p.unmatched):
        rows.append(("not a dbt node" if i == 0 else "", table))
    for i, item in enumerate(p.not_allowed):
        rows.append(
            (
                "not allowed" if i == 0 else "",
                f"{item['table']} ({item['node']} is {item['reason']};"
                " dbt lets no exposure depend on it)",
            )
        )
    for i, item in enumerate(p.inactive):
        why = (
            "ephemeral: dbt builds no relation for it"
            if item["state"] == "ephemeral"
            else "disabled in dbt"
        )
        rows.append(
            ("inactive node" if i == 0 else "", f"{item['table']} ({item['node']} is {why})")
        )
    for i, item in enumerate(p.shadowed):
        rows.append(
            (
                "temp table" if i == 0 else "",
                f"{item['table']} (the project's temporary table {item['temp_table']}, created"
                f" in text {item['created_in']}; not a dependency)",
            )
        )
    for i, note in enumerate(p.notes):
        rows.append(("note" if i == 0 else "", note))
    out = [f"  {style(shown(p.title) or '(untitled)', 'title')}  {p.project_id}"]
    out += [f"    {label:<{_LABEL}}{value}".rstrip() for label, value in rows]
    return out


def exposures_table(exposures: Sequence[Exposure], *, limit: int = 20, style: Style = plain) -> str:
    """What sync found, as a short table: each exposure, its type, one dependency a row."""
    if not exposures:
        return "no managed exposures: `hex-exposures report` says why for each Hex project"
    rows = list(exposures[:limit])
    name_w = max(len("exposure"), *(len(e.name) for e in rows))
    type_w = max(len("type"), *(len(e.type) for e in rows))
    lines = [style(f"{'exposure':<{name_w}}  {'type':<{type_w}}  depends on", "title")]
    for e in rows:
        for i, dep in enumerate(e.depends_on or ("(nothing: see `hex-exposures report`)",)):
            name, kind = (e.name, e.type) if i == 0 else ("", "")
            lines.append(f"{name:<{name_w}}  {kind:<{type_w}}  {dep}")
    if len(exposures) > limit:
        more = plural(len(exposures) - limit, "more exposure")
        lines.append(f"... and {more}: `hex-exposures report` lists them all")
    return "\n".join(lines)


def summary_line(report: Report) -> str:
    exposed = sum(1 for p in report.projects if p.status in KEEPS_EXPOSURE)
    parts = [
        f"{plural(len(report.projects), 'Hex project')}, {exposed} with exposures",
        f"{plural(report.queries, 'query record')} ({report.warehouse})",
    ]
    invalid = sum(1 for p in report.projects if p.status == "invalid_id")
    if invalid:
        parts.append(f"{invalid} skipped: project id is not a UUID")
    if report.skipped_no_comment:
        parts.append(f"{report.skipped_no_comment} without a readable Hex comment")
    if report.skipped_context:
        parts.append(f"{report.skipped_context} outside --include-context")
    if report.unknown_project:
        parts.append(f"{report.unknown_project} from projects Hex did not list")
    if report.unparsed:
        parts.append(f"{plural(report.unparsed, 'text')} sqlglot could not parse")
    return "; ".join(parts)


class Change(NamedTuple):
    name: str
    kind: str  # added | removed | changed
    deps_added: tuple[str, ...]
    deps_removed: tuple[str, ...]
    fields: tuple[str, ...]  # changed tool-owned fields other than depends_on


def unified_diff(old: str | None, new: str, *, path: str) -> str:
    if (old or "") == new:
        return ""  # difflib would still compare line by line: seconds on a 20K-exposure file
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def managed_exposures(text: str | None, path: str = "exposures file") -> dict[str, dict[str, Any]]:
    """project_id -> the managed exposure's data, as dbt's YAML reader would see it.

    A file the merge just wrote or read is not read again: its items come from the merge's
    own proof or parse (`yaml_merge.read_items`; a whole 94 MB `yaml.load` took minutes and
    GiBs at 1x). A file the merge refuses is read whole, as dbt would."""
    if not text:
        return {}
    try:
        items = yaml_merge.read_items(text, path)
    except ExposuresFileError:
        return _loaded(text)
    return {i.project_id: i.data for i in items if i.project_id is not None}


def _loaded(text: str) -> dict[str, dict[str, Any]]:
    import yaml  # dbt's own reader, and its C loader is ~20x faster than ruamel's pure one

    with gc_paused():  # ~3x faster on a big file
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out = {}
    for item in (data or {}).get("exposures") or []:
        meta = yaml_merge.hex_marker(item) if isinstance(item, dict) else {}
        if meta:
            out[str(meta["project_id"])] = item
    return out


def changes(old_text: str | None, new_text: str, path: str = "exposures file") -> list[Change]:
    """Exposures added, removed and changed between two versions of the file (`path`: the
    name the merge read it under, so its reading is reused)."""
    if old_text == new_text:
        return []
    before, after = managed_exposures(old_text, path), managed_exposures(new_text, path)
    out = []
    for pid in sorted(
        set(before) | set(after), key=lambda p: str((after.get(p) or before[p])["name"])
    ):
        a, b = before.get(pid), after.get(pid)
        if a is None and b is not None:
            out.append(Change(str(b["name"]), "added", _deps(b), (), ()))
        elif b is None and a is not None:
            out.append(Change(str(a["name"]), "removed", (), _deps(a), ()))
        elif a is not None and b is not None and a != b:
            keys = sorted((set(a) | set(b)) - {"depends_on"}, key=str)
            order = (
                ("depends_on order",)
                if _deps(a) != _deps(b) and set(_deps(a)) == set(_deps(b))
                else ()
            )
            out.append(
                Change(
                    str(b["name"]),
                    "changed",
                    tuple(sorted(set(_deps(b)) - set(_deps(a)))),
                    tuple(sorted(set(_deps(a)) - set(_deps(b)))),
                    tuple(str(k) for k in keys if a.get(k) != b.get(k)) + order,
                )
            )
    return out


def _deps(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(d) for d in item.get("depends_on") or [])


def changes_text(items: Sequence[Change]) -> str:
    if not items:
        return "exposures are up to date"
    counts = {k: sum(1 for c in items if c.kind == k) for k in ("added", "removed", "changed")}
    lines = [", ".join(f"{n} {k}" for k, n in counts.items())]
    width = max(len(c.name) for c in items)
    for c in items:
        detail = []
        if c.deps_added:
            detail.append("+" + ", +".join(c.deps_added))
        if c.deps_removed:
            detail.append("-" + ", -".join(c.deps_removed))
        if c.fields:
            detail.append("fields: " + ", ".join(c.fields))
        row = f"  {c.kind:<8} {c.name:<{width}}" + (f"  ({'; '.join(detail)})" if detail else "")
        lines.append(row.rstrip())
    return "\n".join(lines)
