"""Shared by the sweep tests: fake checkpoints, an endpoint profile on the scripted server, a responder that
answers differently per checkpoint (the served model name), and a way to run ``medxpert sweep``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from medxpert_ext.resources import PACKAGE_DATA
from tests.helpers import REPO, read_jsonl
from tests.mcq_script import (
    OUTCOME,
    items_from_rows,
    question_of,
    reply_text,
    style_by_hash,
)
from tests.scripted_server import user_text

DATA_ROOT = PACKAGE_DATA / "demo"  # the bundled official MedXpertQA Text sample: always present
TASK = "medxpert_text_sampled"
ITEMS = items_from_rows(read_jsonl(DATA_ROOT / "medxpertqa" / "text_sampled.jsonl"))


def style_for(model: str, question: str) -> str:
    """step-100 mixes every reply style, step-200 is right on all, step-300 half right / half unreadable."""
    if model == "step-100":
        return style_by_hash(question)
    if model == "step-200":
        return "correct"
    return "correct" if style_by_hash(question) in ("correct", "wrong", "garbage", "conflicting") else "garbage"


class PerCheckpoint:
    """Responder: the served model name is the checkpoint. ``hold_at=(model, n)`` blocks the n-th request of that
    model (1-based) until ``release()`` and sets ``held``, so a test can kill the sweep at a known point."""

    def __init__(self, hold_at: tuple[str, int] | None = None):
        self.hold_at = hold_at
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.seen: Counter[str] = Counter()
        self.questions: dict[str, list[str]] = {}

    def __call__(self, body: dict) -> str:
        model, question = body["model"], question_of(user_text(body))
        with self._lock:
            self.seen[model] += 1
            self.questions.setdefault(model, []).append(question)
            nth = self.seen[model]
        if self.hold_at == (model, nth):
            self.held.set()
            self._release.wait(300)
        return reply_text(style_for(model, question), ITEMS[question])

    def release(self) -> None:
        self._release.set()

    def expected_acc(self, model: str) -> float:
        qs = set(self.questions[model])
        return sum(OUTCOME[style_for(model, q)][0] for q in qs) / len(qs)

    def expected_extract_fail(self, model: str) -> float:
        qs = set(self.questions[model])
        return sum(OUTCOME[style_for(model, q)][1] for q in qs) / len(qs)


def make_checkpoints(root: Path, steps=(100, 200, 300)) -> Path:
    for step in steps:
        (root / f"step-{step}").mkdir(parents=True)
    (root / "logs").mkdir()  # not a checkpoint: ignored
    return root


def endpoint_profile(path: Path, server, num_concurrent: int = 1) -> Path:
    path.write_text(
        "name: scripted\nbackend: local-chat-completions\npath: replaced-by-the-checkpoint\n"
        f"base_url: {server.chat_url}\nnum_concurrent: {num_concurrent}\nmax_gen_toks: 256\n"
    )
    return path


def sweep_argv(ckpts: Path, profile: Path, out: Path, limit: int, *extra: str) -> list[str]:
    # a handful of questions per checkpoint: the gate compares them (min_n 1) instead of refusing (default 100)
    gate = out.parent / "gate.yaml"
    gate.write_text("min_n: 1\nmax_drop: 100\nmax_format_rise: 100\n")
    return [sys.executable, "-m", "medxpert_ext.cli", "sweep", str(ckpts), "--profile", str(profile),
            "--tasks", TASK, "--output", str(out), "--limit", str(limit), "--gate-config", str(gate),
            "--metadata", json.dumps({"data_dir": str(DATA_ROOT)}), *extra]  # fmt: skip


def sweep_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["COLUMNS"] = "200"
    return env | extra


def run_sweep(argv: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or sweep_env())


def state(out: Path, name: str) -> dict:
    return json.loads((out / name / "state.json").read_text())


def results(out: Path, name: str) -> dict:
    return json.loads(Path(state(out, name)["results_file"]).read_text())["results"][TASK]
