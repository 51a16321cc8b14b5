"""Throughput benchmark for medxpert_ext.extract, plus the extractor's accuracy on its corpus and real dev set.

Generates a deterministic mix of realistic responses (chain-of-thought paragraphs that mention several options
and restate the stem, then a commitment in one of the styles real models use, or no commitment at all), then
times extract + scoring against gold on one core. Every generated response also carries the letter the
extractor should read, so the run doubles as a check that the fast path is the correct path.

Then: the worst case over 1 MB pathological inputs (target: none over 50 ms), and agreement with the
hand labels of ``tests/data/extractor_dev_real.jsonl`` by failure class (options not passed, like the
``medxpert extract`` CLI), optionally next to the extractor of an older git revision.

    python scripts/bench_extract.py [--n 20000] [--seed 1234] [--baseline-rev f061c8e]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medxpert_ext.extract import extract, parse_letters  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "extractor_corpus.jsonl"
DEV = ROOT / "tests" / "data" / "extractor_dev_real.jsonl"
MB = 1 << 20

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


def pathological(size: int = MB) -> dict[str, str]:
    """Hostile inputs of ``size`` characters: each stresses one part (anchors, lines, lists, JSON, reasoning)."""
    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    nested = '{"a": ' * (size // 12) + '"C"' + "}" * (size // 12)
    return {
        "one_repeated_line": fill("The answer is (B) because the findings fit option C best.\n"),
        "no_newlines": fill("Option B is less likely because of hypotension and A 45-year-old man. "),
        "deep_json": (nested + ' {"answer": "C"}')[-size:] if len(nested) > size else nested,
        "answer_phrase_repeated": fill("answer: "),
        "letter_lines": fill("A. x\nB. y\nC. z\nAnswer: (D)\n"),
        "bold_spam": fill("**A** "),
        "letter_list": "Answer: " + fill("A, "),
        "cjk_repeated": fill("答案是"),
        "think_never_closed": "<think>" + fill("reasoning "),
        "closing_tags": fill("</think> C "),
        "whitespace": "Answer" + " " * size + "x",
        "question_headers": fill("Answer: C\nQuestion: next?\n"),
    }


def worst_times(inputs: dict[str, str], repeats: int = 5) -> dict[str, float]:
    """Best-of-``repeats`` CPU seconds of one extract call per input (CPU time and best-of: a busy machine's
    scheduling is not the extractor's cost)."""
    times = {}
    for name, text in inputs.items():
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            extract(text, "ABCDE", {"A": "Aspirin", "C": "Metoprolol"})
            best = min(best, time.process_time() - start)
        times[name] = best
    return times


def load_extract_at(rev: str) -> Callable:
    """``extract`` of the extractor at git revision ``rev`` (a single-file module then), for before/after."""
    for path in ("medxpert_ext/extract.py", "medxpert_ext/extract/__init__.py"):
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True, text=True, check=False)
        if shown.returncode == 0 and "from ." not in shown.stdout:
            with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
                fh.write(shown.stdout)
            spec = importlib.util.spec_from_file_location(f"extract_{rev}", fh.name)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module.extract
    raise SystemExit(f"no single-file extractor at revision {rev}")


def relative_rates(runs: dict[str, Callable], cases: list[Case], rounds: int = 5) -> dict[str, float]:
    """Responses per CPU-second of each extractor, interleaved and best-of, so a busy machine hurts all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for label, run in runs.items():
            start = time.process_time()
            for case in cases:
                run(case.response, case.letters, case.options)
            best[label] = min(best[label], time.process_time() - start)
    return {label: len(cases) / seconds for label, seconds in best.items()}


def dev_agreement(run: Callable = extract, path: Path = DEV) -> dict[str, dict]:
    """Per failure class: agreement with the hand label, letters read where the label is none (guessed), and
    the cases missed, as {"class": {"agree": n, "total": n, "guessed": [...], "misses": [...]}} plus "all"."""
    table: dict[str, dict] = defaultdict(lambda: {"agree": 0, "total": 0, "guessed": [], "misses": []})
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        got = run(row["response"], parse_letters(row["letters"]))
        for key in (row["class"], "all"):
            cell = table[key]
            cell["total"] += 1
            cell["agree"] += got.letter == row["expected"]
            if got.letter != row["expected"]:  # guessed: a letter where the model committed to none or another
                kind = "guessed" if got.letter is not None else "misses"
                cell[kind].append(f"{row['id']} (label {row['expected']}, read {got.letter} [{got.reason}])")
    return dict(table)


def main() -> None:
    """Generate, time extract + scoring, and print throughput, agreement, pathological timings and accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--baseline-rev", help="also score the dev set with the extractor at this git revision")
    args = parser.parse_args()

    cases = generate(args.n, args.seed)
    size = sum(len(c.response) for c in cases)
    start, cpu_start = time.perf_counter(), time.process_time()
    scored = agreed = 0
    for case in cases:
        letter = extract(case.response, case.letters, case.options).letter
        scored += letter == case.gold
        agreed += letter == case.intended
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start

    print(f"responses: {len(cases)} (mean {size / len(cases) / 1024:.2f} KB, seed {args.seed})")
    print(f"extract + score: {seconds:.2f} s total, {len(cases) / seconds:,.0f} responses/s "
          f"({len(cases) / cpu:,.0f}/s of CPU time, one core)")
    print(f"extractor read the intended letter (or no answer) on {agreed}/{len(cases)} = {agreed / len(cases):.2%}")
    print(f"simulated model accuracy vs gold: {scored / len(cases):.2%}")
    correct, total, failures = corpus_accuracy()
    failing = f"; failing: {', '.join(failures)}" if failures else ""
    print(f"corpus accuracy: {correct}/{total} = {correct / total:.2%}{failing}")

    times = worst_times(pathological())
    print("pathological 1 MB inputs (CPU time, best of 5, target < 50 ms each):")
    for name, secs in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"  {name:24s} {secs * 1000:7.1f} ms{'  OVER 50 ms' if secs > 0.05 else ''}")

    columns = [("now", dev_agreement())]
    if args.baseline_rev:
        baseline = load_extract_at(args.baseline_rev)
        columns.insert(0, (args.baseline_rev, dev_agreement(baseline)))
        rates = relative_rates({args.baseline_rev: baseline, "now": extract}, cases[:2000])
        print("CPU-time throughput, interleaved best of 5 on 2,000 of the responses: "
              + ", ".join(f"{label} {rate:,.0f}/s" for label, rate in rates.items()))
    print(f"real dev set {DEV.name}: agreement with the hand labels by class (guessed = a letter read that is not"
          " the label: the model committed to none or to another)")
    for key in sorted(columns[-1][1], key=lambda k: (k == "all", k)):
        cells = [f"{label}: {c[key]['agree']}/{c[key]['total']} = {c[key]['agree'] / c[key]['total']:.3f}"
                 f" ({len(c[key]['guessed'])} guessed)" for label, c in columns]  # fmt: skip
        print(f"  {key:22s} " + " | ".join(cells))
    for kind in ("guessed", "misses"):
        for case in columns[-1][1]["all"][kind]:
            print(f"  still {kind[:-2] if kind == 'guessed' else 'missed'}: {case}")


if __name__ == "__main__":
    main()
