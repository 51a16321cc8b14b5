"""Walk paths, recognise each harness's outputs, store them; one named error per bad file, the rest still go in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import ingest_lmeval, ingest_opencompass
from .records import IngestError


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


def _store_records(store, records, report: IngestReport) -> None:
    for rec in records:
        run_id, new = store.add(rec)
        report.run_ids.append(run_id)
        if new:
            report.added += 1
        else:
            report.existing += 1


def ingest_paths(store, paths: list[Path]) -> IngestReport:
    report = IngestReport()
    for path in paths:
        if not path.exists():
            report.errors.append(f"{path}: no such file or directory")
        elif path.is_file():
            _ingest_file(store, path, report, paired=set())
        else:
            _ingest_dir(store, path, report)
    return report


def _ingest_dir(store, root: Path, report: IngestReport) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if ingest_opencompass.is_work_dir(here):
            dirnames[:] = []
            try:
                records, notes = ingest_opencompass.read_work_dir(here)
                _store_records(store, records, report)
                report.notes.extend(notes)
            except IngestError as exc:
                report.errors.append(str(exc))
            continue
        dirnames.sort()
        paired: set[str] = set()
        for name in sorted(filenames):
            if ingest_lmeval.is_results_file(here / name):
                paired.update(p.name for p in ingest_lmeval.samples_files(here / name).values())
        for name in sorted(filenames):
            _ingest_file(store, here / name, report, paired)


def _ingest_file(store, path: Path, report: IngestReport, paired: set[str]) -> None:
    if ingest_lmeval.is_results_file(path):
        try:
            record = ingest_lmeval.read_results(path)
        except IngestError as exc:
            report.errors.append(str(exc))
            return
        _store_records(store, [record], report)
        if not record.samples:
            report.notes.append(f"{path}: no samples files (lm-eval --log_samples): scores only")
    elif ingest_lmeval.SAMPLES_NAME.match(path.name):
        if path.name in paired:
            return
        beside = _results_beside(path)
        if not beside:
            report.orphan_samples += 1
        for results in beside:  # a samples file named on its own: ingest the run it belongs to
            _ingest_file(store, results, report, paired)
    else:
        report.skipped += 1


def _results_beside(samples: Path) -> list[Path]:
    m = ingest_lmeval.SAMPLES_NAME.match(samples.name)
    if not m:
        return []
    return [p for p in samples.parent.glob(f"*_{m['date']}.json") if ingest_lmeval.is_results_file(p)]
