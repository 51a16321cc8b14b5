"""What a sweep will do, decided once before anything runs and saved as ``sweep-plan.json``.

The plan is the contract between the driver and the workers (a Slurm array task or a Ray task on another machine
reads it by index), so everything a worker needs is in it: the resolved profile, the tasks, the harness flags,
where each checkpoint's outputs and caches live. The fingerprint covers what changes the numbers, so a
checkpoint finished under different settings is evaluated again (its caches still save every unchanged request).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..profiles import API_BACKENDS, VLLM_BACKENDS, ModelProfile
from .discover import Checkpoint

Harness = Literal["lmeval", "opencompass"]
LauncherName = Literal["local", "slurm", "ray"]
PLAN_FILE = "sweep-plan.json"


class PlanError(ValueError):
    """A sweep that cannot start; said before any model is loaded."""


class JudgeStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    base_url: str | None = None  # else MEDXPERT_JUDGE_BASE_URL
    api_key_env: str | None = None  # the NAME of the variable, never the key


class SlurmOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partition: str | None = None
    time: str | None = None
    cpus_per_task: int = Field(8, ge=1)
    mem: str | None = None
    extra: list[str] = []  # more #SBATCH lines, e.g. "--account=proj"


class SweepPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    checkpoints: list[dict]  # Checkpoint as dicts, in step order
    profile: dict  # the resolved ModelProfile, before the checkpoint replaces its path
    tasks: list[str]
    harness: Harness = "lmeval"
    output: str
    db: str
    baseline: str | None = None
    gate_config: str | None = None  # passed to `medxpert regress --config`
    judge: JudgeStage | None = None
    limit: float | None = None
    metadata: str | None = None  # JSON passed to the harness (e.g. {"data_dir": ...})
    harness_args: list[str] = []
    launcher: LauncherName = "local"
    concurrent: int = Field(1, ge=0)  # checkpoints at a time; 0 = as many as the scheduler allows (slurm, ray)
    gpus: list[str] = []
    slurm: SlurmOptions = SlurmOptions()
    ray_address: str | None = None

    # -- derived ---------------------------------------------------------------------------------------------
    def checkpoint(self, index: int) -> Checkpoint:
        return Checkpoint(**self.checkpoints[index])

    def model_profile(self) -> ModelProfile:
        return ModelProfile(**self.profile)

    def fingerprint(self) -> str:
        """Hash of everything that changes a checkpoint's numbers (not where or how it is scheduled)."""
        prof = {k: v for k, v in self.profile.items() if k not in ("name", "path")}
        key = [prof, self.tasks, self.harness, self.limit, self.metadata, self.harness_args, self.judge and self.judge.model_dump()]
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def gpus_per_checkpoint(self) -> int:
        p = self.model_profile()
        if p.backend in API_BACKENDS:
            return 0
        if p.backend in VLLM_BACKENDS:
            return p.tensor_parallel_size * p.data_parallel_size
        return 1

    def save(self) -> Path:
        path = Path(self.output) / PLAN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> SweepPlan:
        return cls.model_validate_json(Path(path).read_text())


class CheckpointDirs:
    """Where one checkpoint's outputs live: ``<output>/<checkpoint name>/``."""

    def __init__(self, plan: SweepPlan, ckpt: Checkpoint):
        self.root = Path(plan.output) / ckpt.name
        self.profile = self.root / "profile.yaml"
        self.harness = self.root / plan.harness
        self.cache = self.root / "cache"
        self.judged = self.root / "judged"
        self.logs = self.root / "logs"
        self.state = self.root / "state.json"
        self.gate = self.root / "gate.txt"


def checkpoint_profile(plan: SweepPlan, ckpt: Checkpoint) -> ModelProfile:
    """The profile with the checkpoint in place of its model: the weights folder, or for an endpoint profile the
    served model name (a server that hosts every checkpoint under its own name, e.g. vLLM with LoRA modules or
    one server per checkpoint behind a router)."""
    base = plan.model_profile()
    path = ckpt.name if base.backend in API_BACKENDS else ckpt.path
    return base.model_copy(update={"path": path, "name": f"{base.name}@{ckpt.name}", "revision": None})


def write_checkpoint_profile(plan: SweepPlan, ckpt: Checkpoint) -> Path:
    dirs = CheckpointDirs(plan, ckpt)
    dirs.root.mkdir(parents=True, exist_ok=True)
    data = checkpoint_profile(plan, ckpt).model_dump(mode="json", exclude_defaults=True)  # name/backend/path: required
    dirs.profile.write_text(yaml.safe_dump(data, sort_keys=False))
    return dirs.profile


# -- the commands each stage runs (``medxpert NAME ARGS``) ---------------------------------------------------------


def harness_command(plan: SweepPlan, ckpt: Checkpoint) -> tuple[str, list[str]]:
    """lm-eval resumes through its request cache (``--use_cache`` prefix: one SQLite file per rank, written as
    each answer arrives); OpenCompass through ``-r`` (reuse the work dir's finished predictions)."""
    dirs = CheckpointDirs(plan, ckpt)
    tasks = ",".join(plan.tasks)
    if plan.harness == "lmeval":
        args = ["run", "--profile", str(dirs.profile), "--tasks", tasks, "--output_path", str(dirs.harness),
                "--log_samples", "--use_cache", str(dirs.cache / "lmeval")]  # fmt: skip
        if plan.limit is not None:
            args += ["--limit", _num(plan.limit)]
        if plan.metadata:
            args += ["--metadata", plan.metadata]
        return "lm-eval", args + list(plan.harness_args)
    # `medxpert opencompass --profile` writes the run config (tasks by name, --limit as test_range) and runs the
    # preflight; -r reuses the work dir's finished predictions.
    args = ["--profile", str(dirs.profile), "--tasks", tasks, "--work-dir", str(dirs.harness), "-r"]
    if plan.limit is not None:
        args += ["--limit", _num(plan.limit)]
    return "opencompass", args + list(plan.harness_args)


def judge_command(plan: SweepPlan, ckpt: Checkpoint, samples: list[Path]) -> tuple[str, list[str]]:
    assert plan.judge is not None
    dirs = CheckpointDirs(plan, ckpt)
    args = [*map(str, samples), "--model", plan.judge.model, "--cache", str(dirs.cache / "judge.sqlite"),
            "--output-path", str(dirs.judged), "--no-progress"]  # fmt: skip
    if plan.judge.base_url:
        args += ["--base-url", plan.judge.base_url]
    if plan.judge.api_key_env:
        args += ["--api-key-env", plan.judge.api_key_env]
    return "judge", args


def ingest_command(plan: SweepPlan, ckpt: Checkpoint) -> tuple[str, list[str]]:
    dirs = CheckpointDirs(plan, ckpt)
    args = [str(dirs.harness), "--db", plan.db]
    return "ingest", args


def leaderboard_command(plan: SweepPlan) -> tuple[str, list[str]]:
    return "leaderboard", ["--db", plan.db, "--format", "html", "-o", str(leaderboard_path(plan))]


def regress_command(plan: SweepPlan, base: str, cand: str) -> tuple[str, list[str]]:
    """BASE and CAND are results folders (the issue's "results paths"; `regress` ingests them if needed)."""
    return "regress", [base, cand, "--db", plan.db, *(["--config", plan.gate_config] if plan.gate_config else [])]


def leaderboard_path(plan: SweepPlan) -> Path:
    return Path(plan.output) / "leaderboard.html"


def gate_base(plan: SweepPlan, index: int, finished: set[int]) -> tuple[str, str] | None:
    """(label, results folder or run id) to compare checkpoint ``index`` with, or None for the first one.

    With ``--baseline STEP`` every checkpoint is compared with that step (or, if STEP is not a checkpoint of this
    sweep, with that run id/path in the store); otherwise with the nearest earlier checkpoint that has results.
    """
    if plan.baseline is not None:
        for j, raw in enumerate(plan.checkpoints):
            if plan.baseline in (str(raw["step"]), raw["name"]):
                if j == index:
                    return None
                return raw["name"], str(CheckpointDirs(plan, plan.checkpoint(j)).harness)
        return plan.baseline, plan.baseline
    earlier = [j for j in finished if j < index]
    if not earlier:
        return None
    j = max(earlier)
    return plan.checkpoints[j]["name"], str(CheckpointDirs(plan, plan.checkpoint(j)).harness)


def describe(plan: SweepPlan) -> list[tuple[Checkpoint, list[str]]]:
    """Each checkpoint with the command lines of its stages (``--dry-run``)."""
    out = []
    for i in range(len(plan.checkpoints)):
        ckpt = plan.checkpoint(i)
        stages = [harness_command(plan, ckpt)]
        if plan.judge:
            stages.append(judge_command(plan, ckpt, [Path("<samples_*.jsonl>")]))
        stages += [ingest_command(plan, ckpt), leaderboard_command(plan)]
        base = gate_base(plan, i, set(range(i)))
        if base:
            stages.append(regress_command(plan, base[1], str(CheckpointDirs(plan, ckpt).harness)))
        lines = ["medxpert " + shlex.join([name, *args]) for name, args in stages]
        out.append((ckpt, lines))
    return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def checkpoint_dicts(ckpts: list[Checkpoint]) -> list[dict]:
    return [asdict(c) for c in ckpts]
