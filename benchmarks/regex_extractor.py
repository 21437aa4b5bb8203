"""The reference regex approach: tables are what follows FROM or JOIN (dbt-metabase's way).

Written from the description in reference/peers.md ("a case-insensitive regex captures the run
of word characters, dots, double quotes and backticks that follows the keyword from or join";
a second regex captures CTE names, excluded when unqualified). Used by the benchmarks only, to
compare precision and recall with the sqlglot extractor on the same corpus; the product never
reads SQL with a regex.
"""

from __future__ import annotations

import re

from hex_exposures.identifiers import normalize
from hex_exposures.records import TableRef

_FROM_JOIN = re.compile(r"(?:from|join)\s+([\w.\"`]+)", re.IGNORECASE)
_CTE = re.compile(r"with\s+\b(\w+)\b\s+as|\)\s*,\s*\b(\w+)\b\s+as", re.IGNORECASE)


def extract(sql: str, warehouse: str) -> set[TableRef]:
    """Table names after FROM/JOIN, minus unqualified CTE names, normalised like ours.

    Normalising the captured parts with the warehouse's case rule (quoted parts kept exact)
    is more than dbt-metabase does (it lower-cases both sides); it keeps the comparison about
    finding tables, not about case.
    """
    ctes = {name.lower() for pair in _CTE.findall(sql) for name in pair if name}
    out: set[TableRef] = set()
    for ref in _FROM_JOIN.findall(sql):
        parts = _split(ref)
        if not parts or not parts[-1][0]:
            continue
        if len(parts) == 1 and parts[0][0].lower() in ctes:
            continue
        normal = [normalize(p, quoted=q, warehouse=warehouse) for p, q in parts[-3:]]
        while len(normal) < 3:
            normal.insert(0, "")
        out.add(TableRef(normal[0] or None, normal[1] or None, normal[2]))
    return out


def _split(ref: str) -> list[tuple[str, bool]]:
    """``a."B".`c.d``` -> [(a, False), (B, True), (c, True), (d, True)]."""
    parts: list[tuple[str, bool]] = []
    for chunk in re.findall(r"`[^`]*`|\"[^\"]*\"|[^.`\"]+", ref):
        if chunk[0] in '`"':
            parts += [(p, True) for p in chunk[1:-1].split(".") if p]
        else:
            parts.append((chunk, False))
    return parts
