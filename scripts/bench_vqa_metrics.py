"""Throughput benchmark for medxpert_ext.metrics.vqa at PathVQA's size (6,719 test questions).

Generates a deterministic mix of about half closed (yes/no) and half open short-answer questions, with replies
in the styles models actually produce ("Yes.", "No, there is no ...", "**No**", "The answer is ...", hedges,
long sentences), then scores every item (score_closed / score_open) plus VQA-Med BLEU and sacreBLEU corpus BLEU
over the open items, on one core, in a fresh process (caches start cold; long replies carry random sizes so
they are distinct, as real replies are). The one-time lazy import of nltk/sacrebleu is timed and printed apart.

    /work/venv/bin/python scripts/bench_vqa_metrics.py [--n 6719] [--seed 2024]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medxpert_ext.metrics.vqa import bleu, corpus_bleu, score_closed, score_open, sentence_bleu  # noqa: E402

FINDINGS = (
    "pulmonary embolism", "aortic dissection", "left lower lobe", "right kidney", "squamous cell carcinoma",
    "granuloma", "necrosis", "fibrosis", "hepatocellular carcinoma", "metastatic adenocarcinoma", "liver",
    "small intestine", "two", "3", "axial", "t2 weighted mri", "ct with contrast", "brain", "left lung",
    "cardiomegaly", "pleural effusion", "hemorrhage", "inflammation", "lymphocytes", "mitotic figures",
)  # fmt: skip
CLOSED_REPLIES = (
    "{Ans}.", "{ans}", "**{Ans}**", "{Ans}, there is a {finding} measuring {size} cm.",
    "No, there is no {finding} in the {finding2}.", "Yes - the image shows {finding} ({size} cm).",
    "The answer is {ans}.", "Answer: {Ans}", "There is no evidence of {finding} (slide {k}).",
    "It is unclear from this image whether {finding} is present.", "Yes and no.",
    "The image shows {finding} in the {finding2}, about {size} cm across. Therefore, {ans}.",
)  # fmt: skip
OPEN_REPLIES = (
    "{gold}", "{Gold}.", "The answer is {gold}.", "Answer: {gold}", "**{Gold}**",
    "The image shows {gold} with surrounding {other} ({size} cm).", "{other}",
    "It is most consistent with {other}, slide {k}.",
    "This is a histopathology slide showing {gold} and {other}, without evidence of {other2} ({size} cm).",
)  # fmt: skip


def make_items(n: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, reply, gold) triples, about half closed and half open."""
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        finding, finding2, other = rng.sample(FINDINGS, 3)
        size, k = f"{rng.uniform(0.2, 9.9):.1f}", rng.randint(1, 99_999)  # keeps long replies distinct
        if rng.random() < 0.5:
            ans = rng.choice(("yes", "no"))
            reply = rng.choice(CLOSED_REPLIES).format(
                ans=ans, Ans=ans.capitalize(), finding=finding, finding2=finding2, size=size, k=k
            )
            items.append(("closed", reply, rng.choice((ans, ans.capitalize(), ans + "."))))
        else:
            gold = finding
            reply = rng.choice(OPEN_REPLIES).format(
                gold=gold, Gold=gold.capitalize(), other=other, other2=finding2, size=size, k=k
            )
            items.append(("open", reply, gold))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6719, help="number of questions (PathVQA test: 6,719)")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    items = make_items(args.n, args.seed)
    closed = [(r, g) for kind, r, g in items if kind == "closed"]
    open_ = [(r, g) for kind, r, g in items if kind == "open"]

    # One-time cost, timed apart: the first BLEU call imports nltk (its __init__ alone takes ~1 s) and sacrebleu.
    t_import = time.perf_counter()
    sentence_bleu("warm up", "warm up")
    import_s = time.perf_counter() - t_import

    start = time.perf_counter()
    closed_scores = [score_closed(r, g) for r, g in closed]
    t_closed = time.perf_counter()
    open_scores = [score_open(r, g) for r, g in open_]
    t_open = time.perf_counter()
    vqa_med_bleu = bleu([r for r, _ in open_], [g for _, g in open_])
    t_bleu = time.perf_counter()
    mt_bleu = corpus_bleu([r for r, _ in open_], [g for _, g in open_])
    end = time.perf_counter()

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    total = end - start
    distinct = len({r for _, r, _ in items})
    print(f"items: {len(items)} ({len(closed)} closed, {len(open_)} open, {distinct} distinct replies), "
          f"seed {args.seed}")  # fmt: skip
    print(f"closed_acc {mean([s['closed_acc'] for s in closed_scores]):.4f}  "
          f"closed_unreadable {mean([s['closed_unreadable'] for s in closed_scores]):.4f}")  # fmt: skip
    print(f"recall {mean([s['recall'] for s in open_scores]):.4f}  f1 {mean([s['f1'] for s in open_scores]):.4f}  "
          f"exact_match {mean([s['exact_match'] for s in open_scores]):.4f}")  # fmt: skip
    print(f"VQA-Med BLEU {vqa_med_bleu:.4f}  sacreBLEU corpus BLEU {mt_bleu:.4f}")
    print(f"time: closed {t_closed - start:.3f}s  open {t_open - t_closed:.3f}s  "
          f"VQA-Med BLEU {t_bleu - t_open:.3f}s  corpus BLEU {end - t_bleu:.3f}s")  # fmt: skip
    print(f"total {total:.3f}s for {len(items)} samples: {len(items) / total:,.0f} samples/s "
          f"(plus a one-time {import_s:.2f}s for the lazy nltk/sacrebleu import)")  # fmt: skip


if __name__ == "__main__":
    main()
