"""Benchmark of the regression gate: 2 x 20,000 paired samples, 10,000 bootstrap resamples (goal < 2 s).

Two runs of a synthetic suite shaped like the real ones (MedQA 1,273 / MedMCQA 4,183 / MMLU-medical 1,089 +
MedXpertQA Text 2,450 / MM 2,000 + the rest of 20,000 in a long-form task), with groups. Measured in-process,
after imports, best of --repeat:

- ``gate (binary)``: ``evaluate()`` on 20,000 paired MCQ samples (acc + extract_fail), 8 rows + format checks;
- ``gate (continuous)``: ``evaluate()`` on 20,000 paired samples of a continuous metric (ROUGE-like), the
  index-resampling path, as one task — the worst case;
- ``read + gate``: the same binary runs written as lm-eval samples files, read and gated (what CI runs);
- ``cli``: ``medxpert regress`` on those files, a fresh process (Python + imports included).

    python scripts/bench_regress.py [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medxpert_ext.regress import GateConfig, evaluate, read_lmeval  # noqa: E402
from medxpert_ext.regress.inputs import synthetic_run  # noqa: E402

TASKS = {"medbench_medqa": 1273, "medbench_medmcqa": 4183, "medbench_mmlu_medical": 1089,
         "medxpert_text_reasoning": 1861, "medxpert_text_understanding": 589, "medxpert_mm_reasoning": 1446,
         "medxpert_mm_understanding": 554}  # fmt: skip
TASKS["medqa_extra"] = 20_000 - sum(TASKS.values())
GROUPS = {"medbench": ["medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical"],
          "medxpert_text": ["medxpert_text_reasoning", "medxpert_text_understanding"],
          "medxpert_mm": ["medxpert_mm_reasoning", "medxpert_mm_understanding"]}  # fmt: skip


def binary_runs(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    base, cand = {}, {}
    for task, n in TASKS.items():
        p = rng.beta(2, 1.5, n)
        a, b = rng.random(n) < p, rng.random(n) < p - 0.01
        fa, fb = ~a & (rng.random(n) < 0.1), ~b & (rng.random(n) < 0.1)
        base[task] = {f"{task}-{i}": {"acc": float(a[i]), "extract_fail": float(fa[i])} for i in range(n)}
        cand[task] = {f"{task}-{i}": {"acc": float(b[i]), "extract_fail": float(fb[i])} for i in range(n)}
    return base, cand


def write_lmeval(root: Path, run: dict) -> Path:
    d = root / "model"
    d.mkdir(parents=True)
    stamp = "2026-11-30T00-00-00.000000"
    for task, rows in run.items():
        with open(d / f"samples_{task}_{stamp}.jsonl", "w") as fh:
            for i, (sid, v) in enumerate(rows.items()):
                fh.write(json.dumps({"doc_id": i, "doc": {"id": sid, "question": "q" * 300}, "target": "A",
                                     "resps": [["x" * 400]], "filtered_resps": ["A"], "filter": "extract",
                                     "metrics": ["acc", "extract_fail"], **v}) + "\n")  # fmt: skip
    (d / f"results_{stamp}.json").write_text(json.dumps({"group_subtasks": GROUPS}))
    return root


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = GateConfig(resamples=10_000, seed=args.seed)

    b, c = binary_runs(args.seed)
    base, cand = synthetic_run("base", b, GROUPS), synthetic_run("cand", c, GROUPS)
    t_bin, res = best(lambda: evaluate(base, cand, cfg), args.repeat)
    rows = len(res.rows) + len(res.format_rows)  # type: ignore[union-attr]
    print(f"gate (binary):     {t_bin:6.3f} s  20,000 paired samples, {rows} rows, 10,000 resamples, "
          f"exit {res.exit_code}")  # type: ignore[union-attr]  # fmt: skip

    rng = np.random.default_rng(args.seed)
    x = rng.random(20_000)
    y = np.clip(x + rng.normal(0, 0.05, 20_000), 0, 1)
    cb = synthetic_run("base", {"medlfqa_all": {f"q{i}": {"rougeL": x[i]} for i in range(20_000)}})
    cc = synthetic_run("cand", {"medlfqa_all": {f"q{i}": {"rougeL": y[i]} for i in range(20_000)}})
    t_cont, _ = best(lambda: evaluate(cb, cc, cfg), args.repeat)
    print(f"gate (continuous): {t_cont:6.3f} s  20,000 paired continuous samples (index resampling), 10,000 resamples")

    with tempfile.TemporaryDirectory() as tmp:
        pb, pc = write_lmeval(Path(tmp) / "base", b), write_lmeval(Path(tmp) / "cand", c)
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*.jsonl")) / 2**20
        t_read, _ = best(lambda: evaluate(read_lmeval(pb), read_lmeval(pc), cfg), args.repeat)
        print(f"read + gate:       {t_read:6.3f} s  from lm-eval samples files ({size:.0f} MB for both runs)")
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "regress", str(pb), str(pc), "--format",
                               "json"], capture_output=True, text=True)  # fmt: skip
        t_cli = time.perf_counter() - t
        print(f"cli:               {t_cli:6.3f} s  medxpert regress, fresh process, exit {proc.returncode}")
    print(f"goal < 2 s (gate on 2 x 20,000 with 10,000 resamples): {'met' if t_bin < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
