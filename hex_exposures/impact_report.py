"""`impact` as bytes: JSON for machines, Markdown ready to post as a pull-request comment. Pure."""

from __future__ import annotations

import json
import re
from typing import Any

from .impact import BreakingColumn, Impact, ImpactedExposure

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def impact_json(result: Impact) -> str:
    doc: dict[str, Any] = {
        "modified": [c.unique_id for c in result.modified],
        "nodes": [
            {
                "unique_id": c.unique_id,
                "change": c.change,
                "reasons": list(c.reasons),
                **({"renamed_to": c.renamed_to} if c.renamed_to else {}),
            }
            for c in result.modified
        ],
        "exposures": [_exposure_json(e) for e in result.exposures],
        "app_views_known": result.hex_side,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _exposure_json(e: ImpactedExposure) -> dict[str, Any]:
    return {
        "name": e.name,
        "label": e.label,
        "url": e.url,
        "owner": {"name": e.owner_name, "email": e.owner_email},
        "status": e.status,
        "project_id": e.project_id,
        "app_views_30d": e.app_views_30d,
        "upstream_modified": list(e.upstream_modified),
        "breaking_columns": [
            {k: v for k, v in b._asdict().items() if v is not None} for b in e.breaking_columns
        ],
        "found_in": e.found_in,
    }


def escape(text: str) -> str:
    """Markdown-inert text for a table cell: no formatting, no link, no broken column."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _short(uid: str) -> str:
    """`model.pkg.fct_orders` -> `fct_orders`; `source.pkg.stripe.charges` -> `stripe.charges`."""
    parts = uid.split(".")
    return ".".join(parts[2:]) if len(parts) > 2 else uid


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _breaking_text(b: BreakingColumn) -> str:
    where = _code(f"{_short(b.node)}.{b.column}")
    if b.change == "retyped":
        return f"{where} retyped {escape(b.was or '?')} → {escape(b.now or '?')}"
    if b.change == "node renamed":
        return f"{where}: model renamed to {_code(_short(b.now or '?'))}"
    return f"{where} {escape(b.change)}"


def impact_markdown(result: Impact) -> str:
    """A table of the affected Hex projects, most-viewed first; one line when none is."""
    n = len(result.modified)
    if not result.modified:
        return "**Hex impact:** no dbt model, seed, snapshot or source changed against production."
    nodes = "node" if n == 1 else "nodes"
    if not result.exposures:
        return f"**Hex impact:** no Hex project reads the {n} dbt {nodes} this change modifies."
    breaking = sum(1 for e in result.exposures if e.breaking_columns)
    count = len(result.exposures)
    head = (
        f"### Hex impact: {count} Hex project{'s' if count != 1 else ''} downstream of "
        f"{n} modified dbt {nodes}"
    )
    if breaking:
        head += f" ({breaking} with breaking column changes)"
    lines = [
        head,
        "",
        "| Hex project | App views (30d) | Status | Owner | Modified upstream | Breaking columns |",
        "|---|--:|---|---|---|---|",
    ]
    for e in result.exposures:
        label = escape(e.label or e.name)
        project = f"[{label}]({e.url.replace(')', '%29')})" if e.url else label
        views = "unknown" if e.app_views_30d is None else f"{e.app_views_30d:,}"
        owner = escape(e.owner_name or e.owner_email or "")
        upstream = ", ".join(_code(_short(u)) for u in e.upstream_modified)
        cols = "<br>".join(_breaking_text(b) for b in e.breaking_columns) or "none"
        if e.breaking_columns:
            cols = "⚠️ " + cols
        status = escape(e.status or "")
        lines.append(f"| {project} | {views} | {status} | {owner} | {upstream} | {cols} |")
    lines += ["", "<details><summary>Modified dbt nodes</summary>", ""]
    for c in result.modified:
        lines.append(f"- {_code(c.unique_id)}: {escape('; '.join(c.reasons))}")
    lines += ["", "</details>"]
    if not result.hex_side:
        lines += ["", "App views are unknown: no Hex snapshot or API token was given."]
    return "\n".join(lines)
