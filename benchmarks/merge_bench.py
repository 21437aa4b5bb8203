"""Time `yaml_merge.merge` on generated exposures: a first sync (all new), an unchanged
re-merge, and a re-merge where every exposure changes one value. Prints figures only.

    python -m benchmarks.merge_bench --n 3000
"""

from __future__ import annotations

import argparse
import time

from hex_exposures import yaml_merge
from hex_exposures.records import Exposure


def exposures(n: int, *, label: str = "Weekly Revenue") -> list[Exposure]:
    out = []
    for k in range(n):
        pid = f"{k:08x}-1111-4aaa-8bbb-{k:012x}"
        out.append(
            Exposure(
                name=f"hex_project_{k:05d}",
                label=f"{label} {k}",
                type="dashboard" if k % 2 else "notebook",
                maturity="high" if k % 3 else None,
                url=f"https://app.hex.tech/acme/hex/{pid}",
                description=f"Revenue by week, project {k}." if k % 4 else "",
                owner_name="Jane Doe",
                owner_email=f"jane{k % 50}@acme.com",
                depends_on=tuple(sorted(f"ref('model_{(k * 7 + j) % 500:04d}')" for j in range(3))),
                tags=("hex", "finance"),
                project_id=pid,
                hex_meta={"status": "Production", "categories": ["Finance"], "published": True},
            )
        )
    return out


def timed(what: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"{what}: {time.perf_counter() - start:.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    n = parser.parse_args().n
    path = "models/hex_exposures.yml"
    first = exposures(n)
    text = timed(f"new file, {n} new exposures", yaml_merge.merge, None, first, path=path)
    yaml_merge._parse.cache_clear()
    timed("unchanged re-merge", yaml_merge.merge, text, first, path=path)
    yaml_merge._parse.cache_clear()
    timed(
        "every exposure's label changed",
        yaml_merge.merge,
        text,
        exposures(n, label="New"),
        path=path,
    )


if __name__ == "__main__":
    main()
