"""JSON decoders on the 1x inputs: json (stdlib), orjson, msgspec; time and peak memory.

    python -m benchmarks.decode_bench [--folder benchmarks/out/snowflake-1] [--repeat 3]

Each measurement runs in a fresh process (peak RSS, VmHWM, is then the decoder's own, over
an interpreter that has only imported it). The manifest is decoded whole; the snapshot
as version 2 lines, one `loads` per line, the way `sources/snapshot.load` reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import gc, json, sys, time
which, kind, path = sys.argv[1:4]
if which == "orjson":
    import orjson; loads = orjson.loads
elif which == "msgspec":
    import msgspec; loads = msgspec.json.Decoder().decode
else:
    loads = json.loads
def hwm():  # VmHWM: unlike ru_maxrss, not inherited across exec from the parent
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
start = hwm()
gc.disable()
t0 = time.perf_counter()
if kind == "manifest":
    with open(path, "rb") as f:
        raw = f.read()
    if which == "json":
        raw = raw.decode("utf-8")
    data = loads(raw)
    del raw
else:
    data = []
    with open(path, "rb") as f:
        for line in f:
            data.append(loads(line))
took = time.perf_counter() - t0
peak = hwm()
print(json.dumps({"s": took, "mib": (peak - start) / 1024}))
"""


def measure(which: str, kind: str, path: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, which, kind, path], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", default=os.path.join("benchmarks", "out", "snowflake-1"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    manifest = os.path.join(args.folder, "target", "manifest.json")
    lines = os.path.join(args.folder, "hex_snapshot.v2.jsonl")
    if not os.path.exists(lines):
        from hex_exposures.sources import snapshot

        snap = snapshot.load(os.path.join(args.folder, "hex_snapshot.json"))
        with open(lines, "w", encoding="utf-8") as f:
            for line in snapshot.dump_lines(
                snap.projects,
                snap.queries,
                warehouse=snap.warehouse or "snowflake",
                workspace=snap.workspace,
                hex_url=snap.hex_url or "",
                captured_at="bench",
            ):
                f.write(line)
        del snap
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| input | decoder | seconds (min of runs) | peak RSS over start MiB |")
    print("|---|---|---:|---:|")
    for kind, path in (("manifest", manifest), ("snapshot v2 lines", lines)):
        size = os.path.getsize(path) / 2**20
        for which in ("json", "orjson", "msgspec"):
            runs = [measure(which, kind.split()[0], path) for _ in range(args.repeat)]
            best = min(r["s"] for r in runs)
            mib = max(r["mib"] for r in runs)
            print(f"| {kind} ({size:.0f} MB) | {which} | {best:.2f} | {mib:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
