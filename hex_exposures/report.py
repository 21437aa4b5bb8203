"""What people read: the `report` table or JSON, and `check`'s diff and summary."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import yaml_merge
from .bulk import gc_paused
from .pipeline import Report


def report_json(report: Report) -> str:
    doc: dict[str, Any] = {
        "warehouse": report.warehouse,
        "workspace": report.workspace,
        "summary": {
            "projects": len(report.projects),
            "exposed": sum(1 for p in report.projects if p.status in ("exposed", "kept")),
            "queries": report.queries,
            "skipped_no_comment": report.skipped_no_comment,
            "skipped_context": report.skipped_context,
            "unknown_project": report.unknown_project,
            "unparsed": report.unparsed,
        },
        "projects": [p._asdict() for p in report.projects],
        "renamed": list(report.renamed),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def report_text(report: Report) -> str:
    lines = []
    for p in report.projects:
        head = f"{p.title} ({p.project_id})"
        lines.append(head)
        lines.append(
            f"  status: {p.status}"
            + (f" -> exposure {p.exposure}" if p.exposure else "")
            + f"; {p.queries} queries, {p.runs} runs"
            + (f", {p.unparsed} unparsed" if p.unparsed else "")
        )
        for dep in p.depends_on:
            lines.append(f"  depends on: {dep}")
            if p.columns.get(dep):
                lines.append(f"    columns: {', '.join(p.columns[dep])}")
        for table in p.unmatched:
            lines.append(f"  not a dbt node: {table}")
        for item in p.not_allowed:
            lines.append(
                f"  read, not a dependency: {item['table']} ({item['node']} is {item['reason']};"
                " dbt lets no exposure depend on it)"
            )
        for note in p.notes:
            lines.append(f"  note: {note}")
    lines.append("")
    lines += [f"renamed: {line}" for line in report.renamed]
    lines.append(summary_line(report))
    return "\n".join(lines)


def summary_line(report: Report) -> str:
    exposed = sum(1 for p in report.projects if p.status in ("exposed", "kept"))
    parts = [
        f"{len(report.projects)} Hex projects, {exposed} with exposures",
        f"{report.queries} query records ({report.warehouse})",
    ]
    if report.skipped_no_comment:
        parts.append(f"{report.skipped_no_comment} without a readable Hex comment")
    if report.skipped_context:
        parts.append(f"{report.skipped_context} outside --include-context")
    if report.unknown_project:
        parts.append(f"{report.unknown_project} from projects Hex did not list")
    if report.unparsed:
        parts.append(f"{report.unparsed} texts sqlglot could not parse")
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


def managed_exposures(text: str | None) -> dict[str, dict[str, Any]]:
    """project_id -> the managed exposure's data, as dbt's YAML reader would see it."""
    if not text:
        return {}
    import yaml  # dbt's own reader, and its C loader is ~20x faster than ruamel's pure one

    with gc_paused():  # ~3x faster on a big file
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out = {}
    for item in (data or {}).get("exposures") or []:
        meta = yaml_merge.hex_marker(item) if isinstance(item, dict) else {}
        if meta:
            out[str(meta["project_id"])] = item
    return out


def changes(old_text: str | None, new_text: str) -> list[Change]:
    """Exposures added, removed and changed between two versions of the file."""
    if old_text == new_text:
        return []
    before, after = managed_exposures(old_text), managed_exposures(new_text)
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
    for c in items:
        detail = []
        if c.deps_added:
            detail.append("+" + ", +".join(c.deps_added))
        if c.deps_removed:
            detail.append("-" + ", -".join(c.deps_removed))
        if c.fields:
            detail.append("fields: " + ", ".join(c.fields))
        lines.append(f"  {c.kind:<8} {c.name}" + (f"  ({'; '.join(detail)})" if detail else ""))
    return "\n".join(lines)
