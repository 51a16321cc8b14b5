"""Benchmark: ingest a checkpoint sweep's lm-eval outputs into the results store and render the HTML leaderboard.

Writes CHECKPOINTS x TASKS lm-eval ``results_<date>.json`` files, each with its ``samples_<task>_<date>.jsonl``
(lines shaped and sized like real lm-eval 0.4.13 ``--log_samples`` lines of our tasks: doc with question, options
and the MedXpertQA axes, the prompt in ``arguments``, a CoT response, ~3.5 KB a line), then times
``medxpert ingest`` (in-process) and ``medxpert leaderboard --format html``. Reports wall time and DB size.

    python scripts/bench_ingest.py                          # 100 checkpoints x 10 tasks x 100 samples
    python scripts/bench_ingest.py --samples 300 --keep /tmp/sweep
Goal (issue 9): ingest + HTML under 10 s for the 1,000 files.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = ["medxpert_text_reasoning", "medxpert_text_understanding", "medxpert_mm_reasoning", "medxpert_mm_understanding",
         "medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical", "medvqa_vqarad_closed", "medvqa_slake_closed",
         "medvqa_pmcvqa"]  # fmt: skip
LETTERS = "ABCDEFGHIJ"
AXES = {"question_type": ["Reasoning", "Understanding"], "medical_task": ["Diagnosis", "Treatment", "Basic Science"],
        "body_system": ["Cardiovascular", "Respiratory", "Nervous", "Digestive", "Skeletal", "Endocrine", "Other / NA"]}  # fmt: skip
WORDS = ("patient presents with fever cough history examination reveals bilateral infiltrates laboratory elevated "
         "white count chest radiograph shows consolidation which of the following is the most likely diagnosis").split()


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def sample_line(rng: random.Random, task: str, i: int, skill: float) -> str:
    question = _text(rng, 110)
    options = [{"letter": k, "content": _text(rng, 6)} for k in LETTERS]
    gold = rng.choice(LETTERS)
    roll = rng.random()
    unreadable = roll > 0.93
    correct = not unreadable and roll < skill
    pred = "[no answer: truncated]" if unreadable else gold if correct else LETTERS[(LETTERS.index(gold) + 1) % 10]
    doc = {"id": f"{task}-{i}", "source": task, "question": question, "options": options, "letters": LETTERS,
           "answer": gold, "subject": None, "images": [], "think_end": None,
           **{k: rng.choice(v) for k, v in AXES.items()}}  # fmt: skip
    if task.startswith("medvqa"):
        doc["answer_type"] = "closed"
    prompt = f"Q: {question}\nAnswer Choices: " + " ".join(f"({o['letter']}) {o['content']}" for o in options)
    row = {
        "doc_id": i, "doc": doc, "target": gold,
        "arguments": {"gen_args_0": {"arg_0": prompt + "\nA: Let's think step by step.", "arg_1": {"until": [], "do_sample": False, "temperature": 0.0, "max_gen_toks": 4096}}},
        "resps": [[_text(rng, 60) + f" Therefore, the answer is ({gold})."]], "filtered_resps": [pred], "filter": "extract",
        "metrics": ["acc", "extract_fail"], "doc_hash": "%064x" % rng.getrandbits(256), "prompt_hash": "%064x" % rng.getrandbits(256),
        "target_hash": "%064x" % rng.getrandbits(256), "acc": float(correct), "extract_fail": float(unreadable),
    }  # fmt: skip
    return json.dumps(row, ensure_ascii=False)


def write_sweep(root: Path, checkpoints: int, n_samples: int, seed: int = 0) -> tuple[int, int]:
    rng = random.Random(seed)
    files = nbytes = 0
    for c in range(checkpoints):
        step = 500 * (c + 1)
        skill = 0.25 + 0.45 * c / max(1, checkpoints - 1)
        folder = root / f"sweep__med-llama__checkpoint-{step}"
        folder.mkdir(parents=True)
        for t, task in enumerate(TASKS):
            date_id = f"2026-11-{1 + c // 10:02d}T{c % 10:02d}-{t:02d}-00.{c:03d}{t:03d}"
            lines = [sample_line(rng, task, i, skill) for i in range(n_samples)]
            acc = sum(json.loads(x)["acc"] for x in lines) / n_samples
            fail = sum(json.loads(x)["extract_fail"] for x in lines) / n_samples
            se = (acc * (1 - acc) / max(1, n_samples - 1)) ** 0.5
            results = {
                "results": {task: {"alias": task, "acc,extract": acc, "acc_stderr,extract": se, "extract_fail,extract": fail,
                                   "extract_fail_stderr,extract": se}},
                "group_subtasks": {task: []}, "configs": {task: {"task": task, "generation_kwargs": {"until": [], "max_gen_toks": 4096}}},
                "versions": {task: 1.0}, "n-shot": {task: 0}, "higher_is_better": {task: {"acc": True, "extract_fail": False}},
                "n-samples": {task: {"original": n_samples, "effective": n_samples}},
                "config": {"model": "vllm", "model_args": f"pretrained=/ckpts/med-llama/checkpoint-{step},tensor_parallel_size=8",
                           "batch_size": "auto", "gen_kwargs": {}, "limit": None},
                "git_hash": "f061c8e", "date": 1796000000.0 + c * 3600 + t, "lm_eval_version": "0.4.13",
                "model_name": f"/ckpts/med-llama/checkpoint-{step}", "model_name_sanitized": folder.name,
                "pretty_env_info": _text(rng, 400), "transformers_version": "4.57.6",
            }  # fmt: skip
            (folder / f"results_{date_id}.json").write_text(json.dumps(results, indent=2))
            body = "\n".join(lines) + "\n"
            (folder / f"samples_{task}_{date_id}.jsonl").write_text(body)
            files += 2
            nbytes += len(body)
    return files, nbytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoints", type=int, default=100)
    ap.add_argument("--samples", type=int, default=100, help="samples per task and checkpoint")
    ap.add_argument("--keep", type=Path, help="write the sweep and DB here and keep them")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse the sweep already written there")
    args = ap.parse_args()

    from medxpert_ext.results.ingest import ingest_paths
    from medxpert_ext.results.leaderboard import build
    from medxpert_ext.results.render_html import render
    from medxpert_ext.results.store import Store

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    sweep, db, html_file = work / "outputs", work / "store.db", work / "leaderboard.html"
    if args.keep and args.reuse and sweep.is_dir():
        for p in work.glob("store.db*"):
            p.unlink()
        n_bytes = sum(p.stat().st_size for p in sweep.rglob("samples_*.jsonl"))
        print(f"reusing {sweep} ({n_bytes / 1e6:.0f} MB of samples)")
    else:
        if args.keep and work.exists():
            shutil.rmtree(work)
        t = time.perf_counter()
        n_files, n_bytes = write_sweep(sweep, args.checkpoints, args.samples)
        print(f"wrote {n_files} files ({n_files // 2} results + samples, {n_bytes / 1e6:.0f} MB of samples) "
              f"in {time.perf_counter() - t:.1f}s")  # fmt: skip

    t0, c0 = time.perf_counter(), time.process_time()
    with Store.open(db) as store:
        report = ingest_paths(store, [sweep])
        t1, c1 = time.perf_counter(), time.process_time()
        lb = build(store)
        html = render(store, lb)
        html_file.write_text(html, encoding="utf-8")
        t2, c2 = time.perf_counter(), time.process_time()
        counts = store.counts()
    assert report.ok and report.added == args.checkpoints * len(TASKS), report.errors[:3]
    db_size = sum(p.stat().st_size for p in work.glob("store.db*"))
    # CPU time next to wall time: on a shared machine the wall time mostly measures the other tenants
    print(f"ingest: {t1 - t0:.2f}s wall, {c1 - c0:.2f}s CPU for {report.added} runs; {counts['score']} scores, "
          f"{counts['sample']} samples")  # fmt: skip
    print(f"html:   {t2 - t1:.2f}s wall, {c2 - c1:.2f}s CPU ({len(lb.rows)} rows x {len(lb.columns)} columns, "
          f"{len(html) / 1e6:.2f} MB)")  # fmt: skip
    t3, c3 = time.perf_counter(), time.process_time()
    with Store.open(db) as store:
        again = ingest_paths(store, [sweep])
    print(f"re-ingest of the same files: {time.perf_counter() - t3:.2f}s wall, {time.process_time() - c3:.2f}s CPU "
          f"({again.existing} already stored, {again.added} added)")  # fmt: skip
    print(f"total ingest + html: {t2 - t0:.2f}s wall, {c2 - c0:.2f}s CPU (goal < 10 s); DB size {db_size / 1e6:.1f} MB "
          f"({db_size / max(1, counts['sample']):.0f} B/sample)")  # fmt: skip
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
