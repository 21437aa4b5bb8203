"""Read a version-2 (JSON Lines) snapshot back into the version-1 shape tests assert on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def snapshot_doc(path: Path) -> dict[str, Any]:
    """The header's fields plus `projects` and `queries` lists, as version 1 holds them."""
    header, *records = (json.loads(line) for line in path.read_text().splitlines())
    assert header["format"] == "hex-exposures-snapshot" and header["version"] == 2
    doc = dict(header, projects=[], queries=[])
    for record in records:
        [(kind, value)] = record.items()
        doc[{"project": "projects", "query": "queries"}[kind]].append(value)
    return doc
