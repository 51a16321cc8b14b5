"""Walk paths, recognise each harness's outputs, store them; one named error per bad file, the rest still go in.

Speed (a 100-checkpoint sweep is 1,000 results files): a results file whose run is already stored is recognised
from its hash without reading its samples; new runs are written in batches, each batch one transaction. Parsing
in worker processes was tried and measured slower on 2 cores (records pickled back, CPU shared with the writer).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import ingest_lmeval, ingest_opencompass
from .records import IngestError, RunRecord

BATCH_SAMPLES = 50_000  # samples per write transaction


@dataclass
class IngestReport:
    added: int = 0
    existing: int = 0
    skipped: int = 0  # files that are no harness output we know
    orphan_samples: int = 0  # lm-eval samples files without their results file
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def ingest_paths(store, paths: list[Path]) -> IngestReport:
    report = IngestReport()
    results_files: list[Path] = []
    for path in paths:
        if not path.exists():
            report.errors.append(f"{path}: no such file or directory")
        elif path.is_file():
            _classify_file(path, report, results_files, paired=set(), explicit=True)
        else:
            for found in _walk(store, path, report):
                results_files.append(found)
    _ingest_lmeval(store, list(dict.fromkeys(results_files)), report)
    return report


def _walk(store, root: Path, report: IngestReport) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if ingest_opencompass.is_work_dir(here):
            dirnames[:] = []
            try:
                records, notes = ingest_opencompass.read_work_dir(here)
                _store(store, records, report)
                report.notes.extend(notes)
            except IngestError as exc:
                report.errors.append(str(exc))
            continue
        dirnames.sort()
        found: list[Path] = []
        paired: set[str] = set()
        for name in sorted(filenames):
            if ingest_lmeval.is_results_file(here / name):
                paired.update(p.name for p in ingest_lmeval.samples_files(here / name).values())
        for name in sorted(filenames):
            _classify_file(here / name, report, found, paired, explicit=False)
        yield from found


def _classify_file(path: Path, report: IngestReport, found: list[Path], paired: set[str], explicit: bool) -> None:
    if ingest_lmeval.is_results_file(path):
        found.append(path)
    elif ingest_lmeval.SAMPLES_NAME.match(path.name):
        if path.name in paired:
            return
        beside = _results_beside(path)
        if not beside:
            report.orphan_samples += 1
        found.extend(beside)  # a samples file named on its own: ingest the run it belongs to
    elif explicit and path.suffix == ".json":
        found.append(path)  # named explicitly: try it as a results file, say what is wrong if it is not
    else:
        report.skipped += 1


def _results_beside(samples: Path) -> list[Path]:
    m = ingest_lmeval.SAMPLES_NAME.match(samples.name)
    if not m:
        return []
    return [p for p in samples.parent.glob(f"*_{m['date']}.json") if ingest_lmeval.is_results_file(p)]


def _parse(item: tuple[Path, bytes]) -> RunRecord | str:
    path, raw = item
    try:
        return ingest_lmeval.read_results(path, raw=raw)
    except IngestError as exc:
        return str(exc)


def _ingest_lmeval(store, files: list[Path], report: IngestReport) -> None:
    todo: list[tuple[Path, bytes]] = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            report.errors.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        run_id = store.run_id_by_key(ingest_lmeval.run_key(path, raw))
        if run_id is not None:  # already stored: its samples are not even read
            report.existing += 1
            report.run_ids.append(run_id)
        else:
            todo.append((path, raw))
    _write_batches(store, map(_parse, todo), report)


def _write_batches(store, parsed, report: IngestReport) -> None:
    batch: list[RunRecord] = []
    size = 0
    for item in parsed:
        if isinstance(item, str):
            report.errors.append(item)
            continue
        if not item.samples:
            report.notes.append(f"{item.source}: no samples files (lm-eval --log_samples): scores only")
        batch.append(item)
        size += len(item.samples) + 1
        if size >= BATCH_SAMPLES:
            _store(store, batch, report)
            batch, size = [], 0
    _store(store, batch, report)


def _store(store, records: list[RunRecord], report: IngestReport) -> None:
    for run_id, new in store.add_many(records):
        report.run_ids.append(run_id)
        if new:
            report.added += 1
        else:
            report.existing += 1
