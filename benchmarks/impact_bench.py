"""Time `impact` on SPEC's largest project: 10,000 models, 5,000 sources, 20,000 exposures.

    python -m benchmarks.impact_bench [--models 10000] [--sources 5000] [--exposures 20000]

The production manifest comes from generate.py; the "pull request" modifies N models (a
random sample, then the whole staging layer: what a changed macro does), removes 20, renames
10 and drops a documented column from 100. Prints seconds per step; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import gc
import random
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.generate import build_manifest
from hex_exposures.impact import impact, modified_nodes


def add_exposures(manifest: dict[str, Any], count: int, rng: random.Random) -> None:
    marts = [u for u, n in manifest["nodes"].items() if n.get("resource_type") == "model"]
    for i in range(count):
        uid = f"exposure.acme_analytics.hex_{i}"
        parents = rng.sample(marts, rng.randint(1, 5))
        refs = [
            {"column_name": c, "node": f"ref('{manifest['nodes'][p]['name']}')"}
            for p in parents
            for c in list(manifest["nodes"][p].get("columns") or {})[:3]
        ]
        manifest["exposures"][uid] = {
            "unique_id": uid,
            "name": f"hex_{i}",
            "label": f"Hex {i}",
            "url": f"https://app.hex.tech/acme/hex/{i}",
            "owner": {"email": "a@b.c"},
            "depends_on": {"nodes": parents},
            "config": {
                "meta": {
                    "hex_exposures": {"managed": True, "project_id": f"p{i}"},
                    "referenced_columns": refs,
                }
            },
        }
        for p in parents:
            manifest["child_map"].setdefault(p, []).append(uid)


def pull_request(state: dict[str, Any], modified: Sequence[str], rng: random.Random) -> Any:
    current = copy.deepcopy(state)
    for uid in modified:
        current["nodes"][uid]["checksum"] = {"name": "sha256", "checksum": "changed"}
    models = sorted(u for u, n in state["nodes"].items() if n.get("resource_type") == "model")
    for uid in rng.sample(models, 20):
        current["nodes"].pop(uid, None)
    for uid in rng.sample(models, 10):
        node = current["nodes"].pop(uid, None)
        if node is not None:
            current["nodes"][uid + "_renamed"] = {**node, "name": node["name"] + "_renamed"}
    for uid in rng.sample(models, 100):
        cols = (current["nodes"].get(uid) or {}).get("columns") or {}
        if cols:
            cols.pop(next(iter(cols)))
    return current


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--sources", type=int, default=5_000)
    ap.add_argument("--exposures", type=int, default=20_000)
    args = ap.parse_args(argv)
    rng = random.Random(7)
    state, _rels = build_manifest(args.models, args.sources, warehouse="snowflake")
    add_exposures(state, args.exposures, rng)
    models = sorted(u for u, n in state["nodes"].items() if n.get("resource_type") == "model")
    staging = [u for u in models if state["nodes"][u].get("fqn", [""] * 2)[1] == "staging"]
    staging = staging or [u for u in models if ".stg_" in u]
    print(
        f"{len(state['nodes'])} nodes, {len(state['sources'])} sources, "
        f"{len(state['exposures'])} exposures; staging layer {len(staging)} models"
    )
    for label, modified in (
        ("10 models", rng.sample(models, 10)),
        ("100 models", rng.sample(models, 100)),
        ("1,000 models", rng.sample(models, 1000)),
        ("whole staging layer", staging),
    ):
        current = pull_request(state, modified, rng)
        gc.freeze()  # as the CLI does: the manifests live until exit
        t0 = time.perf_counter()
        changes = modified_nodes(state, current)
        t1 = time.perf_counter()
        result = impact(state, current)
        t2 = time.perf_counter()
        breaking = sum(1 for e in result.exposures if e.breaking_columns)
        print(
            f"{label:>20}: {len(changes):5} modified, {len(result.exposures):5} exposures "
            f"({breaking} breaking); modified_nodes {t1 - t0:.2f} s, impact {t2 - t1:.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
