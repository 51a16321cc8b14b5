"""The regression gate: is CAND worse than BASE beyond noise and beyond what the team allows?

A (task or group, metric) is a **regression** when both hold:

1. the drop is larger than the allowance ``max_drop`` (points: percentage points for 0-1 metrics such as
   ``acc``, the metric's own 0-100 points for OLAPH's hallucination / comprehensiveness), and
2. the difference is significant after Holm's correction over every gated comparison of the run (all tasks and
   groups together) at level ``alpha``.

How false alarms are controlled: if CAND is in truth no worse than BASE anywhere, the chance that the gate flags
anything is at most ``alpha`` (Holm keeps the family-wise error rate at ``alpha`` for any number of tasks and
any dependence between them; the tests are two-sided, so the rate for "worse" alone is at most ``alpha / 2``).
The allowance adds a practical floor: a significant 0.3-point drop on 20,000 questions does not fail CI unless
the team sets ``max_drop`` below it. Re-scoring the same outputs gives zero difference and p = 1.

Exit 2 ("could not compare") when a required task is missing in either run, the sample sets differ (unless
``allow_subset``), a required task has fewer than ``min_n`` paired samples, or a **format break**: a share of
unreadable answers (``extract_fail``, ``closed_unreadable``, ``no_answer``, ``judge_error``) rose by more than
``max_format_rise`` points, significantly (Holm over those checks). A format break is reported as its own finding —
the model stopped following the answer format or ran out of tokens; that is not a knowledge drop, and the
accuracy comparison of that task is marked as confounded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import DataError
from .inputs import RunSamples, TaskSamples
from .stats import PairedResult, TaskDraws, combine_group, compare_paired, holm

# metrics the gate compares when the config names none (each task uses those it has)
PRIMARY_METRICS = ("acc", "judge_acc", "closed_acc", "recall", "rougeL", "hallucination", "comprehensiveness",
                   "hallucination_judge", "comprehensiveness_judge")  # fmt: skip
FORMAT_METRICS = ("extract_fail", "closed_unreadable", "no_answer", "judge_error")
LOWER_IS_BETTER = {"extract_fail", "closed_unreadable", "no_answer", "judge_error", "hallucination",
                   "hallucination_judge", "calibration_error"}  # fmt: skip
HUNDRED_SCALE = {"hallucination", "comprehensiveness", "hallucination_judge", "comprehensiveness_judge"}

EXIT_OK, EXIT_REGRESSION, EXIT_CANNOT_COMPARE = 0, 1, 2


def points(metric: str) -> float:
    """Factor from a metric's stored value to points (0-1 metrics are shown in percentage points)."""
    return 1.0 if metric in HUNDRED_SCALE else 100.0


class Rule(BaseModel):
    """Per task or group overrides."""

    model_config = ConfigDict(extra="forbid")
    max_drop: float | None = Field(None, ge=0)
    metrics: list[str] | None = None
    min_n: int | None = Field(None, ge=1)


class GateConfig(BaseModel):
    """Thresholds of the gate (YAML file and/or flags; flags win)."""

    model_config = ConfigDict(extra="forbid")
    alpha: float = Field(0.05, gt=0, lt=1, description="family-wise false-alarm rate (Holm over all gated tests)")
    max_drop: float = Field(1.0, ge=0, description="largest tolerated drop, in points")
    min_n: int = Field(100, ge=1, description="fewest paired samples a task needs to be gated")
    required: list[str] | None = Field(None, description="tasks/groups both runs must have (default: all of BASE's)")
    metrics: list[str] | None = Field(None, description="metrics to gate (default: each task's primary metrics)")
    format_metrics: list[str] = Field(default_factory=lambda: list(FORMAT_METRICS))
    max_format_rise: float = Field(2.0, ge=0, description="largest tolerated rise of unreadable answers, points")
    allow_subset: bool = Field(False, description="compare on the common samples when the sample sets differ")
    resamples: int = Field(10_000, ge=10_000, description="bootstrap resamples")
    seed: int = 0
    tasks: dict[str, Rule] = Field(default_factory=dict)

    def rule(self, name: str) -> Rule:
        return self.tasks.get(name) or Rule()


def load_config(path: Path | None, overrides: Mapping[str, object] | None = None) -> GateConfig:
    """The gate config from a YAML file (optional) with CLI overrides on top; errors name the file and field."""
    data: dict = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"{path}: cannot read gate config ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise DataError(f"{path}: gate config must be a mapping")
        data = dict(loaded or {})
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return GateConfig(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise DataError(f"{path or 'gate options'}: {where}: {err['msg']}") from None


Status = Literal["regression", "format break", "ok", "improved", "within allowance", "not significant", "confounded", "not gated"]


@dataclass
class Row:
    """One (task or group, metric) comparison. Values in points; diff = cand - base (negative = lower)."""

    name: str
    kind: Literal["task", "group"]
    metric: str
    n: int
    base: float
    cand: float
    diff: float
    ci: tuple[float, float]
    p_value: float
    test: str
    higher_is_better: bool
    max_drop: float
    discordant: tuple[int, int] | None = None
    p_adjusted: float = math.nan
    status: Status = "not gated"

    @property
    def drop(self) -> float:
        """How much worse CAND is, in points (negative = better)."""
        return -self.diff if self.higher_is_better else self.diff


@dataclass(frozen=True)
class Finding:
    kind: Literal["regression", "format_break", "missing_task", "sample_mismatch", "too_few_samples", "note"]
    name: str
    message: str

    @property
    def exit_code(self) -> int:
        if self.kind == "regression":
            return EXIT_REGRESSION
        return EXIT_OK if self.kind == "note" else EXIT_CANNOT_COMPARE


@dataclass
class GateResult:
    base: str
    cand: str
    config: GateConfig
    rows: list[Row] = field(default_factory=list)
    format_rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = {f.exit_code for f in self.findings}
        return EXIT_CANNOT_COMPARE if EXIT_CANNOT_COMPARE in codes else max(codes | {EXIT_OK})

    @property
    def decision(self) -> str:
        return {EXIT_OK: "no regression", EXIT_REGRESSION: "regression",
                EXIT_CANNOT_COMPARE: "could not compare"}[self.exit_code]  # fmt: skip


def _higher_is_better(task: TaskSamples, metric: str) -> bool:
    return task.higher_is_better.get(metric, metric not in LOWER_IS_BETTER)


def _row(name: str, kind: str, metric: str, r: PairedResult, hib: bool, max_drop: float) -> Row:
    k = points(metric)
    return Row(name, kind, metric, r.n, k * r.base, k * r.cand, k * r.diff, (k * r.ci[0], k * r.ci[1]),  # type: ignore[arg-type]
               r.p_value, r.test, hib, max_drop, r.discordant)  # fmt: skip


def _align(name: str, base: TaskSamples, cand: TaskSamples, cfg: GateConfig, out: GateResult) -> tuple[np.ndarray, np.ndarray] | None:
    """Index arrays pairing base and cand samples by id; None when the comparison cannot be made."""
    cand_pos = {sid: i for i, sid in enumerate(cand.ids)}
    common = [(i, cand_pos[sid]) for i, sid in enumerate(base.ids) if sid in cand_pos]
    if base.targets is not None and cand.targets is not None:
        changed = [base.ids[i] for i, j in common if base.targets[i] != cand.targets[j]]
        if changed:
            out.findings.append(Finding("sample_mismatch", name, (
                f"{len(changed)} samples have the same id but a different gold answer in the two runs "
                f"(e.g. {changed[0]!r}): different data versions")))  # fmt: skip
            return None
    only_base, only_cand = len(base.ids) - len(common), len(cand.ids) - len(common)
    if only_base or only_cand:
        base_ids = set(base.ids)
        example = next((s for s in base.ids if s not in cand_pos), None) or next(
            s for s in cand.ids if s not in base_ids)
        msg = (f"sample sets differ: {len(common)} common, {only_base} only in BASE, {only_cand} only in CAND "
               f"(e.g. {example!r})")  # fmt: skip
        if not cfg.allow_subset:
            out.findings.append(Finding("sample_mismatch", name, msg + "; --allow-subset compares the common ones"))
            return None
        out.findings.append(Finding("note", name, msg + "; compared on the common samples"))
    if not common:
        return None
    bi, ci = (np.array(x, dtype=np.intp) for x in zip(*common))
    return bi, ci


def evaluate(base: RunSamples, cand: RunSamples, cfg: GateConfig) -> GateResult:
    """Compare CAND against BASE and decide."""
    out = GateResult(base.label, cand.label, cfg)
    groups = {**cand.groups, **base.groups}
    required = cfg.required if cfg.required is not None else sorted(base.tasks)
    required_leaves: set[str] = set()
    for name in required:
        leaves = groups.get(name, (name,))
        required_leaves.update(leaves)
        for run, which in ((base, "BASE"), (cand, "CAND")):
            missing = [t for t in leaves if t not in run.tasks]
            if missing:
                out.findings.append(Finding("missing_task", name, f"{which} ({run.label}) has no samples for "
                                            + ", ".join(missing)))  # fmt: skip
    for t in sorted(set(base.tasks) ^ set(cand.tasks)):
        if t not in required_leaves:
            which = "BASE" if t in base.tasks else "CAND"
            out.findings.append(Finding("note", t, f"only in {which}; not compared"))

    draws: dict[tuple[str, str], TaskDraws] = {}
    format_draws: dict[tuple[str, str], TaskDraws] = {}
    confounded: set[str] = set()
    for name in sorted(set(base.tasks) & set(cand.tasks)):
        b, c = base.tasks[name], cand.tasks[name]
        rule = cfg.rule(name)
        wanted = rule.metrics or cfg.metrics
        both = set(b.values) & set(c.values)
        gated = [m for m in (wanted or PRIMARY_METRICS) if m in both]
        if wanted and len(gated) < len(wanted):
            lacking = [m for m in wanted if m not in both]
            out.findings.append(Finding("missing_task" if name in required_leaves else "note", name,
                                        f"metric {', '.join(lacking)} not in both runs"))  # fmt: skip
        fmt = [m for m in cfg.format_metrics if m in both and m not in gated]
        if not gated and not fmt:
            out.findings.append(Finding("note", name, "no gated metric in both runs; not compared"))
            continue
        pairs = _align(name, b, c, cfg, out)
        if pairs is None:
            continue
        bi, ci = pairs
        min_n = rule.min_n or cfg.min_n
        if len(bi) < min_n:
            kind = "too_few_samples" if name in required_leaves else "note"
            out.findings.append(Finding(kind, name, f"{len(bi)} paired samples, fewer than min_n={min_n}; not gated"))
            continue
        for metric in gated + fmt:
            bv, cv = b.values[metric][bi], c.values[metric][ci]
            ok = ~(np.isnan(bv) | np.isnan(cv))
            n = int(ok.sum())
            if np.isnan(bv).all() and np.isnan(cv).all():  # e.g. factuality metrics run without their model
                out.findings.append(Finding("note", name, f"{metric}: not scored in either run; not compared"))
                continue
            if n < min_n:
                kind = "too_few_samples" if name in required_leaves and metric in gated else "note"
                out.findings.append(Finding(kind, name, f"{metric}: {n} paired samples, fewer than min_n={min_n}"))
                continue
            (res,), (dr,) = (d.values() for d in compare_paired({metric: bv[ok]}, {metric: cv[ok]}, task=name,
                                                                 resamples=cfg.resamples, seed=cfg.seed,
                                                                 level=1 - cfg.alpha))  # fmt: skip
            hib = _higher_is_better(b, metric)
            if metric in gated:
                out.rows.append(_row(name, "task", metric, res, hib, rule.max_drop if rule.max_drop is not None
                                     else cfg.max_drop))  # fmt: skip
                draws[(name, metric)] = dr
            else:
                out.format_rows.append(_row(name, "task", metric, res, hib, cfg.max_format_rise))
                format_draws[(name, metric)] = dr

    for group, leaves in sorted(groups.items()):
        if base.groups.get(group) != cand.groups.get(group):
            continue
        for metric in sorted({m for (_, m) in draws}, key=lambda m: (PRIMARY_METRICS + (m,)).index(m)):
            parts = [draws.get((t, metric)) for t in leaves]
            if len(leaves) < 2 or any(p is None for p in parts):
                continue
            rule = cfg.rule(group)
            hib = _higher_is_better(base.tasks[leaves[0]], metric)
            res = combine_group(parts, 1 - cfg.alpha)  # type: ignore[arg-type]
            out.rows.append(_row(group, "group", metric, res, hib, rule.max_drop if rule.max_drop is not None
                                 else cfg.max_drop))  # fmt: skip

    for row, adj in zip(out.format_rows, holm([r.p_value for r in out.format_rows])):
        row.p_adjusted = adj
        broke = row.drop > row.max_drop and adj < cfg.alpha
        row.status = "format break" if broke else "ok"
        if broke:
            confounded.add(row.name)
            out.findings.append(Finding("format_break", row.name, (
                f"format break: {row.metric} {row.base:.2f} -> {row.cand:.2f} (+{row.drop:.2f} points, "
                f"Holm p={adj:.2g}); answers became unreadable — not a knowledge drop")))  # fmt: skip
    confounded |= {g for g, leaves in groups.items() if confounded & set(leaves)}
    for row, adj in zip(out.rows, holm([r.p_value for r in out.rows])):
        row.p_adjusted = adj
        significant = adj < cfg.alpha
        if row.name in confounded and row.drop > 0:
            row.status = "confounded"
        elif significant and row.drop > row.max_drop:
            row.status = "regression"
            out.findings.append(Finding("regression", row.name, (
                f"{row.metric} {row.base:.2f} -> {row.cand:.2f} ({row.diff:+.2f} points, CI "
                f"{row.ci[0]:+.2f}..{row.ci[1]:+.2f}, Holm p={adj:.2g}; allowed drop {row.max_drop:g})")))  # fmt: skip
        elif significant and row.drop < 0:
            row.status = "improved"
        elif significant:
            row.status = "within allowance"
        else:
            row.status = "not significant"
    return out
