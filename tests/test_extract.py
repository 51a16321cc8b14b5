"""Tests for medxpert_ext.extract: the hand-written corpus of real-looking outputs plus targeted unit tests.

The corpus (tests/data/extractor_corpus.jsonl) holds one case per line; each asserts the exact letter (or no
answer), with the case id as the test id and a category so a failure says which rule broke.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from medxpert_ext.extract import (
    Extraction,
    extract,
    extract_choice,
    options_from_question,
    parse_letters,
    strip_reasoning,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "data" / "extractor_corpus.jsonl"


def load_corpus() -> list[dict]:
    """The corpus cases, in file order."""
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@functools.cache
def load_bench() -> ModuleType:
    """scripts/bench_extract.py as a module (scripts/ is not a package), for its corpus_accuracy and generator."""
    spec = importlib.util.spec_from_file_location("bench_extract", ROOT / "scripts" / "bench_extract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is executing
    spec.loader.exec_module(module)
    return module


CASES = load_corpus()


# ------------------------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case: dict) -> None:
    letters = parse_letters(case["letters"])
    got = extract(case["response"], letters, case.get("options"), think_end=case.get("think_end"))
    assert got.letter == case["expected"], f"[{case['category']}] {case['response']!r} -> {got}"


def test_corpus_is_large_unique_and_covers_every_rule() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 180
    assert len(set(ids)) == len(ids)
    categories = Counter(c["category"] for c in CASES)
    required = {
        "boxed", "answer_is", "answer_colon", "markdown_bold", "json", "bare_reply", "think_closed",
        "think_template", "think_unterminated", "think_end_profile", "revision", "post_answer_explanation",
        "out_of_range", "conflicting", "same_letter", "article_a", "pronoun_i", "lowercase", "negation",
        "option_text", "chinese", "multilingual", "kojima", "choose", "no_commit", "option_walkthrough",
        "runaway", "empty", "model_style",
        # extraction v2: the failure classes found on real outputs, each with negative cases
        "json_broken", "labelled_conclusion", "answer_is_decorated", "non_english", "few_shot_continuation",
        "numbering_artifact", "hedged_final_choice", "truncated", "letter_loop", "subparts",
    }  # fmt: skip
    assert required <= set(categories), required - set(categories)
    assert sum(c["expected"] is None for c in CASES) >= 60  # "no answer" must be tested as hard as answers
    for negative in ("labelled_conclusion", "few_shot_continuation", "truncated", "hedged_final_choice"):
        assert any(c["expected"] is None for c in CASES if c["category"] == negative), negative


def test_corpus_accuracy_helper_reports_full_accuracy() -> None:
    correct, total, failures = load_bench().corpus_accuracy()
    print(f"corpus accuracy: {correct}/{total}")
    assert (correct, total, failures) == (len(CASES), len(CASES), [])


def test_bench_generator_agrees_with_extractor() -> None:
    """The benchmark's generated responses (a different distribution from the corpus) are read as intended.

    Not 100%: the generator can end a discussion whose paragraphs open with option labels by a bare option
    line, which the extractor deliberately leaves unread (it cannot tell it from a walkthrough's last item).
    What must never happen is reading a letter the response did not commit to.
    """
    cases = load_bench().generate(2000, seed=7)
    read = [(extract(c.response, c.letters, c.options).letter, c.intended) for c in cases]
    assert sum(got == intended for got, intended in read) >= 0.99 * len(cases)
    assert not [(got, intended) for got, intended in read if got is not None and got != intended]


# ------------------------------------------------------------------------------------------ real dev set

DEV = [json.loads(line) for line in (CORPUS.parent / "extractor_dev_real.jsonl").read_text("utf-8").splitlines()]


def test_dev_set_is_real_labelled_and_sourced() -> None:
    assert len(DEV) >= 300 and len({r["id"] for r in DEV}) == len(DEV)
    for row in DEV:
        assert row["source_repo"] and len(row["commit"]) == 40 and row["path"], row["id"]
        assert row["expected"] is None or row["expected"] in parse_letters(row["letters"]), row["id"]


def test_dev_set_agreement_and_no_guessed_letters() -> None:
    """Options not passed (the CLI path). Goal of issue 10: >= 0.97 agreement, no letter where the model
    committed to none or to another option."""
    read = [(extract(r["response"], parse_letters(r["letters"])).letter, r) for r in DEV]
    agree = sum(got == r["expected"] for got, r in read)
    guessed = [r["id"] for got, r in read if got is not None and got != r["expected"]]
    assert agree / len(DEV) >= 0.97, agree
    assert guessed == []


# -------------------------------------------------------------------------------------------- parse_letters


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("ABCD", "ABCD"), ("A-J", "ABCDEFGHIJ"), ("A-E", "ABCDE"), (" ABCDE ", "ABCDE"), ("A-A", "A"), ("C", "C")],
)
def test_parse_letters(spec: str, expected: str) -> None:
    assert parse_letters(spec) == expected


@pytest.mark.parametrize("spec", ["", "abcd", "J-A", "AAB", "A-", "A–J", "A,B,C", "1-4", "A-J-K"])
def test_parse_letters_rejects_and_names_the_spec(spec: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_letters(spec)
    assert repr(spec) in str(err.value)
    assert "'A-J'" in str(err.value)  # says what a valid spec looks like


def test_extract_accepts_a_range_and_rejects_a_bad_spec() -> None:
    assert extract("Answer: H", "A-J").letter == "H"
    with pytest.raises(ValueError, match="'a-j'"):
        extract("Answer: H", "a-j")


# ------------------------------------------------------------------------------------------ strip_reasoning


@pytest.mark.parametrize(
    ("text", "think_end", "expected"),
    [
        ("<think>why</think>\n\nAnswer: C", None, "\n\nAnswer: C"),
        ("<thinking>why</thinking>C", None, "C"),
        ("<reasoning>why</reasoning> C", None, " C"),
        ("opening tag was in the prompt... </think> C", None, " C"),
        ("<think>a</think> mid <think>b</think> end", None, " end"),
        ("no reasoning at all", None, "no reasoning at all"),
        ("<think>cut off by max_tokens", None, None),
        ("<think>a</think> answer <think> reopened and cut", None, None),
        ("plain answer, but the profile says reasoning model", "</think>", None),
        ("thought... </think> C", "</think>", " C"),
        ("<|begin_of_thought|>x<|end_of_thought|> C", "<|end_of_thought|>", " C"),
        ("[THINK]x[/THINK] C", None, " C"),
        ("<THINK>x</THINK> C", None, " C"),
    ],
)
def test_strip_reasoning(text: str, think_end: str | None, expected: str | None) -> None:
    assert strip_reasoning(text, think_end=think_end) == expected


# ------------------------------------------------------------------------------------ options_from_question

MEDXPERT_QUESTION = (
    "A 38-year-old man is brought to the emergency department after falling onto his outstretched right hand "
    "while snowboarding. Examination shows a swollen, tender elbow held in flexion; radiographs after closed "
    "reduction show a comminuted radial head fracture with more than three fragments, a coronoid tip fracture "
    "(Regan-Morrey type I) and persistent posterolateral subluxation. Which of the following is the most "
    "appropriate management? Answer Choices: (A) Open reduction and internal fixation of the radial head "
    "(B) Radial head excision (C) Radial head replacement with lateral collateral ligament repair "
    "(D) Closed reduction and long-arm casting for 6 weeks (E) Lateral ulnar collateral ligament "
    "reconstruction alone (F) Coronoid fixation alone (G) Hinged external fixation\n(H) Early active range of "
    "motion in a sling (I) Total elbow arthroplasty (J) Arthroscopic debridement"
)


def test_options_from_question_medxpertqa_a_to_j() -> None:
    options = options_from_question(MEDXPERT_QUESTION)
    assert list(options) == list("ABCDEFGHIJ")
    assert options["A"] == "Open reduction and internal fixation of the radial head"
    assert options["C"] == "Radial head replacement with lateral collateral ligament repair"
    assert options["G"] == "Hinged external fixation"  # newline between options is whitespace
    assert options["J"] == "Arthroscopic debridement"
    # the "(Regan-Morrey type I)" in the stem is before the header and does not create an option
    assert "Regan" not in " ".join(options.values())


def test_options_from_question_feeds_text_matching() -> None:
    options = options_from_question(MEDXPERT_QUESTION)
    reply = "Answer: radial head replacement with lateral collateral ligament repair"
    assert extract(reply, "A-J", options) == Extraction("C", "ok")


def test_options_from_question_one_per_line_and_absent() -> None:
    question = "Which vitamin deficiency causes scurvy?\nAnswer Choices:\nA. Vitamin A\nB. Vitamin C\nC. Vitamin D"
    assert options_from_question(question) == {"A": "Vitamin A", "B": "Vitamin C", "C": "Vitamin D"}
    assert options_from_question("A 45-year-old man has (A) nothing to do with choices.") == {}


# -------------------------------------------------------------------------------------------- reason codes


@pytest.mark.parametrize(
    ("response", "letters", "think_end", "expected"),
    [
        ("The answer is (C).", "ABCDE", None, Extraction("C", "ok")),
        (None, "ABCDE", None, Extraction(None, "empty")),
        ("   \n", "ABCDE", None, Extraction(None, "empty")),
        ("<think>The answer is C", "ABCDE", None, Extraction(None, "unterminated_think")),
        ("The answer is C.", "ABCDE", "</think>", Extraction(None, "unterminated_think")),
        ("A 45-year-old man with chest pain.", "ABCDE", None, Extraction(None, "no_answer")),
        ("<think>The answer is C.</think>", "ABCDE", None, Extraction(None, "no_answer")),
        ("Answer: F", "ABCDE", None, Extraction(None, "out_of_range")),
        ("The answer is A or C.", "ABCDE", None, Extraction(None, "conflicting")),
        ("\\boxed{A,C}", "ABCDE", None, Extraction(None, "conflicting")),
        ("Answer: C, C", "ABCDE", None, Extraction("C", "ok")),
        ("The smear shows microcytic cells, which suggests that the underlying", "ABCDE", None,
         Extraction(None, "truncated")),
        ("Let us go through the options.\n\n**A) Warfarin:** no.\n**B) CT scan:**", "ABCDE", None,
         Extraction(None, "truncated")),
        ("I cannot tell which one is right.", "ABCDE", None, Extraction(None, "no_answer")),
        ("<think>The answer is (C) because", "ABCDE", None, Extraction(None, "unterminated_think")),
    ],
)
def test_reason_codes(response: str | None, letters: str, think_end: str | None, expected: Extraction) -> None:
    assert extract(response, letters, think_end=think_end) == expected


def test_extract_choice_is_the_letter() -> None:
    assert extract_choice("Final Answer: B", "ABCD") == "B"
    assert extract_choice("Answer: a bacterial infection") is None


def test_options_keys_and_values_are_normalised() -> None:
    options = {" b ": "  Bacterial   INFECTION ", "a": "Viral infection"}
    assert extract("Answer: bacterial infection.", "ABCDE", options).letter == "B"


# ----------------------------------------------------------------------------------------------- hostile input

N = 50_000
PATHOLOGICAL = {
    "whitespace_after_answer": "Answer" + " " * N + "x",
    "answer_phrase_repeated": "answer:" * (N // 7),
    "open_paren_then_spaces": "The answer is foo (" + " " * N + "x",
    "option_then_spaces": "therefore, option c" + " " * N + "x",
    "markdown_run_in_one_line": "x" + " * " * (N // 3) + "y",
    "long_word_after_anchor": "most " + "a" * N,
    "letter_list": "Answer: " + "A, " * (N // 3),
    "bold_spam": "**A** " * (N // 6),
    "cjk_repeated": "答案是" * (N // 3),
    "think_never_closed": "<think>" + "reasoning " * (N // 10),
    "long_realistic_cot": "Option B is less likely because of hypotension. A 45-year-old man... " * 700
    + "\n\nThe answer is E.",
}


def test_long_reply_is_read_at_both_ends() -> None:
    """Past 64 KB after the reasoning, the start (a base model's own answer) and the end (the conclusion)
    are what is read; the middle of a reply that long is reasoning."""
    middle = "The findings are discussed at length. " * 4000
    assert extract(middle + "\n\nThe answer is (D).").letter == "D"
    assert extract("Answer: (B)\n\nQuestion: next one?\n" + middle + "Answer: (E)").letter == "B"


def test_cjk_letter_boundaries() -> None:
    """``\\b`` does not separate a Latin letter from a CJK character: these must still read (or not)."""
    assert extract("所以答案是C。").letter == "C"
    assert extract("答案：B选项").letter == "B"
    assert extract("この患者の診断は、心筋梗塞 (B) です。").letter == "B"
    assert extract("答案是不确定的。").letter is None


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_50kb_input_finishes(name: str) -> None:
    text = PATHOLOGICAL[name]
    assert len(text) >= 45_000
    start = time.perf_counter()
    got = extract(text, "ABCDE", {"A": "Aspirin", "E": "Percutaneous coronary intervention"})
    assert time.perf_counter() - start < 3.0, "super-linear matching"
    assert isinstance(got, Extraction)
    if name == "long_realistic_cot":
        assert got.letter == "E"
