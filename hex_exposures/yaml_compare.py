"""Step 5 of the read-back guard: does what the merged file reads say what was meant? Pure.

    problem(after, exposures, before, layout) -> str | None   what reads otherwise, or None

`after` is the merged file's exposures as (project id, data), however they were read
(`yaml_verify`): every managed exposure must read as meant (a pinned path as before), every
value a person wrote as before, the unmanaged exposures as before and in their order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hex_exposures.records import Exposure, MetaLayout
from hex_exposures.yaml_plan import (
    BASE,
    DROP,
    MISSING,
    Closed,
    get,
    keep_entries,
    pinned,
    same,
    target,
)
from hex_exposures.yaml_read import Doc


def problem(
    after: Sequence[tuple[str | None, Any]],
    exposures: Sequence[Exposure],
    before: Doc,
    layout: MetaLayout,
) -> str | None:
    """What reads otherwise than meant in the items `after` (project id, data), or None."""
    found: dict[str, Any] = {}
    names: set[Any] = set()
    for pid, data in after:
        if pid is None:
            continue
        if pid in found or data.get("name") in names:
            return f"two managed exposures share Hex project {pid} or a name"
        found[pid] = data
        names.add(data.get("name"))
    if set(found) != {e.project_id for e in exposures}:
        return "the set of managed exposures differs"
    old = {i.project_id: i.data for i in before.items if i.project_id is not None}
    for e in exposures:
        found_problem = _exposure_problem(e, found[e.project_id], old.get(e.project_id, {}), layout)
        if found_problem is not None:
            return found_problem
    if [i.data for i in before.items if i.project_id is None] != [
        data for pid, data in after if pid is None
    ]:
        return "an exposure the tool does not manage changed"
    return None


def _exposure_problem(
    e: Exposure, data: Mapping[str, Any], was: Mapping[str, Any], layout: MetaLayout
) -> str | None:
    keep = keep_entries(was, layout)
    for field, value in _leaves(target(e, layout, was, keep)):
        have = get(data, field)
        if value is not DROP and pinned(field, keep):
            continue
        if value is DROP and have is not MISSING:
            return f"{e.name}.{'.'.join(field)} is still there"
        if isinstance(value, frozenset):
            if not isinstance(have, Mapping) or set(have) != value:
                return f"{e.name}.{'.'.join(field)} has other keys than {sorted(value)}"
            continue
        if value is not DROP and not same(have, value):
            return f"{e.name}.{'.'.join(field)} reads {have!r}, not {value!r}"
    if was and _person_view(was, layout) != _person_view(data, layout):
        return f"a value a person wrote in {e.name} changed"
    return None


def _leaves(want: Mapping[str, Any], at: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Each tool-owned path and what it must read (`meta.hex` is one leaf: owned whole)."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in want.items():
        if isinstance(v, dict) and not isinstance(v, Closed):
            out += _leaves(v, (*at, k))
        elif isinstance(v, Closed):
            out += [((*at, k, c), x) for c, x in v.items()]
            out.append(((*at, k), frozenset(v)))
        else:
            out.append(((*at, k), v))
    return out


def _person_view(data: Mapping[str, Any], layout: MetaLayout) -> Any:
    """An exposure without its tool-owned values: what a person wrote, for comparing."""
    view: dict[str, Any] = {
        k: v
        for k, v in data.items()
        if k
        not in ("name", "label", "type", "maturity", "url", "description", "depends_on", "tags")
    }
    owner = view.get("owner")
    if isinstance(owner, Mapping):
        view["owner"] = {k: v for k, v in owner.items() if k not in ("name", "email")}
    extras: dict[str, Any] = {}
    for base in BASE.values():
        holder = get(view, base) if base else view
        if not isinstance(holder, Mapping):
            continue
        holder = dict(holder)
        holder.pop("tags", None)
        meta = holder.get("meta")
        if isinstance(meta, Mapping):
            meta = {k: v for k, v in meta.items() if k not in ("hex", "referenced_columns")}
            mark = meta.pop("hex_exposures", None)
            if isinstance(mark, Mapping):
                extras.update({k: v for k, v in mark.items() if k not in ("managed", "project_id")})
            holder["meta"] = meta
        if base:
            view[base[0]] = holder
        else:
            view = holder
    view["\0marker"] = extras
    return _no_empty(view)


def _no_empty(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = {k: _no_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not (isinstance(v, dict) and not v)}
    return value
