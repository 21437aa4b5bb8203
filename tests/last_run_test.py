"""The last-run memo: a run with the last run's inputs gets its answer without reading them,
and any changed input (snapshot, manifest, catalog, exposures file, settings, code) is read."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from hex_exposures import cli, files, last_run, pipeline, report
from tests.cli_test import OUT, copy_sample, run

MEMO = Path("target") / "hex_exposures_parse_cache" / last_run.FILENAME


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with its manifest built (dbt parse once), exposures file not yet written."""
    project = copy_sample(tmp_path_factory.mktemp("last_run") / "p")
    assert cli.main(["sync", "--project-dir", str(project), "--quiet"]) == 0
    (project / OUT).unlink()
    return project


@pytest.fixture
def project(parsed: Path, tmp_path: Path) -> Path:
    import shutil

    dest = tmp_path / "p"
    shutil.copytree(parsed, dest)
    memo = dest / MEMO
    if memo.exists():
        memo.unlink()
    return dest


class Spy:
    """Counts full pipeline runs (`prepare`) and remembers each command's result."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prepared = 0
        self.results: list[pipeline.RunResult | last_run.Hit] = []
        real_prepare, real_compute = pipeline.prepare, cli.compute

        def prepare(*args: Any, **kwargs: Any) -> pipeline.Prepared:
            self.prepared += 1
            return real_prepare(*args, **kwargs)

        def compute(*args: Any, **kwargs: Any) -> Any:
            out = real_compute(*args, **kwargs)
            self.results.append(out[2])
            return out

        monkeypatch.setattr(pipeline, "prepare", prepare)
        monkeypatch.setattr(cli, "compute", compute)


def _settle(project: Path) -> None:
    """Age the memo's record of the input files past the stat fast path's settling time."""
    path = project / MEMO
    memo = last_run._FILE.decode(path.read_bytes())
    aged = [
        e._replace(written_at=e.written_at + int(10 * last_run.SETTLED * 1e9)) for e in memo.entries
    ]
    path.write_bytes(last_run._ENCODER.encode(memo._replace(entries=aged)))


def test_a_second_run_reads_no_input_and_answers_the_same(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy(monkeypatch)
    code, _, err = run(project, "sync", "--no-parse", capsys=capsys)
    assert code == 0 and "wrote" in err
    assert spy.prepared == 1
    written = (project / OUT).read_bytes()
    for settle in (False, True):
        if settle:
            _settle(project)
        code, _, err = run(project, "sync", "--no-parse", capsys=capsys)
        assert code == 0 and "up to date" in err
    assert spy.prepared == 1  # neither the digest path nor the stat path ran the pipeline
    assert (project / OUT).read_bytes() == written
    first, *again = spy.results
    for result in again:
        assert result.report == first.report
        assert result.exposures == first.exposures
        assert result.warnings == first.warnings
        assert result.text == first.text


def test_the_remembered_answer_is_what_a_full_run_gives(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0  # from the memo
    (project / MEMO).unlink()
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0  # computed again
    assert spy.prepared == 2
    remembered, computed = spy.results[1], spy.results[2]
    assert isinstance(remembered, last_run.Hit) and isinstance(computed, pipeline.RunResult)
    assert remembered.result() == computed
    # What a hit of sync or check prints without reading the rest.
    assert remembered.head == last_run.Head(
        warehouse=computed.warehouse,
        workspace=computed.report.workspace,
        warnings=computed.warnings,
        renamed=computed.report.renamed,
        summary=report.summary_line(computed.report),
    )


def _edit_snapshot(project: Path) -> None:
    path = project / "hex_snapshot.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["projects"][0]["title"] = data["projects"][0]["title"] + " (renamed)"
    path.write_text(json.dumps(data), encoding="utf-8")


def _edit_manifest(project: Path) -> None:
    path = project / "target" / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"description": ""', b'"description": " "', 1))


def _edit_catalog(project: Path) -> None:
    (project / "target" / "catalog.json").write_text('{"nodes": {}, "sources": {}}')


def _edit_exposures_file(project: Path) -> None:
    path = project / OUT
    path.write_text("# a hand-written comment\n" + path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("edit", "args"),
    [
        (_edit_snapshot, ()),
        (_edit_manifest, ()),
        (_edit_catalog, ()),
        (_edit_exposures_file, ()),
        (None, ("--no-columns",)),
        (None, ("--include-context", "*")),
    ],
)
@pytest.mark.parametrize("settle", [False, True])
def test_any_changed_input_is_read_again(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: Any,
    args: tuple[str, ...],
    settle: bool,
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    if settle:
        _settle(project)
    if edit is not None:
        edit(project)
    assert run(project, "sync", "--no-parse", *args, capsys=capsys)[0] == 0
    assert spy.prepared == 2


def test_a_change_to_the_code_is_a_miss(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    monkeypatch.setattr(last_run, "code_stamp", lambda: "another version")
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    assert spy.prepared == 2


def test_with_parse_or_live_there_is_no_memo(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    assert run(project, "sync", "--parse", capsys=capsys)[0] == 0  # dbt parse rewrites inputs
    assert spy.prepared == 2


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x05K\x01."])
def test_a_damaged_memo_is_a_miss(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    (project / MEMO).write_bytes(content)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    assert spy.prepared == 2


def test_a_planted_pickle_is_a_miss_and_never_runs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Boom:
        def __reduce__(self) -> Any:
            return (os.system, ("touch planted",))

    (project / MEMO).parent.mkdir(parents=True, exist_ok=True)
    (project / MEMO).write_bytes(pickle.dumps({"format": last_run.FORMAT, "entries": [Boom()]}))
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    assert not (project / "planted").exists() and not Path("planted").exists()


def test_the_file_digest_is_the_one_read_existing_gives(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_bytes("\ufeffexposures: []  # é\r\n".encode())
    read = files.read_existing(str(path))
    assert read.text is not None and last_run.text_digest(read.text) == read.digest


def _bodies(project: Path) -> list[Path]:
    return sorted((project / MEMO).parent.glob("last_run.*.*"))


def test_a_hit_of_sync_or_check_reads_the_index_only(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    written = (project / OUT).read_bytes()
    summary = run(project, "sync", "--no-parse", capsys=capsys)[2]
    assert spy.prepared == 1
    bodies = _bodies(project)
    assert {p.suffix for p in bodies} == {".report", ".exposures"}
    for path in bodies:
        path.unlink()  # a hit that needed them would have to run the pipeline
    code, out, err = run(project, "sync", "--no-parse", capsys=capsys)
    assert code == 0 and err == summary and "up to date" in err
    assert spy.prepared == 1
    assert (project / OUT).read_bytes() == written
    # `report` shows the remembered report: without its body that is a miss, not a crash.
    code, out, _ = run(project, "report", "--no-parse", capsys=capsys)
    assert code == 0 and spy.prepared == 2 and out


def test_report_from_the_memo_is_the_computed_one(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = Spy(monkeypatch)
    assert run(project, "sync", "--no-parse", capsys=capsys)[0] == 0
    remembered = run(project, "report", "--no-parse", "--format", "json", capsys=capsys)
    shown = run(project, "sync", "--no-parse", "--table", "--verbose", capsys=capsys)
    assert spy.prepared == 1  # how an answer is shown is no part of the key
    assert shown[0] == 0 and "hex_" in shown[1]
    (project / MEMO).unlink()
    computed = run(project, "report", "--no-parse", "--format", "json", capsys=capsys)
    assert spy.prepared == 2
    assert remembered == computed and json.loads(remembered[1])


def test_a_dropped_entry_takes_its_bodies_along(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = (project / MEMO).parent
    for i, args in enumerate(((), ("--no-columns",), ("--include-context", "*"), ())):
        assert run(project, "sync", "--no-parse", *args, capsys=capsys)[0] == 0
        if i == 1:  # a lost index leaves its bodies behind, and the old pickle lingers
            (project / MEMO).unlink()
            (folder / "last_run.pickle").write_bytes(b"old")
    assert {p.name for p in folder.iterdir()} >= {"parse_cache.sqlite3", "run_memo.json"}
    assert not (folder / "last_run.pickle").exists()
    memo = last_run._FILE.decode((project / MEMO).read_bytes())
    assert len(memo.entries) == last_run.KEEP
    kept = {f"last_run.{e.body}.{part}" for e in memo.entries for part in last_run._PARTS}
    assert {p.name for p in _bodies(project)} == kept


def test_the_memo_lies_beside_the_parse_cache() -> None:
    from hex_exposures import parse_cache

    assert last_run.DIRNAME == parse_cache.DIRNAME
