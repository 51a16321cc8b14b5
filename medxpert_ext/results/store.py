"""The results store: an SQLite file by default, any SQLAlchemy URL (PostgreSQL via psycopg) for a team.

SQLite is opened in WAL mode with a busy timeout and every write transaction starts with ``BEGIN IMMEDIATE``, so
several GPU jobs ingesting at the end of their runs queue for the write lock instead of failing with "database is
locked". Idempotency rests on the unique ``run.run_key``: a second writer of the same run loses the insert race,
rolls back and finds the first writer's run.

This is also the Python API the regression gate reads (see ``Store.runs``, ``Store.samples``, ``Store.resolve_run``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .records import RunRecord
from .schema import SCHEMA_VERSION, Base, Meta, Run, Sample, Score

DEFAULT_DB = "medxpert_results.db"
DB_ENV = "MEDXPERT_DB"
BUSY_TIMEOUT_MS = 60_000


class StoreError(Exception):
    """The store cannot be opened or a reference does not name a run."""


def default_db() -> str:
    """``$MEDXPERT_DB``, else ``./medxpert_results.db``."""
    return os.environ.get(DB_ENV) or DEFAULT_DB


def db_url(db: str | Path | None) -> str:
    """A path -> ``sqlite:///<abs path>``; a URL passes through, ``postgresql://`` gets the psycopg 3 driver."""
    db = str(db or default_db())
    if "://" not in db:
        return f"sqlite:///{Path(db).expanduser().resolve()}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


@dataclass(frozen=True)
class RunInfo:
    id: int
    harness: str
    harness_version: str | None
    model: str
    checkpoint: str | None
    step: int | None
    evaluated_at: datetime | None
    ingested_at: datetime
    source: str
    pack_version: str | None
    git_hash: str | None
    config_hash: str | None
    model_args: dict | None
    gen_settings: dict | None


@dataclass(frozen=True)
class ScoreInfo:
    run_id: int
    task: str
    metric: str
    value: float | None
    stderr: float | None
    n: int | None
    unit: str
    is_group: bool


@dataclass(frozen=True)
class SampleInfo:
    sample_id: str
    pred: str | None
    correct: int | None
    fail: int
    reason: str | None
    question_type: str | None
    medical_task: str | None
    body_system: str | None
    answer_type: str | None
    values: dict[str, float] | None


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Store:
    """Open with ``Store.open(path_or_url)``; close with ``close()`` or use as a context manager."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        Base.metadata.create_all(engine)
        with Session(engine) as s, s.begin():
            if s.get(Meta, "schema_version") is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))

    @classmethod
    def open(cls, db: str | Path | None = None) -> Store:
        url = db_url(db)
        try:
            engine = _sqlite_engine(url) if url.startswith("sqlite") else create_engine(url, pool_pre_ping=True)
            return cls(engine)
        except ImportError as exc:
            raise StoreError(f"{url}: driver missing ({exc}); pip install 'medxpert-ext[results]'") from None
        except Exception as exc:  # sqlalchemy.exc.OperationalError and friends: one line, no traceback
            msg = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"cannot open results store {make_url(url).render_as_string(hide_password=True)}: {msg}") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------------------------
    def add(self, record: RunRecord) -> tuple[int, bool]:
        """Store one run with its scores and samples in one transaction: (run id, True if it was new)."""
        return self.add_many([record])[0]

    def add_many(self, records: list[RunRecord]) -> list[tuple[int, bool]]:
        """Store runs in one transaction (three statements whatever the count); a run whose key is already stored
        is left as it is. When a concurrent writer stored one of them first (unique key violated), the batch is
        retried one run per transaction, so every run ends up stored exactly once."""
        if not records:
            return []
        keys = list(dict.fromkeys(r.run_key for r in records))
        try:
            with self.engine.begin() as conn:
                known = dict(conn.execute(select(Run.run_key, Run.id).where(Run.run_key.in_(keys))).all())
                new = [r for r in {r.run_key: r for r in records}.values() if r.run_key not in known]
                if new:
                    now = datetime.now()
                    ids = conn.execute(insert(Run).returning(Run.id, sort_by_parameter_order=True),
                                       [_run_params(r, now) for r in new]).scalars().all()  # fmt: skip
                    scores = [{"run_id": i, **s.__dict__} for i, r in zip(ids, new) for s in _unique_scores(r)]
                    samples = [{"run_id": i, **s} for i, r in zip(ids, new) for s in r.samples]
                    if scores:
                        conn.execute(insert(Score), scores)
                    if samples:
                        conn.execute(insert(Sample), samples)
                    fresh = {r.run_key: i for i, r in zip(ids, new)}
                else:
                    fresh = {}
        except IntegrityError:
            if len(records) == 1:
                existing = self.run_id_by_key(records[0].run_key)
                if existing is None:
                    raise
                return [(existing, False)]
            return [self.add_many([r])[0] for r in records]
        out, seen = [], set()
        for r in records:
            if r.run_key in fresh and r.run_key not in seen:
                out.append((fresh[r.run_key], True))
                seen.add(r.run_key)
            else:
                out.append((known.get(r.run_key) or fresh[r.run_key], False))
        return out

    def run_id_by_key(self, key: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(Run.id).where(Run.run_key == key)).scalar()

    # ---- reading (the regression gate's API) ---------------------------------------------------------------
    def runs(self, *, model: str | None = None, harness: str | None = None) -> list[RunInfo]:
        """All runs, oldest evaluation first (ingest order breaks ties)."""
        q = select(Run)
        if model is not None:
            q = q.where(Run.model == model)
        if harness is not None:
            q = q.where(Run.harness == harness)
        with Session(self.engine) as s:
            rows = s.scalars(q).all()
            infos = [_run_info(r) for r in rows]
        return sorted(infos, key=lambda r: (r.evaluated_at or r.ingested_at, r.id))

    def run(self, run_id: int) -> RunInfo:
        with Session(self.engine) as s:
            row = s.get(Run, run_id)
            if row is None:
                raise StoreError(f"no run with id {run_id}")
            return _run_info(row)

    def scores(self, run_ids: Iterable[int] | None = None) -> list[ScoreInfo]:
        q = select(Score)
        if run_ids is not None:
            q = q.where(Score.run_id.in_(list(run_ids)))
        with Session(self.engine) as s:
            return [ScoreInfo(r.run_id, r.task, r.metric, r.value, r.stderr, r.n, r.unit, r.is_group)
                    for r in s.scalars(q)]  # fmt: skip

    def tasks(self, run_id: int) -> list[str]:
        """Tasks of a run that have per-sample rows."""
        with Session(self.engine) as s:
            return sorted(s.scalars(select(Sample.task).where(Sample.run_id == run_id).distinct()))

    def samples(self, run_id: int, task: str) -> dict[str, SampleInfo]:
        """Per-sample outcomes of one task of one run, keyed by sample id (the doc id)."""
        cols = [getattr(Sample, f) for f in SampleInfo.__dataclass_fields__]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(Sample.run_id == run_id, Sample.task == task)).all()
        return {r[0]: SampleInfo(*r) for r in rows}

    def sample_rows(self, run_ids: Iterable[int], task_prefix: str = "") -> list[tuple]:
        """(run_id, task, correct, fail, question_type, medical_task, body_system, answer_type) for breakdowns."""
        q = select(Sample.run_id, Sample.task, Sample.correct, Sample.fail, Sample.question_type,
                   Sample.medical_task, Sample.body_system, Sample.answer_type).where(Sample.run_id.in_(list(run_ids)))  # fmt: skip
        if task_prefix:
            q = q.where(Sample.task.startswith(task_prefix))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0 for t in (Run, Score, Sample)}

    def resolve_run(self, ref: str | int | Path, *, model: str | None = None, harness: str | None = None) -> RunInfo:
        """A run from what a user types.

        - an existing path (lm-eval results file, a folder or an OpenCompass work dir): ingested on the fly
          (idempotent), its one run returned (several runs in it -> error unless ``model`` picks one);
        - an integer or ``#<id>`` / ``run:<id>``: that run id;
        - ``step:N``, ``step-N``, ``checkpoint-N``, ``global_stepN``: the newest run at checkpoint step N (of
          ``model`` when given; several models at that step and no ``model`` -> error).
        """
        text = str(ref).strip()
        path = Path(text).expanduser()
        if path.exists():
            from .ingest import ingest_paths

            report = ingest_paths(self, [path])
            if report.errors:
                raise StoreError(report.errors[0])
            runs = [self.run(i) for i in dict.fromkeys(report.run_ids)]
            runs = [r for r in runs if (model is None or r.model == model) and (harness is None or r.harness == harness)]
            if len(runs) != 1:
                raise StoreError(f"{path}: holds {len(runs)} matching runs; name one file or pass a model")
            return runs[0]
        m = re.fullmatch(r"(?:#|run:)?(\d+)", text)
        if m:
            return self.run(int(m.group(1)))
        m = re.fullmatch(r"(?:step[:\-_]?|checkpoint[-_]?|global_step[-_]?)(\d+)", text, re.I)
        if m:
            step = int(m.group(1))
            runs = [r for r in self.runs(model=model, harness=harness) if r.step == step]
            if not runs:
                raise StoreError(f"no run at checkpoint step {step}" + (f" for model {model}" if model else ""))
            models = {r.model for r in runs}
            if len(models) > 1:
                raise StoreError(f"step {step} exists for several models ({', '.join(sorted(models))}): pass a model")
            return runs[-1]
        raise StoreError(f"{text!r} is not a run id, a checkpoint step (step:N) or an existing path")


def _unique_scores(r: RunRecord) -> list:
    """One score per (task, metric): the first wins (an OpenCompass summary may name a group's average twice)."""
    seen: dict[tuple[str, str], object] = {}
    for s in r.scores:
        seen.setdefault((s.task, s.metric), s)
    return list(seen.values())


def _run_params(r: RunRecord, now: datetime) -> dict[str, Any]:
    return {"run_key": r.run_key, "harness": r.harness, "harness_version": r.harness_version, "model": r.model[:512],
            "checkpoint": r.checkpoint, "step": r.step, "model_args": r.model_args, "gen_settings": r.gen_settings,
            "pack_version": r.pack_version, "git_hash": r.git_hash, "config_hash": r.config_hash,
            "evaluated_at": r.evaluated_at, "ingested_at": now, "source": r.source, "extra": r.extra}  # fmt: skip


def _run_info(r: Run) -> RunInfo:
    return RunInfo(r.id, r.harness, r.harness_version, r.model, r.checkpoint, r.step, r.evaluated_at, r.ingested_at,
                   r.source, r.pack_version, r.git_hash, r.config_hash, r.model_args, r.gen_settings)  # fmt: skip
