"""Throughput benchmark for the lexical MedLFQA metrics in medxpert_ext.metrics.lfqa (ROUGE-1/2/L + BLEU).

Every row of the four local MedLFQA subsets (kqa_golden, kqa_silver, live_qa, medication_qa: 1,871 answers) gets a
"prediction": its own Free_form_answer, perturbed deterministically (dropped, replaced and swapped words, a
shuffled sentence order, a generic closing sentence). The prediction is then scored against the unmodified reference
with rouge_scores + bleu_score, on one core.

    /work/venv/bin/python scripts/bench_lfqa_metrics.py [--repeat 1] [--data ROOT]

Imports and the first call are timed separately (warm-up). Only one timed pass runs by default, because sacrebleu's 13a
tokenizer memoises strings: a second pass over the same texts overstates BLEU's speed by about 2x.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medxpert_ext.data import load_medlfqa_docs  # noqa: E402
from medxpert_ext.metrics.lfqa import bleu_score, rouge_scores  # noqa: E402

SUBSETS = ("kqa_golden", "kqa_silver", "live_qa", "medication_qa")
DEFAULT_DATA = ROOT.parent / "shared" / "data"
FILLER = (
    "patients",
    "treatment",
    "symptoms",
    "doctor",
    "usually",
    "may",
    "risk",
    "condition",
    "dose",
    "blood",
    "pressure",
    "infection",
)
CLOSING = "It is important to consult your healthcare provider for advice tailored to your situation."


def perturb(text: str, seed: str) -> str:
    """A deterministic, plausible-looking corruption of a reference answer."""
    rng = random.Random(seed)  # str seeds hash with SHA-512: stable across runs and machines
    sentences = [s for s in text.replace("\n", " ").split(". ") if s.strip()]
    if len(sentences) > 2 and rng.random() < 0.5:
        rng.shuffle(sentences)
    words = ". ".join(sentences).split()
    out: list[str] = []
    for word in words:
        r = rng.random()
        if r < 0.10:
            continue  # drop
        if r < 0.20:
            out.append(rng.choice(FILLER))  # replace
            continue
        out.append(word)
    for i in range(len(out) - 1):
        if rng.random() < 0.05:
            out[i], out[i + 1] = out[i + 1], out[i]
    if rng.random() < 0.5:
        out.extend(CLOSING.split())
    return " ".join(out)


def load_pairs(data_dir: Path) -> list[tuple[str, str]]:
    pairs = []
    for subset in SUBSETS:
        for idx, doc in enumerate(load_medlfqa_docs(subset, data_dir)):
            pairs.append((perturb(doc["answer"], f"{subset}:{idx}"), doc["answer"]))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"data root (default {DEFAULT_DATA})")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes; the best is reported (see docstring)")
    args = parser.parse_args()

    pairs = load_pairs(args.data)
    n = len(pairs)
    ref_words = [len(r.split()) for _, r in pairs]
    pred_words = [len(p.split()) for p, _ in pairs]
    print(f"{n} answers from {', '.join(SUBSETS)} ({args.data})")
    print(
        f"reference words: mean {statistics.mean(ref_words):.0f}, max {max(ref_words)}; "
        f"prediction words: mean {statistics.mean(pred_words):.0f}, max {max(pred_words)}"
    )

    t0 = time.perf_counter()
    rouge_scores(*pairs[0]), bleu_score(*pairs[0])  # first call imports rouge-score (+ nltk) and sacrebleu
    print(f"warm-up (imports, first call): {time.perf_counter() - t0:.3f} s, not included below")

    best = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        rouge = [rouge_scores(p, r) for p, r in pairs]
        t1 = time.perf_counter()
        bleu = [bleu_score(p, r) for p, r in pairs]
        t2 = time.perf_counter()
        timing = (t2 - t0, t1 - t0, t2 - t1)
        if best is None or timing[0] < best[0]:
            best = timing
    total, t_rouge, t_bleu = best
    print(
        f"mean scores: ROUGE-1 {statistics.mean(s['rouge1'] for s in rouge):.4f}, "
        f"ROUGE-2 {statistics.mean(s['rouge2'] for s in rouge):.4f}, "
        f"ROUGE-L {statistics.mean(s['rougeL'] for s in rouge):.4f}, BLEU {statistics.mean(bleu):.4f}"
    )
    print(f"ROUGE-1/2/L: {t_rouge:.3f} s ({n / t_rouge:,.0f} answers/s)")
    print(f"BLEU:        {t_bleu:.3f} s ({n / t_bleu:,.0f} answers/s)")
    print(f"total:       {total:.3f} s for {n} answers ({n / total:,.0f} answers/s), best of {max(1, args.repeat)}")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
