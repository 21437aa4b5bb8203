"""Faults while writing and while reading the world (issue 8): nothing partial, nothing lost.

- a process killed at random moments while replacing the exposures file leaves the old bytes
  or the new bytes, never a mix (real SIGKILLs of a child process);
- a read-only output folder, a file changed, created or deleted by someone else between our
  read and our write, and a full disk each end in one line, with the old file as it was and
  no temporary file left;
- Hex failing part-way through paging (5xx, 401, resets), or after the warehouse was read,
  and the warehouse failing after Hex was read: exit 3 and the project byte-identical.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hex_exposures import cli, files, pipeline
from hex_exposures.errors import ExposuresFileError
from hex_exposures.sources import hex_api
from tests.manifest_factory import manifest, model, source
from tests.servers.hex_server import RESET, TOKEN, Fault, HexServer, make_project, serve
from tests.servers.snowflake_history import Run, create_history

FINDINGS: Counter[str] = Counter()
OUTPUT = "hex_exposures.yml"
TMP_RE = re.compile(r"\.hex_exposures\.yml\.[^/]+\.tmp")
PROJECTS = [make_project(i) for i in range(3)]
HAND_WRITTEN = b"""\
# A person's file: every byte of it must survive a failed sync.
version: 2
exposures:
  - name: board_deck   # by hand
    type: application
    owner: {name: CFO}
"""


def hex_text(pid: str, *, url: bool = True) -> str:
    meta: dict[str, Any] = {"context": "SCHEDULED_RUN", "project_id": pid}
    if url:
        meta["project_url"] = f"https://app.hex.tech/acme/hex/{pid}"
    return "select * from analytics.marts.fct_orders\n-- Hex query metadata: " + json.dumps(
        meta, sort_keys=True
    )


def tiny_project(root: Path) -> Path:
    """A dbt project with a manifest, a snapshot of 3 Hex projects and a hand-written file."""
    (root / "models").mkdir(parents=True)
    (root / "target").mkdir()
    (root / "dbt_project.yml").write_text("name: proj\nmodel-paths: [models]\n")
    (root / "target" / "manifest.json").write_text(
        json.dumps(manifest(model("fct_orders"), source("stripe", "charges")))
    )
    snap = {
        "format": "hex-exposures-snapshot",
        "version": 1,
        "hex_url": "https://app.hex.tech",
        "workspace": "acme",
        "warehouse": "snowflake",
        "projects": PROJECTS,
        "queries": [{"project_id": p["id"], "query_text": hex_text(p["id"])} for p in PROJECTS],
    }
    (root / "hex_snapshot.json").write_text(json.dumps(snap))
    (root / "models" / OUTPUT).write_bytes(HAND_WRITTEN)
    return root


def snapshot_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (to prove a failed run changed nothing)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def offline(root: Path) -> list[str]:
    return ["sync", "--project-dir", str(root), "--from-snapshot", str(root / "hex_snapshot.json")]


def one_error_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("hex-exposures: error: ") and "Traceback" not in err
    return err


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_the_tiny_project_syncs(tmp_path: Path) -> None:
    """The baseline the faults below break: without a fault the sync writes the file."""
    root = tiny_project(tmp_path / "p")
    code, _out, err = run_cli([*offline(root), "-q"])
    assert (code, err) == (0, "")
    text = (root / "models" / OUTPUT).read_bytes()
    assert text.startswith(HAND_WRITTEN) and text.count(b"ref('fct_orders')") == 3


# --- killed mid-write -------------------------------------------------------------------------

_WRITER = """
import os, sys
from hex_exposures import files

real_fsync = os.fsync

def fsync(fd):  # say "the temporary file is written, about to be flushed and renamed"
    sys.stdout.write("w")
    sys.stdout.flush()
    real_fsync(fd)

files.os.fsync = fsync
path, lines = sys.argv[1], int(sys.argv[2])
a, b = ("a" * 99 + "\\n") * lines, ("b" * 99 + "\\n") * lines
print("ready", flush=True)
while True:
    now = files.read_existing(path)
    files.write_if_changed(path, b if now.text == a else a, now)
"""


def test_a_process_killed_mid_write_leaves_old_or_new_bytes_never_a_mix(tmp_path: Path) -> None:
    """30 SIGKILLs, three writers at a time (each on its own file): in even rounds at random
    moments, in odd rounds just as a writer starts to fsync its temporary file."""
    lines = 20_000  # 2 MB: a write and fsync take long enough to be interrupted
    a, b = ("a" * 99 + "\n") * lines, ("b" * 99 + "\n") * lines
    digests = {hashlib.sha256(t.encode()).hexdigest(): t[0] for t in (a, b)}
    folders = [tmp_path / f"models{n}" for n in range(3)]
    for folder in folders:
        folder.mkdir()
        (folder / OUTPUT).write_text(a)
    rng = random.Random(8)
    seen: Counter[str] = Counter()
    for round_ in range(10):
        children = []
        for folder in folders:
            child = subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(folder / OUTPUT), str(lines)],
                stdout=subprocess.PIPE,
            )
            children.append((folder, child, set(temp_files(folder))))
        for _folder, child, _before in children:
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        started = time.monotonic()
        for at, (folder, child, before) in sorted(
            zip(sorted(rng.uniform(0.0, 0.12) for _ in folders), children, strict=True),
            key=lambda pair: pair[0],
        ):
            if round_ % 2:
                assert child.stdout is not None and child.stdout.read(1) == b"w"
                time.sleep(at / 100)  # 0 to 1.2 ms into the fsync
            else:
                time.sleep(max(0.0, started + at - time.monotonic()))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            assert child.stdout is not None
            child.stdout.close()
            assert child.returncode == -signal.SIGKILL
            digest = hashlib.sha256((folder / OUTPUT).read_bytes()).hexdigest()
            assert digest in digests, "a partial exposures file"
            seen[digests[digest]] += 1
            others = [p.name for p in folder.iterdir() if p.name != OUTPUT]
            assert all(TMP_RE.fullmatch(name) for name in others), others
            if set(temp_files(folder)) - before:
                seen["killed while a temporary file was open"] += 1
    assert seen["a"] + seen["b"] == 30
    assert seen["b"]  # the writers got writes done between kills
    assert seen["killed while a temporary file was open"] >= 5  # kills did land mid-write
    lingering = [name for folder in folders for name in temp_files(folder)]
    # A SIGKILLed writer cannot clean up, and nothing removes its temporary file later: they
    # pile up next to the exposures file (dot-prefixed, `.tmp`, so dbt ignores them, but
    # `git status` shows them). Reported as a finding; here we only pin their names.
    FINDINGS["lingering temp files after 30 kills"] = len(lingering)
    target = folders[0] / OUTPUT
    kept = temp_files(folders[0])
    assert files.write_if_changed(str(target), "x\n", files.read_existing(str(target)))
    assert target.read_text() == "x\n"
    assert temp_files(folders[0]) == kept  # a later successful write does not remove them
    print(f"\nkill test: {dict(seen)}, lingering temp files: {len(lingering)}")


# --- read-only output folder -------------------------------------------------------------------


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Make `folder` refuse new entries: chmod for a user, `chattr +i` for root (root ignores
    modes), and only if neither is possible a patched `mkstemp` that fails like the OS would."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "chmod"
        finally:
            folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode == 0:
        try:
            yield "chattr +i"
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
        return

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files, "_create_temp", refuse)
    yield "patched temp-file creation"


def test_a_read_only_output_folder_is_one_line_and_the_old_file_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tiny_project(tmp_path / "p")
    before = snapshot_of(root / "models")
    with read_only(root / "models", monkeypatch) as how:
        code, _out, err = run_cli([*offline(root), "-q"])
    assert code == 2, (how, err)
    line = one_error_line(err)
    assert f"models/{OUTPUT}: cannot write here (" in line and "nothing written" in line
    assert snapshot_of(root / "models") == before
    FINDINGS[f"read-only folder simulated by {how}"] += 1


# --- someone else edits the file meanwhile ------------------------------------------------------


@pytest.mark.parametrize("change", ["edited", "created", "deleted"])
def test_a_file_changed_by_someone_else_after_the_read_is_not_overwritten(
    tmp_path: Path, change: str
) -> None:
    path = tmp_path / OUTPUT
    if change != "created":
        path.write_bytes(HAND_WRITTEN)
    read = files.read_existing(str(path))
    theirs: bytes | None = HAND_WRITTEN + b"# their edit\n"
    if change == "deleted":
        path.unlink()
        theirs = None
    else:
        path.write_bytes(theirs)  # type: ignore[arg-type]
    with pytest.raises(ExposuresFileError) as info:
        files.write_if_changed(str(path), "version: 2\nexposures: []\n", read)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: changed by someone else")
    assert (path.read_bytes() if path.exists() else None) == theirs
    assert temp_files(tmp_path) == []


def test_an_edit_saved_while_sync_runs_is_kept_and_sync_says_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tiny_project(tmp_path / "p")
    output = root / "models" / OUTPUT
    theirs = HAND_WRITTEN.replace(b"CFO", b"CFO and CEO")
    real_run = pipeline.conclude  # works out the answer from what was read

    def run_while_someone_saves(*args: Any, **kwargs: Any) -> Any:
        result = real_run(*args, **kwargs)
        output.write_bytes(theirs)  # the editor saves after we read, before we write
        return result

    monkeypatch.setattr(pipeline, "conclude", run_while_someone_saves)
    code, _out, err = run_cli([*offline(root), "-q"])
    assert code == 2
    assert "changed by someone else while hex-exposures ran; nothing written, run again" in (
        one_error_line(err)
    )
    assert output.read_bytes() == theirs
    assert temp_files(output.parent) == []


def test_an_edit_saved_during_our_write_and_fsync_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check must come after the slow part (writing and flushing a big file), right
    before the rename; only the rename itself is then left as a window."""
    path = tmp_path / OUTPUT
    path.write_bytes(HAND_WRITTEN)
    read = files.read_existing(str(path))
    theirs = HAND_WRITTEN + b"# saved while the tool was writing\n"
    real_fsync = os.fsync

    def fsync_while_someone_saves(fd: int) -> None:
        path.write_bytes(theirs)
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync_while_someone_saves)
    with pytest.raises(ExposuresFileError, match="changed by someone else"):
        files.write_if_changed(str(path), "version: 2\nexposures: []\n", read)
    assert path.read_bytes() == theirs
    assert temp_files(tmp_path) == []


# --- disk full ----------------------------------------------------------------------------------


def _enospc(*args: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_at_fsync_is_one_line_and_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / OUTPUT
    path.write_bytes(HAND_WRITTEN)
    read = files.read_existing(str(path))
    monkeypatch.setattr(files.os, "fsync", _enospc)
    with pytest.raises(ExposuresFileError) as info:
        files.write_if_changed(str(path), "x" * 100_000, read)
    assert str(info.value) == (
        f"{path}: cannot write (No space left on device); the old file is unchanged"
    )
    assert path.read_bytes() == HAND_WRITTEN
    assert temp_files(tmp_path) == []


def test_a_full_disk_during_sync_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tiny_project(tmp_path / "p")
    before = snapshot_of(root / "models")
    monkeypatch.setattr(files.os, "fsync", _enospc)
    code, _out, err = run_cli([*offline(root), "-q"])
    assert code == 2
    assert "No space left on device" in one_error_line(err)
    assert snapshot_of(root / "models") == before


_LIMITED = """
import resource, signal, sys
from hex_exposures import files
from hex_exposures.errors import ExposuresFileError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
path = sys.argv[1]
try:
    files.write_if_changed(path, "y" * 1_000_000, files.read_existing(path))
except ExposuresFileError as err:
    print(err)
"""


def test_a_real_failing_write_is_one_line_and_leaves_the_old_file(tmp_path: Path) -> None:
    """The kernel refuses the write (a file-size limit: EFBIG, as a full disk gives ENOSPC)."""
    path = tmp_path / OUTPUT
    path.write_bytes(HAND_WRITTEN)
    child = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(path)], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout == f"{path}: cannot write (File too large); the old file is unchanged\n"
    assert path.read_bytes() == HAND_WRITTEN
    assert temp_files(tmp_path) == []


# --- Hex or the warehouse failing part-way ------------------------------------------------------

PAGE = "/api/v1/projects"


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries back off for real seconds; the CLI builds its own client, so patch the default."""
    defaults = hex_api.HexApiSource.__init__.__kwdefaults__
    assert defaults is not None and "sleep" in defaults
    monkeypatch.setitem(defaults, "sleep", lambda s: None)


def first_page(server: HexServer) -> Any:
    """Page 1 as the server serves it (its cursor is then known to the server)."""
    params = {
        "limit": "100",
        "includeComponents": "true",
        "includeArchived": "true",
        "includeTrashed": "true",
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.get(server.url + PAGE, params=params, headers=headers, timeout=10).json()


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ([500] * 5, "500 Internal Server Error"),
        ([401], "401 Unauthorized"),
        ([RESET] * 5, "cannot reach Hex"),
        ([Fault(status=200, body={"values": "nope"})], "no 'values' list"),
    ],
    ids=["5xx", "401", "resets", "garbage"],
)
def test_hex_failing_mid_pagination_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: list[Any], message: str
) -> None:
    root = tiny_project(tmp_path / "p")
    before = snapshot_of(root)
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")  # the local preflight passes; Hex fails
    with serve(project_count=250, rate_limit=None, lifetime=30) as server:
        page = first_page(server)
        assert page["pagination"]["after"]
        server.script(PAGE, Fault(status=200, body=page), *faults)
        argv = ["sync", "--project-dir", str(root), "--hex-url", server.url, "--warehouse"]
        code, _out, err = run_cli([*argv, "snowflake", "-q"])
        cursors = [r.query.get("after") for r in server.requests if r.path == PAGE]
    assert code == 3
    assert message in one_error_line(err)
    # Our own request for page 1, the tool's page 1, then its tries at page 2.
    assert cursors[:2] == [None, None] and len(cursors) == 2 + len(faults)
    assert all(c == [page["pagination"]["after"]] for c in cursors[2:])
    assert snapshot_of(root) == before


@pytest.fixture
def fake_snowflake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """fakesnow behind the real connector API, with a QUERY_HISTORY of one Hex query each."""
    fakesnow = pytest.importorskip("fakesnow")
    import snowflake.connector

    for name in list(os.environ):
        if name.startswith("SNOWFLAKE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme")
    monkeypatch.setenv("SNOWFLAKE_USER", "HEX_AUDIT")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "pw-faults-0123456789")
    with fakesnow.patch():
        conn = snowflake.connector.connect(paramstyle="qmark")
        # Texts verbatim (project None), one run an hour ago each.
        create_history(conn, [Run(None, hex_text(p["id"], url=False), 1) for p in PROJECTS])
        try:
            yield conn
        finally:
            conn.close()


@pytest.mark.usefixtures("no_waiting")
@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
def test_hex_failing_after_the_warehouse_was_read_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_snowflake: Any
) -> None:
    """The latest point: projects and query history read, then Hex fails (workspace lookup)."""
    root = tiny_project(tmp_path / "p")
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    argv = ["sync", "--project-dir", str(root), "--no-access-history", "--no-queried-tables"]
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30) as server:
        argv += ["--hex-url", server.url]
        assert run_cli([*argv, "-q"])[:3:2] == (0, "")  # the baseline works: file written
        written = snapshot_of(root)
        (root / "models" / OUTPUT).write_bytes(HAND_WRITTEN)
        before = snapshot_of(root)
        server.script("/api/v1/users/me", *[503] * 5)
        code, _out, err = run_cli([*argv, "-q"])
        late = [r.path for r in server.requests][-6:]
    assert written != before
    assert code == 3 and "503 Service Unavailable" in one_error_line(err)
    assert late[0] == PAGE and set(late[1:]) == {"/api/v1/users/me"}
    assert snapshot_of(root) == before


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
def test_the_warehouse_failing_after_hex_was_read_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_snowflake: Any
) -> None:
    root = tiny_project(tmp_path / "p")
    before = snapshot_of(root)
    fake_snowflake.cursor().execute("drop table SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY")
    monkeypatch.setenv("HEX_API_TOKEN", TOKEN)
    with serve(projects=PROJECTS, rate_limit=None, lifetime=30) as server:
        argv = ["sync", "--project-dir", str(root), "--hex-url", server.url, "-q"]
        code, _out, err = run_cli([*argv, "--no-access-history"])
        assert [r.path for r in server.requests] == [PAGE]  # Hex was read first
    line = one_error_line(err)
    assert code == 3 and "SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY" in line and "GRANT" in line
    assert snapshot_of(root) == before


def test_zz_findings() -> None:
    """Runs last: what the fault tests observed (printed with -s)."""
    if not FINDINGS:
        pytest.skip("run the whole file")
    print(f"\nfault findings: {dict(FINDINGS)}")
    assert FINDINGS["lingering temp files after 30 kills"] >= 0


def test_temp_files_a_killed_run_left_are_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "hex_exposures.yml"
    target.write_text("old\n", encoding="utf-8")
    stale = tmp_path / ".hex_exposures.yml.abc123.tmp"
    fresh = tmp_path / ".hex_exposures.yml.def456.tmp"  # maybe another run, writing now
    other = tmp_path / ".other.yml.abc123.tmp"
    for f in (stale, fresh, other):
        f.write_text("partial", encoding="utf-8")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert files.write_if_changed(str(target), "new\n", files.read_existing(str(target)))
    assert target.read_text(encoding="utf-8") == "new\n"
    assert not stale.exists()
    assert fresh.exists() and other.exists()


def test_an_unexpected_error_is_one_scrubbed_line_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "hxtw_" + "Q" * 30

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"something broke near {secret}\nsecond line")

    monkeypatch.setenv("HEX_API_TOKEN", secret)
    monkeypatch.setattr(cli, "compute", boom)
    (tmp_path / "dbt_project.yml").write_text("name: x\n", encoding="utf-8")
    code = cli.main(["sync", "--project-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 3
    assert err.count("\n") == 1 and "internal error: RuntimeError: something broke near ***" in err
    assert secret not in out + err and "Traceback" not in err


def test_a_malformed_v2_snapshot_line_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    root = tiny_project(tmp_path / "p")
    snap = root / "hex_snapshot.json"
    header = json.dumps({"format": "hex-exposures-snapshot", "version": 2})
    snap.write_text(header + '\n{"project": {"id": "x", "title": "X"}}\n{"query": \n')
    before = (root / "models" / OUTPUT).read_bytes()
    code, _out, err = run_cli([*offline(root), "-q"])
    assert code == 2
    assert f"{snap}:3: invalid JSON" in one_error_line(err)
    assert (root / "models" / OUTPUT).read_bytes() == before


def test_an_unchanged_exposures_file_is_not_parsed_again_and_an_edit_invalidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hex_exposures import yaml_merge

    root = tiny_project(tmp_path / "p")
    out = root / "models" / OUTPUT
    assert run_cli([*offline(root), "-q"])[0] == 0
    written = out.read_bytes()
    assert (root / "target" / "hex_exposures_parse_cache" / "run_memo.json").exists()
    calls: Counter[str] = Counter()
    real_read, real_merge = yaml_merge.read_managed, yaml_merge.merge

    def read_managed(*a: Any, **kw: Any) -> Any:
        calls["read"] += 1
        return real_read(*a, **kw)

    def merge(*a: Any, **kw: Any) -> Any:
        calls["merge"] += 1
        return real_merge(*a, **kw)

    monkeypatch.setattr(yaml_merge, "read_managed", read_managed)
    monkeypatch.setattr(yaml_merge, "merge", merge)
    assert run_cli([*offline(root), "-q"])[0] == 0
    assert out.read_bytes() == written and calls == Counter()  # memo: no parse, no merge
    # A person renames a managed exposure's owner by hand and adds one: the file is read again
    # and the result is what a run without any memo writes.
    edited = written.replace(b"board_deck", b"board_deck_v2")
    out.write_bytes(edited)
    assert run_cli([*offline(root), "-q"])[0] == 0
    assert calls["read"] >= 1 and calls["merge"] == 1
    with_memo = out.read_bytes()
    assert b"board_deck_v2" in with_memo
    (root / "target" / "hex_exposures_parse_cache" / "run_memo.json").write_text("{oops")
    out.write_bytes(edited)
    assert run_cli([*offline(root), "-q"])[0] == 0  # a corrupt memo is an empty one
    assert out.read_bytes() == with_memo
