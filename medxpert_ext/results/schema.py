"""The results store's tables: one ``run`` per harness invocation and model, its ``score`` rows, its ``sample`` rows.

Why this shape: the leaderboard needs scores side by side whatever harness wrote them, the regression gate and the
breakdowns need per-sample outcomes keyed by sample id. Raw responses and prompts stay in the harness's own files
(``run.source`` points at them), so a sample row is a few dozen bytes.

Scale: every rate (accuracy, extract_fail, judge_error, ROUGE, BLEU, F1 ...) is stored in PERCENT (0-100), the
scale the papers print; counts (judge tokens) are stored as counts. ``score.unit`` says which.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 1
PERCENT = "percent"
COUNT = "count"


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the store itself (schema version)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Run(Base):
    """One model evaluated by one harness invocation.

    ``run_key`` is a content hash of what the harness wrote (see the ingesters): ingesting the same output twice
    finds the same key and changes nothing, a re-run writes new files and becomes a new run.
    """

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)
    harness: Mapped[str] = mapped_column(String(32))  # "lm-eval" | "opencompass"
    harness_version: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(512))  # display name: the model, without the checkpoint folder
    checkpoint: Mapped[str | None] = mapped_column(Text)  # full model path/id as the harness was given it
    step: Mapped[int | None] = mapped_column(Integer)  # from step-N / checkpoint-N / global_stepN
    model_args: Mapped[dict | None] = mapped_column(JSON)  # secrets removed
    gen_settings: Mapped[dict | None] = mapped_column(JSON)
    pack_version: Mapped[str | None] = mapped_column(String(64))
    git_hash: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the harness finished
    ingested_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(Text)  # results file or OpenCompass work dir it came from
    extra: Mapped[dict | None] = mapped_column(JSON)  # e.g. judge settings of `medxpert judge` outputs

    scores: Mapped[list[Score]] = relationship(back_populates="run", cascade="all, delete-orphan")

    __table_args__ = (Index("ix_run_model_step", "model", "step"),)


class Score(Base):
    """One aggregate number of a run: canonical task (lm-eval's task/group name, same for both harnesses)."""

    __tablename__ = "score"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(128))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)  # None: the harness reported N/A or NaN
    stderr: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16), default=PERCENT)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[Run] = relationship(back_populates="scores")

    __table_args__ = (Index("ux_score", "run_id", "task", "metric", unique=True),)


class Sample(Base):
    """One scored document of a run's task.

    correct: 1/0, None when the sample has no right/wrong outcome (open answers, judge errors).
    fail: 1 when no answer could be read (extract_fail, closed_unreadable, no_answer) or no verdict came back
    (judge_error): the outcome was not measured, which is not the same as wrong.
    values: the other per-sample metric values (percent scale like scores), only when there are any.
    """

    __tablename__ = "sample"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(128))
    sample_id: Mapped[str] = mapped_column(String(128))
    pred: Mapped[str | None] = mapped_column(String(256))
    correct: Mapped[int | None] = mapped_column(SmallInteger)
    fail: Mapped[int] = mapped_column(SmallInteger, default=0)
    reason: Mapped[str | None] = mapped_column(String(128))  # why no answer / the judge verdict
    question_type: Mapped[str | None] = mapped_column(String(64))
    medical_task: Mapped[str | None] = mapped_column(String(64))
    body_system: Mapped[str | None] = mapped_column(String(64))
    answer_type: Mapped[str | None] = mapped_column(String(16))
    values: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_sample_run_task", "run_id", "task"),)
