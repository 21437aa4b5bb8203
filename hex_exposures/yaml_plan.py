"""What must change in one managed exposure, decided on what dbt reads (PyYAML data). Pure.

    target(exposure, layout, data, keep) -> the tool-owned fields and what each must read
    plan(data, target, keep) -> [Op]      one Set or Delete per path that reads otherwise
    keep_entries(data, layout) / unknown_keep(keep)   the `keep` list and its bad entries

Tool-owned: name, label, type, maturity, url, description, owner.name, owner.email,
depends_on, and in the layout's place (`config.` for dbt >= 1.10, top-level before) tags,
meta.hex_exposures.{managed, project_id}, meta.hex (whole: keys it does not name go) and
meta.referenced_columns. A `keep` entry is a dotted path naming one of these (or a parent,
`owner`, `config`, `config.meta`); it pins that field and what is below it. `config.meta.x`
and `meta.x` (and `config.tags`/`tags`) name the same field. The other layout's tool keys are
removed, and a pinned value or the marker's own extra keys (`keep`) move with their bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hex_exposures.records import Exposure, MetaLayout

Path = tuple[str, ...]


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING: Any = _Sentinel("MISSING")  # no such key in the data
ABSENT: Any = _Sentinel("ABSENT")  # the key must not be there (None reads the same)
DROP: Any = _Sentinel("DROP")  # the other layout's tool key: it goes, pinned or not


class Closed(dict[str, Any]):
    """A mapping the tool owns whole (`meta.hex`): keys it does not name are removed."""


class Moved(NamedTuple):
    """A value that moves from `source` (another path of the exposure) with its bytes."""

    source: Path
    data: Any


class Op(NamedTuple):
    path: Path
    value: Any  # ABSENT/DROP delete the key


BASE: dict[str, Path] = {"config": ("config",), "top": ()}
MARKER: Path = ("meta", "hex_exposures")
_META_TOOL_KEYS = ("hex_exposures", "hex", "referenced_columns")
# Where a key the tool adds goes: after the last key of its map that comes before it here.
ORDER: dict[str, tuple[str, ...]] = {
    "": (
        "name", "label", "type", "maturity", "url", "description", "owner", "depends_on",
        "tags", "meta", "config",
    ),
    "owner": ("name", "email"),
    "config": ("tags", "meta"),
    "meta": _META_TOOL_KEYS,
    "meta.hex_exposures": ("managed", "project_id", "keep"),
    "meta.hex": ("status", "categories", "published"),
}  # fmt: skip
# Collections the tool writes in flow style even in block context (SPEC's shape).
FLOW_KEYS = frozenset(
    f"{base}{k}" for base in ("", "config.") for k in ("tags", "meta.hex_exposures", "meta.hex")
)
PINNABLE = frozenset(
    {
        "name", "label", "type", "maturity", "url", "description", "owner", "owner.name",
        "owner.email", "depends_on", "config", "meta", "tags", "meta.hex", "meta.hex.status",
        "meta.hex.categories", "meta.hex.published", "meta.referenced_columns",
    }
)  # fmt: skip


def normal(path: Path) -> Path:
    """`config.tags`/`config.meta...` and `tags`/`meta...` are one field."""
    return path[1:] if path[:1] == ("config",) and path[1:2] in (("tags",), ("meta",)) else path


def order_of(parent: Path) -> tuple[str, ...]:
    return ORDER.get(".".join(normal(parent)), ())


def get(data: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:  # PyYAML data: plain dicts
            return MISSING
        data = data[key]
    return data


def marker(data: Mapping[str, Any], layout: MetaLayout) -> tuple[Mapping[str, Any], Path] | None:
    """The managed marker in the layout's place, else the other one; with where it is."""
    for where in (layout, "top" if layout == "config" else "config"):
        found = get(data, (*BASE[where], *MARKER))
        pid = found.get("project_id") if isinstance(found, Mapping) else None
        managed = isinstance(found, Mapping) and found.get("managed") is True
        if managed and isinstance(pid, str) and pid:  # an empty id is no marker
            return found, (*BASE[where], *MARKER)
    return None


def keep_entries(data: Mapping[str, Any], layout: MetaLayout) -> tuple[str, ...]:
    found = marker(data, layout)
    keep = found[0].get("keep") if found else None
    if isinstance(keep, str):
        keep = [keep]
    return tuple(k.strip() for k in keep if isinstance(k, str)) if isinstance(keep, list) else ()


def unknown_keep(data: Mapping[str, Any], layout: MetaLayout) -> list[str]:
    """`keep` entries (as written) that name no field the tool fills."""
    found = marker(data, layout)
    keep = found[0].get("keep") if found else None
    if keep is None:
        return []
    entries = [keep] if isinstance(keep, str) else keep if isinstance(keep, list) else [keep]
    return [
        str(k)
        for k in entries
        if not isinstance(k, str) or ".".join(normal(tuple(k.strip().split(".")))) not in PINNABLE
    ]


def pinned(path: Path, keep: Sequence[str]) -> bool:
    if normal(path)[:2] == MARKER:
        return False
    forms = {".".join(path), ".".join(normal(path))}
    for k in keep:
        k = ".".join(normal(tuple(k.split("."))))
        if any(f == k or f.startswith(k + ".") for f in forms):
            return True
    return False


def target(
    e: Exposure, layout: MetaLayout, data: Mapping[str, Any], keep: Sequence[str]
) -> dict[str, Any]:
    """What each tool-owned key of `e` must read, in `layout`; the other layout's tool keys
    are DROPped, moving a pinned value and the marker's extra keys to the layout's place."""
    here, there = BASE[layout], BASE["top" if layout == "config" else "config"]
    meta: dict[str, Any] = {
        "hex_exposures": {"managed": True, "project_id": e.project_id},
        "hex": Closed(_plain(e.hex_meta)),
        "referenced_columns": [dict(c) for c in e.referenced_columns] or ABSENT,
    }
    tool: dict[str, Any] = {"tags": list(e.tags), "meta": meta}
    old_marker = get(data, (*there, *MARKER))
    if get(data, (*here, *MARKER)) is MISSING and isinstance(old_marker, Mapping):
        for k, v in old_marker.items():
            if k not in ("managed", "project_id"):
                meta["hex_exposures"][str(k)] = Moved((*there, *MARKER, str(k)), v)
    for rel in (("tags",), ("meta", "hex"), ("meta", "referenced_columns")):
        old = get(data, (*there, *rel))
        if old is MISSING or get(data, (*here, *rel)) is not MISSING:
            continue
        if pinned((*here, *rel), keep):
            _put(tool, rel, Moved((*there, *rel), old))
        elif rel == ("meta", "hex") and isinstance(old, Mapping):
            for k in list(meta["hex"]):
                if k in old and pinned((*here, *rel, k), keep):
                    meta["hex"][k] = Moved((*there, *rel, k), old[k])
    gone: dict[str, Any] = {"tags": DROP, "meta": dict.fromkeys(_META_TOOL_KEYS, DROP)}
    root: dict[str, Any] = {
        "name": e.name,
        "label": e.label,
        "type": e.type,
        "maturity": ABSENT if e.maturity is None else e.maturity,
        "url": e.url,
        "description": e.description,
        "owner": {
            "name": ABSENT if e.owner_name is None else e.owner_name,
            "email": ABSENT if e.owner_email is None else e.owner_email,
        },
        "depends_on": list(e.depends_on),
    }
    if layout == "config":
        root.update(gone)
        root["config"] = tool
    else:
        root.update(tool)
        root["config"] = gone
    return root


def _put(tree: dict[str, Any], rel: Path, value: Any) -> None:
    for key in rel[:-1]:
        tree = tree[key]
    tree[rel[-1]] = value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def plan(data: Any, want: Mapping[str, Any], keep: Sequence[str], at: Path = ()) -> list[Op]:
    """The Set/Delete operations that make `data` read `want` (see module doc)."""
    ops: list[Op] = []
    for key, value in want.items():
        path = (*at, key)
        have = data.get(key, MISSING) if isinstance(data, Mapping) else MISSING
        if value is not DROP and pinned(path, keep):
            if isinstance(value, Moved):
                ops.append(Op(path, value))
            continue
        if value is ABSENT or value is DROP:
            if have is not MISSING and (have is not None or value is DROP):
                ops.append(Op(path, value))
        elif isinstance(value, dict):
            if isinstance(have, Mapping):
                sub = plan(have, value, keep, path)
                if isinstance(value, Closed):
                    sub += [
                        Op((*path, str(k)), ABSENT)
                        for k in have
                        if k not in value and not pinned((*path, str(k)), keep)
                    ]
                gone = {o.path[-1] for o in sub if len(o.path) == len(path) + 1 and o.value is DROP}
                if gone and all(k in gone for k in have):
                    ops.append(Op(path, DROP))  # nothing but the other layout's tool keys
                else:
                    ops += sub
            elif not _all_dropped(value):
                full = fill(value)
                if not same(have, full):
                    ops.append(Op(path, full))
        elif not same(have, value):
            ops.append(Op(path, value))
    return ops


def _all_dropped(value: Any) -> bool:
    if isinstance(value, dict) and not isinstance(value, Closed):
        return all(_all_dropped(v) for v in value.values())
    return value is DROP or value is ABSENT


def fill(value: Any) -> Any:
    """`value` without the keys that must be absent (what to write where nothing is)."""
    if isinstance(value, dict):
        return {
            k: fill(v)
            for k, v in value.items()
            if v is not ABSENT and v is not DROP and not (isinstance(v, dict) and _all_dropped(v))
        }
    return value


def same(have: Any, want: Any) -> bool:
    """Equal as dbt reads them: types too (True is not 1); None is the same as absent."""
    if isinstance(want, Moved):
        want = want.data
    if want is ABSENT:
        return have is None or have is MISSING
    if want is None:
        return have is None
    if isinstance(want, dict):
        return (
            isinstance(have, dict)
            and have.keys() == want.keys()
            and all(same(have[k], v) for k, v in want.items())
        )
    if isinstance(want, list):
        if type(have) is list and type(want) is list and repr(have) == repr(want):
            return True  # the same text is the same types (True is not 1): one C-level pass
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(same(h, w) for h, w in zip(have, want, strict=True))
        )
    return type(have) is type(want) and have == want


def plain_data(value: Any) -> Any:
    """`value` as data (Moved values by their data), for comparing and verifying."""
    if isinstance(value, Moved):
        return plain_data(value.data)
    if isinstance(value, Mapping):
        return {
            k: plain_data(v)
            for k, v in value.items()
            if v is not ABSENT and v is not DROP and not (isinstance(v, dict) and _all_dropped(v))
        }
    if isinstance(value, list):
        return [plain_data(v) for v in value]
    return value
