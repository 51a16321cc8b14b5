"""Throughput benchmark for medxpert_ext.extract, plus the extractor corpus accuracy.

Generates a deterministic mix of realistic responses (chain-of-thought paragraphs that mention several options
and restate the stem, then a commitment in one of the styles real models use, or no commitment at all), then
times extract + scoring against gold on one core. Every generated response also carries the letter the
extractor should read, so the run doubles as a check that the fast path is the correct path.

    /work/venv/bin/python scripts/bench_extract.py [--n 20000] [--seed 1234]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medxpert_ext.extract import extract, parse_letters  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "extractor_corpus.jsonl"

QUESTIONS: tuple[dict[str, str], ...] = (
    {
        "A": "Open reduction and internal fixation of the radial head",
        "B": "Radial head excision",
        "C": "Radial head replacement",
        "D": "Closed reduction and long-arm casting",
        "E": "Lateral ulnar collateral ligament reconstruction",
        "F": "Coronoid fixation alone",
        "G": "Hinged external fixation",
        "H": "Early active range of motion in a sling",
        "I": "Total elbow arthroplasty",
        "J": "Arthroscopic debridement",
    },
    {
        "A": "Arthroscopic Bankart repair",
        "B": "Latarjet procedure",
        "C": "Capsular plication",
        "D": "Physical therapy with rotator cuff strengthening",
        "E": "Remplissage",
    },
    {"A": "Vitamin B12 deficiency", "B": "Folate deficiency", "C": "Iron deficiency", "D": "Anemia of chronic disease"},
    {
        "A": "Aspirin",
        "B": "Heparin",
        "C": "Metoprolol",
        "D": "Nitroglycerin",
        "E": "Percutaneous coronary intervention",
    },
)

STEM_SENTENCES = (
    "A 45-year-old man presents with {finding} that began three days ago.",
    "A 67-year-old woman with hypertension and type 2 diabetes is brought to the emergency department.",
    "I think the key finding here is {finding}.",
    "The vital signs show a blood pressure of 92/60 mm Hg and a pulse of 112/min.",
    "Laboratory studies show a hemoglobin of 9.1 g/dL, a ferritin of 6 ng/mL and a creatinine of 1.1 mg/dL.",
    "Because {finding} is present, we need to think carefully about the underlying mechanism.",
    "In summary, the history, examination and imaging all point in the same direction.",
)
OPTION_SENTENCES = (
    "Option {L} ({T}) is less likely because it does not explain {finding}.",
    "({L}) {T} would be reasonable if the patient were stable, but that is not the case here.",
    "Let's consider {T} ({L}): it is usually reserved for refractory cases.",
    "{T} is typically used when {finding} is absent.",
    "Considering options {L} and {M}, neither accounts for {finding}.",
    "Option {L} is incorrect because the timeline does not fit.",
    "**{L}. {T}** - a common distractor in this scenario.",
)
FINDINGS = (
    "a positive sulcus sign",
    "microcytic red cells",
    "ST elevation in II, III and aVF",
    "a comminuted fragment",
    "lobar consolidation",
    "a low ferritin",
    "generalized ligamentous laxity",
    "hypotension",
)


@dataclass(frozen=True)
class Case:
    """One generated response with the letters it is scored on."""

    response: str
    letters: str
    options: dict[str, str]
    gold: str
    intended: str | None  # what a correct extractor must read


def _cot(rng: random.Random, options: dict[str, str], target: int) -> str:
    """Chain-of-thought paragraphs of about ``target`` characters that mention several options."""
    letters = list(options)
    parts: list[str] = []
    size = 0
    while size < target:
        pool = OPTION_SENTENCES if rng.random() < 0.5 else STEM_SENTENCES
        letter, other = rng.sample(letters, 2)
        sentence = rng.choice(pool).format(L=letter, M=other, T=options[letter], finding=rng.choice(FINDINGS))
        parts.append(sentence)
        size += len(sentence) + 1
        if rng.random() < 0.2:
            parts.append("\n\n")
    return " ".join(parts).replace(" \n\n ", "\n\n")


Style = Callable[[random.Random, str, str, str], str]
# Each commitment style: (rng, letter, option text, last valid letter) -> the final part of the reply.
COMMIT_STYLES: tuple[Style, ...] = (
    lambda r, x, t, last: f"The answer is ({x}).",
    lambda r, x, t, last: f"Answer: {x}",
    lambda r, x, t, last: f"**Answer:** {x}. {t}",
    lambda r, x, t, last: f"The final answer is: $\\boxed{{{x}}}$",
    lambda r, x, t, last: f"Therefore, among A through {last}, the answer is ({x}).",
    lambda r, x, t, last: f'```json\n{{\n  "answer": "{x}"\n}}\n```',
    lambda r, x, t, last: f"综上所述，答案：{x}",
    lambda r, x, t, last: f"**{x}) {t}**",
    lambda r, x, t, last: f"The correct answer is {t}.",
    lambda r, x, t, last: f"Answer: {r.choice('ABCDE')}\n\nWait, on reflection the answer is {x}.",
    lambda r, x, t, last: f"The correct answer is {x}.\n\nOption A is incorrect because it does not address the cause.",
    lambda r, x, t, last: f"**Final Answer**\n\\[\n\\boxed{{\\text{{{x}}}}}\n\\]",
    lambda r, x, t, last: f"La respuesta correcta es la {x}.",
    lambda r, x, t, last: f"I would choose {x}.",
    lambda r, x, t, last: f"Option {x} is the most appropriate choice here.",
    lambda r, x, t, last: f"answer: {x.lower()}",
    lambda r, x, t, last: f"{x}. {t}",
)


def make_case(rng: random.Random) -> Case:
    """One realistic response: CoT (optionally inside a think block) and a commitment, or no commitment."""
    options = rng.choice(QUESTIONS)
    letters = "".join(options)
    gold = rng.choice(letters)
    chosen = gold if rng.random() < 0.7 else rng.choice(letters.replace(gold, ""))
    cot = _cot(rng, options, rng.randint(900, 2600))
    roll = rng.random()
    if roll < 0.06:
        return Case(f"<think>\n{cot}\nSo the answer is {chosen}, but let me", letters, options, gold, None)
    if roll < 0.10:
        return Case(cot + "\n\nMore information would be needed to decide.", letters, options, gold, None)
    if roll < 0.12:
        other = rng.choice(letters.replace(chosen, ""))
        return Case(cot + f"\n\nThe answer is {chosen} or {other}.", letters, options, gold, None)
    final = rng.choice(COMMIT_STYLES)(rng, chosen, options[chosen], letters[-1])
    if roll < 0.40:
        return Case(f"<think>\n{cot}\n</think>\n\n{final}", letters, options, gold, chosen)
    return Case(f"{cot}\n\n{final}", letters, options, gold, chosen)


def generate(n: int, seed: int) -> list[Case]:
    """``n`` deterministic cases for one seed."""
    rng = random.Random(seed)
    return [make_case(rng) for _ in range(n)]


def corpus_accuracy(path: Path = CORPUS) -> tuple[int, int, list[str]]:
    """(correct, total, ids of failures) of the extractor on the hand-written corpus."""
    correct, failures = 0, []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        letters = parse_letters(row["letters"])
        got = extract(row["response"], letters, row.get("options"), think_end=row.get("think_end"))
        if got.letter == row["expected"]:
            correct += 1
        else:
            failures.append(row["id"])
    return correct, len(rows), failures


def main() -> None:
    """Generate, time extract + scoring, and print throughput, agreement and corpus accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    cases = generate(args.n, args.seed)
    size = sum(len(c.response) for c in cases)
    start = time.perf_counter()
    scored = agreed = 0
    for case in cases:
        letter = extract(case.response, case.letters, case.options).letter
        scored += letter == case.gold
        agreed += letter == case.intended
    seconds = time.perf_counter() - start

    print(f"responses: {len(cases)} (mean {size / len(cases) / 1024:.2f} KB, seed {args.seed})")
    print(f"extract + score: {seconds:.2f} s total, {len(cases) / seconds:,.0f} responses/s")
    print(f"extractor read the intended letter (or no answer) on {agreed}/{len(cases)} = {agreed / len(cases):.2%}")
    print(f"simulated model accuracy vs gold: {scored / len(cases):.2%}")
    correct, total, failures = corpus_accuracy()
    failing = f"; failing: {', '.join(failures)}" if failures else ""
    print(f"corpus accuracy: {correct}/{total} = {correct / total:.2%}{failing}")


if __name__ == "__main__":
    main()
