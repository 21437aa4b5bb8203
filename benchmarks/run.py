"""Scale benchmarks (SPEC "Scale"): every stage and the whole sync, at several sizes.

    python -m benchmarks.run                        # Snowflake at 1%, 10% and 100% of SPEC
    python -m benchmarks.run --sizes 0.01 --quick   # a smoke run in a few seconds
    python -m benchmarks.run --warehouse bigquery --no-sqllineage

Prints markdown tables: wall time, throughput and peak memory per stage and size; how time
grows with size; the real CLI `sync` in a fresh process (cold, then with the parse cache);
extraction precision and recall beside a regex FROM/JOIN extractor and sqllineage; the
pathological texts; and a cProfile of where extraction and a second run spend their time.
Figures are printed (and saved as JSON under benchmarks/out/), never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:  # `python benchmarks/run.py` as well as `python -m benchmarks.run`
    sys.path.insert(0, ROOT)

from benchmarks import generate, regex_extractor  # noqa: E402
from hex_exposures import (  # noqa: E402
    __version__,
    column_stages,
    files,
    hex_comment,
    parallel,
    pipeline,
    sql_tables,
    yaml_merge,
)
from hex_exposures import exposures as expo  # noqa: E402
from hex_exposures.manifest import build_index  # noqa: E402
from hex_exposures.parse_cache import ParseCache  # noqa: E402
from hex_exposures.records import HexQuery, Settings, TableRef  # noqa: E402
from hex_exposures.sources import snapshot  # noqa: E402

FULL = {"models": 10_000, "sources": 5_000, "projects": 20_000, "rows": 1_000_000, "texts": 100_000}
OUT = os.path.join(HERE, "out")


# --- measuring ---------------------------------------------------------------------------


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    """Make VmHWM (peak RSS) restart from the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Measure(NamedTuple):
    seconds: float
    peak: int  # bytes, this process's peak RSS during the measure
    start_rss: int
    cpu: float  # this process's CPU seconds (workers not included)


@contextmanager
def measure() -> Iterator[list[Measure]]:
    box: list[Measure] = []
    gc.collect()
    _reset_peak()
    rss = _status("VmRSS:")
    c0 = time.process_time()
    t0 = time.perf_counter()
    yield box
    box.append(Measure(time.perf_counter() - t0, _status("VmHWM:"), rss, time.process_time() - c0))


class Phases:
    """Splits one `pipeline.run` into stages by which function it is in, without copying it.

    Wrapped functions announce their stage; time and peak RSS between two announcements go
    to the stage announced first, so a loop's own code is charged to the stage it serves.
    """

    def __init__(self) -> None:
        self.current: str | None = None
        self.t0 = 0.0
        self.seconds: dict[str, float] = defaultdict(float)
        self.peak: dict[str, int] = defaultdict(int)
        self.start: dict[str, int] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def enter(self, phase: str | None) -> None:
        if phase == self.current:
            return
        now = time.perf_counter()
        if self.current is not None:
            self.seconds[self.current] += now - self.t0
            self.peak[self.current] = max(self.peak[self.current], _status("VmHWM:"))
        _reset_peak()
        if phase is not None:
            self.start.setdefault(phase, _status("VmRSS:"))
        self.current, self.t0 = phase, time.perf_counter()

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.enter(phase)
            return original(*args, **kwargs)

        self._undo.append((owner, name, original))
        setattr(owner, name, wrapper)

    def extractor(self, inner: pipeline.Extractor) -> pipeline.Extractor:
        def wrapper(texts: Sequence[str], warehouse: str, cache: Any) -> list[Any]:
            self.enter("extraction")
            return inner(texts, warehouse, cache)

        return wrapper

    @contextmanager
    def installed(self) -> Iterator[Phases]:
        for name in ("build_index",):
            self.wrap(pipeline, name, "manifest index")
        self.wrap(pipeline, "learn_workspace", "comment scan")
        for name in ("parse", "strip"):
            self.wrap(hex_comment, name, "comment scan")
        self.wrap(sql_tables, "qualify", "resolution")
        for name in ("resolve_cached", "dependency"):
            self.wrap(pipeline, name, "resolution")
        for name in ("parse_table_name", "resolve_cached"):
            self.wrap(column_stages, name, "resolution")
        for name in ("read_managed", "exposure_names", "merge"):
            self.wrap(yaml_merge, name, "yaml build+merge")
        for name in ("assign_names", "build_exposure", "project_url"):
            self.wrap(expo, name, "yaml build+merge")
        try:
            yield self
        finally:
            self.enter(None)
            for owner, name, original in reversed(self._undo):
                setattr(owner, name, original)


def _tree_pss(root: int) -> int:
    """Proportional set size of `root` and its descendants (shared pages counted once)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children[ppid].append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class CliRun(NamedTuple):
    seconds: float
    cpu: float  # user + system seconds of the CLI and the worker processes it waited for
    tree_peak: int  # sampled every 20 ms: PSS of the CLI and its worker processes
    max_rss: int  # the largest single process's peak RSS (getrusage)
    code: int
    stderr: str


def run_cli(args: Sequence[str]) -> CliRun:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = usage.ru_utime + usage.ru_stime
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hex_exposures", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _tree_pss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    return CliRun(seconds, cpu, peak[0], usage.ru_maxrss * 1024, proc.returncode, err)


def wait_quiet(limit: float, max_wait: float) -> str:
    """Wait until the 1-minute load average falls below `limit` (other work on the machine
    skews every figure); return the load average, for the record."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)
    load = os.getloadavg()[0]
    return f"load average {load:.2f}" + ("" if load < limit else " (busy machine: figures skewed)")


# --- corpora -----------------------------------------------------------------------------


def sizes_for(factor: float, pathological: int) -> dict[str, int]:
    out = {k: max(int(v * factor), 10) for k, v in FULL.items()}
    out["pathological"] = pathological
    return out


def corpus(factor: float, warehouse: str, *, pathological: int) -> str:
    """The corpus folder for a size, generated once (a params stamp tells if it is current)."""
    params = {
        **sizes_for(factor, pathological),
        "warehouse": warehouse,
        "generator": GENERATOR,
    }
    folder = os.path.join(OUT, f"{warehouse}-{factor:g}")
    stamp = os.path.join(folder, "params.json")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == params:
                return folder
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    made = generate.generate(warehouse=warehouse, **sizes_for(factor, pathological))
    generate.write(made, folder)
    with open(stamp, "w") as f:
        json.dump(params, f)
    print(f"(generated {folder} in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return folder


def _digest(path: str) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


GENERATOR = _digest(os.path.join(HERE, "generate.py"))  # a changed generator: new corpora


class Loaded(NamedTuple):
    folder: str
    warehouse: str
    manifest: Any
    snap: snapshot.Snapshot
    truth: dict[str, Any]
    distinct: list[str]  # the SQL texts a run parses (comment stripped), sorted


def load(folder: str, warehouse: str, *, truth: bool = True) -> Loaded:
    manifest = files.read_manifest(os.path.join(folder, "target", "manifest.json"))
    snap = snapshot.load(os.path.join(folder, "hex_snapshot.json"))
    known: dict[str, Any] = {}
    if truth:
        with open(os.path.join(folder, "truth.json")) as f:
            known = json.load(f)
    distinct = sorted({_sql(q) for q in snap.queries} - {""})
    return Loaded(folder, warehouse, manifest, snap, known, distinct)


def _sql(q: HexQuery) -> str:
    comment = hex_comment.parse(q.query_text)
    return hex_comment.strip(q.query_text, comment) if comment else ""


# --- stages ------------------------------------------------------------------------------


class Row(NamedTuple):
    stage: str
    size: str
    seconds: float
    units: int
    unit: str
    peak: int
    start: int = 0  # RSS when the stage began (the benchmark holds its inputs meanwhile)


def _settings(warehouse: str) -> Settings:
    return Settings(warehouse=warehouse)


def _cold_memo() -> None:
    """Forget sql_tables' in-process token-shape memo, so a measure starts cold."""
    from hex_exposures import sql_columns

    for module in (sql_tables, sql_columns):
        shapes = getattr(module, "_SHAPES", None)
        if isinstance(shapes, dict):
            shapes.clear()


def stage_rows(data: Loaded, label: str, *, serial: bool) -> list[Row]:
    """Each stage on one corpus: manifest, snapshot, then a first and a second pipeline run."""
    rows: list[Row] = []
    wh = data.warehouse

    def add(stage: str, m: Measure, units: int, unit: str) -> None:
        rows.append(Row(stage, label, m.seconds, units, unit, m.peak, m.start_rss))

    n_nodes = len(data.manifest["nodes"]) + len(data.manifest["sources"])
    records = len(data.snap.queries)
    texts = data.distinct
    with measure() as m:
        manifest = files.read_manifest(os.path.join(data.folder, "target", "manifest.json"))
    add("manifest load (json)", m[0], n_nodes, "nodes")
    with measure() as m:
        build_index(manifest, wh)
    add("manifest index", m[0], n_nodes, "nodes")
    del manifest
    with measure() as m:
        snapshot.load(os.path.join(data.folder, "hex_snapshot.json"))
    add("snapshot load (json)", m[0], records, "records")
    if serial:
        _cold_memo()
        with measure() as m:
            pipeline.extract_distinct(texts, wh, {})
        add("extraction, 1 process", m[0], len(texts), "texts")
    _cold_memo()
    with measure() as m:
        parallel.parallel_extractor(texts, wh, {})
    add(f"extraction, {parallel.cpus()} processes", m[0], len(texts), "texts")

    cache_file = os.path.join(OUT, f"parse-cache-{wh}-{label}.sqlite3")
    if os.path.exists(cache_file):
        os.unlink(cache_file)
    runs = sum(q.run_count for q in data.snap.queries)
    existing = None
    for run_name in ("first run", "second run"):
        _cold_memo()
        phases = Phases()
        with measure() as m, phases.installed():
            phases.enter("parse cache load")
            cache = ParseCache(cache_file)
            result = pipeline.run(
                data.manifest,
                data.snap.projects,
                data.snap.queries,
                settings=_settings(wh),
                existing=existing,
                workspace=data.snap.workspace,
                warehouse=wh,
                cache=cache,
                extractor=phases.extractor(parallel.parallel_extractor),
                column_extractor=parallel.parallel_columns,
            )
            phases.enter("parse cache save")
            cache.save()
        existing = result.text
        units = {
            "manifest index": (n_nodes, "nodes"),
            "comment scan": (records, "records"),
            "extraction": (len(texts), "texts"),
            "resolution": (records, "records"),
            "yaml build+merge": (len(result.exposures), "exposures"),
        }
        for phase, seconds in phases.seconds.items():
            n, unit = units.get(phase, (0, ""))
            start = phases.start.get(phase, 0)
            rows.append(
                Row(f"{run_name}: {phase}", label, seconds, n, unit, phases.peak[phase], start)
            )
        add(f"{run_name}: pipeline.run, all stages", m[0], runs, "rows")
    return rows


# --- accuracy ----------------------------------------------------------------------------


class Score(NamedTuple):
    name: str
    texts: int
    precision: float
    recall: float
    exact: float  # share of texts whose table set is exactly right
    per_second: float
    failures: int  # texts that raised or timed out


def _truth(data: Loaded, sql: str) -> set[TableRef] | None:
    entry = data.truth["texts"].get(generate.text_key(sql))
    if entry is None or entry["shape"].startswith("patho"):
        return None
    return {TableRef(*t) for t in entry["tables"]}


def score(
    name: str, data: Loaded, texts: Sequence[str], find: Callable[[str], set[TableRef] | None]
) -> Score:
    tp = fp = fn = exact = failures = n = 0
    t0 = time.perf_counter()
    for sql in texts:
        truth = _truth(data, sql)
        if truth is None:
            continue
        n += 1
        got = find(sql)
        if got is None:
            failures += 1
            got = set()
        tp += len(got & truth)
        fp += len(got - truth)
        fn += len(truth - got)
        exact += got == truth
    seconds = time.perf_counter() - t0
    return Score(
        name,
        n,
        tp / (tp + fp) if tp + fp else 1.0,
        tp / (tp + fn) if tp + fn else 1.0,
        exact / n if n else 0.0,
        n / seconds if seconds else 0.0,
        failures,
    )


class _Timeout(Exception):
    pass


def _sqllineage(warehouse: str, budget: float) -> Callable[[str], set[TableRef] | None]:
    from sqllineage.runner import LineageRunner

    from hex_exposures.identifiers import normalize

    def alarm(_signum: int, _frame: Any) -> None:
        raise _Timeout

    def find(sql: str) -> set[TableRef] | None:
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            tables = LineageRunner(sql, dialect=warehouse, silent_mode=True).source_tables
        except _Timeout:
            return None
        except Exception:
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out = set()
        for t in tables:
            qualifier = str(t.schema.raw_name)
            parts = [] if qualifier.startswith("<") else qualifier.split(".")
            parts.append(str(t.raw_name))
            # sqllineage lower-cases names: give it the warehouse's unquoted folding
            norm: list[str | None] = [None, None, None]
            for i, part in enumerate(reversed(parts[-3:])):
                norm[2 - i] = normalize(part, quoted=False, warehouse=warehouse)
            out.add(TableRef(norm[0], norm[1], norm[2] or ""))
        return out

    return find


@contextmanager
def _none_safe_sort() -> Iterator[None]:
    """Work around `sorted(ev.tables)` in pipeline.run, which raises TypeError when one
    project has both a partly qualified name the context cannot complete (None parts) and a
    full one; the regex extractor's false positives (`t1.created_at`) do that."""
    import builtins

    def safe(items: Any, *, key: Any = None, reverse: bool = False) -> list[Any]:
        try:
            return builtins.sorted(items, key=key, reverse=reverse)
        except TypeError:
            return builtins.sorted(items, key=lambda t: tuple(p or "" for p in t), reverse=reverse)

    pipeline.sorted = safe  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del pipeline.sorted  # type: ignore[attr-defined]


def accuracy(data: Loaded, *, lineage_sample: int) -> tuple[list[Score], list[Score]]:
    """Table-level scores per text, and dependency-level scores per Hex project."""
    wh = data.warehouse
    texts = data.distinct
    _cold_memo()
    table_scores = [
        score(
            "sqlglot (hex-exposures)",
            data,
            texts,
            lambda s: set(sql_tables.parse_tables(s, wh).tables),
        ),
        score(
            "regex FROM/JOIN (dbt-metabase)", data, texts, lambda s: regex_extractor.extract(s, wh)
        ),
    ]
    if lineage_sample:
        sample = random.Random(1).sample(texts, min(lineage_sample, len(texts)))
        table_scores.append(score("sqllineage 1.5 (sample)", data, sample, _sqllineage(wh, 20.0)))

    def regex_extractor_fn(batch: Sequence[str], warehouse: str, cache: Any) -> list[Any]:
        return [sql_tables.Extraction(tuple(regex_extractor.extract(s, warehouse))) for s in batch]

    node_scores = []
    for name, fn in (
        ("sqlglot (hex-exposures)", parallel.parallel_extractor),
        ("regex FROM/JOIN (dbt-metabase)", regex_extractor_fn),
    ):
        t0 = time.perf_counter()
        with _none_safe_sort():
            result = pipeline.run(
                data.manifest,
                data.snap.projects,
                data.snap.queries,
                settings=_settings(wh),
                workspace=data.snap.workspace,
                warehouse=wh,
                cache={},
                extractor=fn,
            )
        seconds = time.perf_counter() - t0
        tp = fp = fn_ = exact = n = 0
        for p in result.report.projects:
            if p.status in ("trashed", "archived"):
                continue
            want = set(data.truth["projects"].get(p.project_id, ()))
            got = set(p.nodes)
            if not want and not got:
                continue
            n += 1
            tp += len(got & want)
            fp += len(got - want)
            fn_ += len(want - got)
            exact += got == want
        node_scores.append(
            Score(
                name,
                n,
                tp / max(tp + fp, 1),
                tp / max(tp + fn_, 1),
                exact / max(n, 1),
                n / seconds,
                0,
            )
        )
    return table_scores, node_scores


# --- pathological texts and profiles -----------------------------------------------------


def pathological(data: Loaded) -> list[tuple[str, int, float, str]]:
    out = []
    for sql in data.distinct:
        entry = data.truth["texts"].get(generate.text_key(sql))
        if entry and entry["shape"].startswith("patho"):
            _cold_memo()
            t0 = time.perf_counter()
            ext = sql_tables.parse_tables(sql, data.warehouse)
            seconds = time.perf_counter() - t0
            what = ext.error or f"{len(ext.tables)} table(s)"
            out.append((entry["shape"], len(sql), seconds, what))
    return sorted(out)


def profile(fn: Callable[[], Any], *, top: int = 14, sort: str = "tottime") -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats(sort).print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    head = next((ln.strip() for ln in lines if "function calls" in ln), "")
    return "\n".join([head, *lines[start:]])


def _short(path: str) -> str:
    return path.replace(ROOT + "/", "").replace(sys.prefix + "/lib/python3.11/site-packages/", "")


# --- printing ----------------------------------------------------------------------------


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "-"


def print_stage_table(rows: Sequence[Row]) -> None:
    print("| stage | size | wall s | throughput | peak RSS | peak - RSS at start |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        rate = f"{_rate(r.units, r.seconds)} {r.unit}/s" if r.units else "-"
        print(
            f"| {r.stage} | {r.size} | {r.seconds:.3f} | {rate} | {_mib(r.peak)}"
            f" | {_mib(max(r.peak - r.start, 0))} |"
        )


def print_growth(rows: Sequence[Row], labels: Sequence[str], factors: Sequence[float]) -> None:
    if len(labels) < 2:
        return
    print("\nGrowth: seconds per size, and k in time ~ size^k between neighbouring sizes.\n")
    print("| stage | " + " | ".join(labels) + " | k |")
    print("|---|" + "---:|" * len(labels) + "---|")
    by: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        by[r.stage][r.size] = r.seconds
    for stage, per in by.items():
        cells = [f"{per[lb]:.3f}" if lb in per else "-" for lb in labels]
        ks = []
        for (a, fa), (b, fb) in zip(
            zip(labels, factors, strict=True),
            list(zip(labels, factors, strict=True))[1:],
            strict=False,
        ):
            if a in per and b in per and per[a] > 0.005:
                ks.append(f"{math.log(per[b] / per[a]) / math.log(fb / fa):.2f}")
        print(f"| {stage} | " + " | ".join(cells) + f" | {', '.join(ks) or '-'} |")


def print_scores(title: str, scores: Sequence[Score], unit: str) -> None:
    print(f"\n{title}\n")
    print(f"| approach | {unit} | precision | recall | exactly right | {unit}/s | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in scores:
        print(
            f"| {s.name} | {s.texts:,} | {s.precision:.4f} | {s.recall:.4f} | {s.exact:.3f}"
            f" | {s.per_second:,.1f} | {s.failures} |"
        )


def environment() -> str:
    import sqlglot

    try:
        from importlib.metadata import version

        lineage = version("sqllineage")
    except Exception:
        lineage = "-"
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{date.today().isoformat()}; {parallel.cpus()} cores ({cpu}), {mem:.0f} GiB; "
        f"Python {platform.python_version()}; hex-exposures {__version__}; sqlglot "
        f"{sqlglot.__version__} (sqlglotc: {_sqlglotc()}); sqllineage {lineage}"
    )


def _sqlglotc() -> str:
    import sqlglot.parser

    return "yes" if str(sqlglot.parser.__file__).endswith(".so") else "no"


# --- main --------------------------------------------------------------------------------


def child_stages(folder: str, warehouse: str, label: str, serial: bool) -> int:
    """Stage figures from a fresh process holding only what a real run holds."""
    data = load(folder, warehouse, truth=False)
    rows = stage_rows(data, label, serial=serial)
    print(json.dumps([r._asdict() for r in rows]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", choices=("snowflake", "bigquery"), default="snowflake")
    ap.add_argument("--sizes", default="0.01,0.1,1", help="fractions of SPEC's full size")
    ap.add_argument("--accuracy-size", type=float, default=0.1)
    ap.add_argument("--quick", action="store_true", help="skip 1-process extraction at 100%%")
    ap.add_argument("--no-sqllineage", action="store_true")
    ap.add_argument("--lineage-sample", type=int, default=200)
    ap.add_argument("--pathological", type=int, default=6, help="at the largest size only")
    ap.add_argument("--quiet-load", type=float, default=0.8, help="wait for a load average below")
    ap.add_argument("--max-wait", type=float, default=0, help="seconds to wait for it (0: none)")
    ap.add_argument("--child-stages", nargs=3, help=argparse.SUPPRESS)  # folder label serial
    a = ap.parse_args(argv)
    wh = a.warehouse
    if a.child_stages:
        folder, label, serial = a.child_stages
        return child_stages(folder, wh, label, serial == "1")
    factors = sorted(float(x) for x in a.sizes.split(","))
    os.makedirs(OUT, exist_ok=True)
    print(f"# hex-exposures scale benchmark ({wh})\n\n{environment()}\n")
    results: dict[str, Any] = {"environment": environment(), "warehouse": wh, "sizes": {}}

    rows: list[Row] = []
    labels = []
    folder = ""
    for factor in factors:
        patho = a.pathological if factor == factors[-1] else 0
        folder = corpus(factor, wh, pathological=patho)
        with open(os.path.join(folder, "truth.json")) as f:
            counts = json.load(f)["counts"]
        with open(os.path.join(folder, "target", "manifest.json")) as f:
            manifest = json.load(f)
        nodes, sources = len(manifest["nodes"]), len(manifest["sources"])
        del manifest
        quiet = wait_quiet(a.quiet_load, a.max_wait)
        label = f"{factor:g}x"
        labels.append(label)
        print(
            f"- {label}: {counts['distinct_texts']:,} distinct texts, {counts['records']:,} "
            f"records ({counts['rows']:,} history rows as run counts), {counts['projects']:,} "
            f"projects, {nodes:,} nodes + {sources:,} sources; pathological texts: {patho}; "
            f"{quiet}",
            flush=True,
        )
        serial = "0" if a.quick and factor >= 1 else "1"
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.run",
                "--warehouse",
                wh,
                "--child-stages",
                folder,
                label,
                serial,
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows += [Row(**r) for r in json.loads(out.strip().splitlines()[-1])]
        results["sizes"][label] = counts
    print()
    print_stage_table(rows)
    print_growth(rows, labels, factors)
    results["stages"] = [r._asdict() for r in rows]

    # The CLI, end to end, in a fresh process: cold, then with the parse cache.
    quiet = wait_quiet(a.quiet_load, a.max_wait)
    print(f"\n## The CLI end to end at {labels[-1]} (a fresh process each; {quiet})\n")
    cache_dir = os.path.join(folder, "target", "hex_exposures_parse_cache")
    output = os.path.join(folder, "models", "hex_exposures.yml")
    shutil.rmtree(cache_dir, ignore_errors=True)
    if os.path.exists(output):
        os.unlink(output)
    common = [
        "--project-dir",
        folder,
        "--from-snapshot",
        os.path.join(folder, "hex_snapshot.json"),
        "--warehouse",
        wh,
        "--quiet",
    ]
    print(
        "| run | wall s | CPU s | peak memory, all processes (PSS) | largest process RSS | exit |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    cli: dict[str, Any] = {}
    for name, command in (
        ("`sync`, first run (no parse cache, no exposures file)", "sync"),
        ("`sync`, second run (parse cache; file up to date)", "sync"),
        ("`check`, third run (parse cache; file up to date)", "check"),
    ):
        r = run_cli([command, *common])
        cli[name] = r._asdict()
        print(
            f"| {name} | {r.seconds:.2f} | {r.cpu:.2f} | {_mib(r.tree_peak)} | {_mib(r.max_rss)}"
            f" | {r.code} |"
        )
        if r.code:
            print(f"\n    stderr: {r.stderr.strip()[:2000]}\n")
    results["cli"] = cli

    # compute() reads the parse cache the CLI runs above left under the corpus's target/.
    def second() -> None:
        from hex_exposures import cli as cli_module

        cli_module.compute(
            Settings(
                project_dir=folder,
                warehouse=wh,
                from_snapshot=os.path.join(folder, "hex_snapshot.json"),
                quiet=True,
            )
        )

    print("\n### Where a second run's time goes (`cli.compute`, cProfile, cumulative)\n")
    import logging

    logging.getLogger("hex_exposures").setLevel(logging.ERROR)  # the stale-manifest warning
    print("```\n" + _short(profile(second, top=25, sort="cumulative")) + "\n```")

    biggest = load(folder, wh)
    print("\n## Pathological texts (one parse each, 1 process)\n")
    print("| text | chars | seconds | result |")
    print("|---|---:|---:|---|")
    for shape, chars, seconds, what in pathological(biggest):
        print(f"| {shape} | {chars:,} | {seconds:.3f} | {what} |")
    del biggest

    # Accuracy: every text for sqlglot and regex; a sample for sqllineage.
    mid = load(corpus(a.accuracy_size, wh, pathological=0), wh)
    tables, node_scores = accuracy(mid, lineage_sample=0 if a.no_sqllineage else a.lineage_sample)
    print_scores(
        f"## Extraction accuracy per text at {a.accuracy_size:g}x (tables read, as written)",
        tables,
        "texts",
    )
    print_scores(
        "## Dependencies per Hex project (after resolution to dbt nodes)", node_scores, "projects"
    )
    results["accuracy"] = {
        "tables": [s._asdict() for s in tables],
        "nodes": [s._asdict() for s in node_scores],
    }

    # Extraction speed without parameter variants: every text a different token shape.
    print("\n## Extraction per core by text kind (1 process, cold)\n")
    print("| texts | count | texts/s | mean lines |")
    print("|---|---:|---:|---:|")
    base = [
        s
        for s in mid.distinct
        if (e := mid.truth["texts"].get(generate.text_key(s)))
        and not e["shape"].startswith("patho")
    ]
    for name, chosen in (
        ("as generated (40% parameter variants)", base),
        ("one per token shape (variants removed)", _one_per_shape(base, wh)),
    ):
        _cold_memo()
        t0 = time.perf_counter()
        pipeline.extract_distinct(chosen, wh, {})
        seconds = time.perf_counter() - t0
        lines = sum(s.count("\n") + 1 for s in chosen) / max(len(chosen), 1)
        print(f"| {name} | {len(chosen):,} | {len(chosen) / seconds:,.0f} | {lines:.1f} |")

    print("\n## When workers pay off (parallel.MIN_BATCH)\n")
    print("| texts | 1 process s | worker processes s (start included) |")
    print("|---:|---:|---:|")
    for n in (250, 500, 1000, 2000, 4000, 8000):
        if n > len(base):
            break
        chosen = base[:n]
        _cold_memo()
        t0 = time.perf_counter()
        parallel.parallel_extractor(chosen, wh, {}, workers=1)
        one = time.perf_counter() - t0
        _cold_memo()
        t0 = time.perf_counter()
        parallel.parallel_extractor(chosen, wh, {}, min_batch=0)
        many = time.perf_counter() - t0
        print(f"| {n:,} | {one:.2f} | {many:.2f} |")

    print("\n## Profile: extraction of 2,000 texts, 1 process (cProfile, by own time)\n")
    sample = random.Random(2).sample(base, min(2000, len(base)))
    _cold_memo()
    print("```\n" + _short(profile(lambda: pipeline.extract_distinct(sample, wh, {}))) + "\n```")

    out = os.path.join(OUT, f"results-{wh}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"\n(saved {os.path.relpath(out, ROOT)})")
    return 0


def _one_per_shape(texts: Sequence[str], warehouse: str) -> list[str]:
    """Texts with pairwise different token shapes (what sql_tables memoizes on)."""
    shape_of = getattr(sql_tables, "_shape", None)
    if shape_of is None:
        return list(texts)
    dialect = sql_tables._dialect(warehouse)
    seen: set[bytes] = set()
    out = []
    for s in texts:
        key = shape_of(dialect.tokenize(s))[0]
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
