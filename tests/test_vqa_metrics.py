"""Tests for medxpert_ext.metrics.vqa: hand-computed values for every function, plus cross-checks against
independent re-implementations of the published scripts (LLaVA-Med's recall, NLTK's tokenizer, sacreBLEU)."""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict

import pytest

from medxpert_ext.metrics.vqa import (
    bleu,
    closed_answer,
    closed_correct,
    corpus_bleu,
    exact_match,
    normalize_answer,
    score_closed,
    score_open,
    sentence_bleu,
    strip_to_answer,
    token_f1,
    token_recall,
)

# ------------------------------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Left Lung", "left lung"),  # case
        ("  left   lung \n", "left lung"),  # whitespace
        ("left lung.", "left lung"),  # trailing period
        ("Yes.", "yes"),
        ("left lung!?", "left lung"),  # punctuation
        ("The left lung", "left lung"),  # articles
        ("a mass in an organ", "mass in organ"),
        ("two", "2"),  # number words
        ("Two nodules", "2 nodules"),
        ("ten", "10"),
        ("fifteen", "15"),  # beyond VQA-v2's "ten"
        ("twenty", "20"),
        ("none", "0"),  # kept from VQA-v2
        ("3.5 cm", "3.5 cm"),  # decimal point survives
        ("1,000", "1000"),  # digit-comma-digit: punctuation deleted, not spaced
        ("x-ray", "x ray"),  # no neighbouring space: replaced by a space
        ("left , right", "left right"),  # next to a space: deleted
        ("**No**", "no"),  # markdown
        ("Answer: yes", "answer yes"),
        ("isnt", "isn't"),  # VQA-v2 contractions
        ("It’s", "it's"),  # curly apostrophe
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_normalize_answer_is_idempotent() -> None:
    for text in ["The Left-Lung, 3.5 cm.", "Two (2) nodules; none!", "x-ray/ct", "**Yes**", "isnt it"]:
        once = normalize_answer(text)
        assert normalize_answer(once) == once


# ---------------------------------------------------------------------------------------- strip_to_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: pneumonia", "pneumonia"),
        ("The answer is pneumonia.", "pneumonia"),
        ("the final answer is: left lung", "left lung"),
        ("**Answer:** Yes", "Yes"),
        ("**Answer**: No.", "No"),
        ("Pneumonia.", "Pneumonia"),
        ("**Pneumonia**.", "Pneumonia"),
        ('"left lung"', "left lung"),
        ("3.5", "3.5"),
        # conservative: nothing else is touched
        ("Answers vary.", "Answers vary"),
        ("The answer isn't clear", "The answer isn't clear"),
        ("I think the answer is pneumonia", "I think the answer is pneumonia"),
        ("etc...", "etc..."),
    ],
)
def test_strip_to_answer(text: str, expected: str) -> None:
    assert strip_to_answer(text) == expected


# ------------------------------------------------------------------------------------------------ closed


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Yes.", "yes"),
        ("yes", "yes"),
        ("YES", "yes"),
        ("yes, there is a fracture", "yes"),
        ("No, there is no fracture", "no"),
        ("**No.**", "no"),
        ("**Yes**, the lesion is malignant.", "yes"),
        ("Yes - small effusion", "yes"),
        ("Yes, no fracture is seen.", "yes"),  # the leading word commits
        ("The answer is no.", "no"),
        ("Answer: Yes", "yes"),
        ("There is no evidence of a fracture.", "no"),  # first committing sentence
        ("The image shows a chest X-ray. There is no fracture.", "no"),
        ("I would say yes.", "yes"),
        ("It is not clear", None),  # neither word
        ("It is unclear", None),
        ("Yes and no", None),  # hedged start
        ("yes/no", None),
        ("Yes or no.", None),
        ("I cannot say yes or no.", None),  # both words in the committing sentence
        ("It is unclear, there is no way to tell.", None),  # hedge in the committing sentence
        ("Not sure.", None),
        ("Nope", None),  # only the words yes/no commit
        ("Not present", None),
        ("The lung appears normal", None),  # "no" inside a word is not "no"
        ("A nodule is present", None),
        ("", None),
    ],
)
def test_closed_answer(reply: str, expected: str | None) -> None:
    assert closed_answer(reply) == expected


@pytest.mark.parametrize(
    ("reply", "gold", "expected"),
    [
        ("yes", "Yes", 1.0),  # gold case
        ("Yes.", "yes", 1.0),
        ("No, there is no fracture", "no", 1.0),  # a harness comparing raw strings would score this 0
        ("No, there is no fracture", "No.", 1.0),
        ("No, there is no fracture", "yes", 0.0),
        ("**No.**", "no", 1.0),
        ("Yes and no", "yes", 0.0),  # unreadable counts as wrong...
        ("Yes and no", "no", 0.0),  # ...whatever the gold (LLaVA-Med would give 1 for both)
        ("The lung appears normal", "no", 0.0),  # LLaVA-Med's substring test finds "no" in "normal"
    ],
)
def test_closed_correct(reply: str, gold: str, expected: float) -> None:
    assert closed_correct(reply, gold) == expected


def test_closed_gold_must_be_yes_or_no() -> None:
    with pytest.raises(ValueError, match="yes or no"):
        closed_correct("yes", "left lung")
    with pytest.raises(ValueError, match="yes or no"):
        score_closed("yes", "maybe")


def test_score_closed_reports_unreadable() -> None:
    assert score_closed("Yes.", "yes") == {"closed_acc": 1.0, "closed_unreadable": 0.0}
    assert score_closed("No.", "yes") == {"closed_acc": 0.0, "closed_unreadable": 0.0}
    assert score_closed("It is not clear", "yes") == {"closed_acc": 0.0, "closed_unreadable": 1.0}


# --------------------------------------------------------------------------------------------------- open


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("the left lower lung", "left lung", 1.0),
        ("kidney", "right kidney", 0.5),
        ("Right Kidney.", "right kidney", 1.0),
        ("there are two nodules", "2", 1.0),  # number words
        ("liver", "right kidney", 0.0),
        ("", "left lung", 0.0),
        ("left lung", "", 0.0),
        # LLaVA-Med counts matched words as often as they occur in the reply: tp = 2 (lung x2), fn = 1 (left)
        ("lung lung", "left lung", 2 / 3),
    ],
)
def test_token_recall(pred: str, gold: str, expected: float) -> None:
    assert token_recall(pred, gold) == pytest.approx(expected)


def test_token_recall_textbook_counting() -> None:
    assert token_recall("lung lung", "left lung", llava_med_counting=False) == 0.5
    assert token_recall("the left lower lung", "left lung", llava_med_counting=False) == 1.0
    assert token_recall("kidney", "right kidney kidney", llava_med_counting=False) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("left lower lung", "left lung", 0.8),  # P = 2/3, R = 1
        ("kidney", "right kidney", 2 / 3),  # P = 1, R = 1/2
        ("The left lung.", "left lung", 1.0),
        ("lung lung", "left lung", 0.5),  # clipped: 1 common token, P = 1/2, R = 1/2
        ("liver", "kidney", 0.0),
        ("", "", 1.0),
        ("", "kidney", 0.0),
    ],
)
def test_token_f1(pred: str, gold: str, expected: float) -> None:
    assert token_f1(pred, gold) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("The Left Lung.", "left lung", 1.0),
        ("two", "2", 1.0),
        ("left lower lung", "left lung", 0.0),
        ("Pulmonary embolus", ["pulmonary embolism", "pulmonary embolus"], 1.0),  # any reference
        ("PE", ["pulmonary embolism", "pulmonary embolus"], 0.0),
    ],
)
def test_exact_match(pred: str, gold: str | list[str], expected: float) -> None:
    assert exact_match(pred, gold) == expected


def test_score_open() -> None:
    assert score_open("The answer is left lung.", "left lung") == {"recall": 1.0, "f1": 1.0, "exact_match": 1.0}
    scores = score_open("The left lower lung", "left lung")
    assert scores == {"recall": 1.0, "f1": pytest.approx(0.8), "exact_match": 0.0}


# -------------------------------------------------------------- cross-check against LLaVA-Med's algorithm


def _llava_med_recall(prediction: str, gold: str) -> float:
    """Independent re-implementation of LLaVA-Med's open recall (run_eval_batch.py -> calculate_f1score),
    written from its algorithm: lowercase, normalize_word (twice), whitespace split into count dicts."""
    punct = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
    number_words = "none zero one two three four five six seven eight nine ten".split()
    numbers = dict(zip(number_words, "0 0 1 2 3 4 5 6 7 8 9 10".split()))

    def normalize_word(token: str) -> str:
        out = token
        for p in punct:
            if p + " " in token or " " + p in token or re.search(r"(\d)(\,)(\d)", token):
                out = out.replace(p, "")
            else:
                out = out.replace(p, " ")
        out = re.sub(r"(?!<=\d)(\.)(?!\d)", "", out, count=32)  # re.UNICODE == 32 passed as count
        words = [numbers.get(w, w) for w in out.lower().split()]
        return " ".join(w for w in words if w not in ("a", "an", "the"))  # (contractions: none in our inputs)

    def counts(text: str) -> dict[str, int]:
        words: dict[str, int] = defaultdict(int)
        for w in text.lower().strip().split():
            words[w] += 1
        return words

    cand = counts(normalize_word(normalize_word(prediction.lower())))
    ref = counts(normalize_word(normalize_word(gold.lower())))
    tp = fn = 0
    for word in set(cand) | set(ref):
        if word in cand and word in ref:
            tp += cand[word]
        elif word in ref:
            fn += ref[word]
    if not cand or not ref or tp == 0:
        return 0.0
    return tp / (tp + fn)


def test_token_recall_matches_llava_med_algorithm_on_random_replies() -> None:
    rng = random.Random(7)
    vocab = ["left", "right", "lung", "kidney", "the", "a", "lower", "lobe", "mass", "two", "3", "3.5", "x-ray",
             "ct", "(", ")", ",", ".", "-", "1,000", "none", "is", "there", "of", "?", "!", "/", "lung."]  # fmt: skip
    for _ in range(2000):
        pred = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
        gold = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 4)))
        assert token_recall(pred, gold) == pytest.approx(_llava_med_recall(pred, gold)), (pred, gold)


# --------------------------------------------------------------------------------------------------- BLEU


def test_sentence_bleu_hand_computed() -> None:
    # stems: pulmonary -> pulmonari, embolism -> embol, acute -> acut, appendicitis -> append
    # exact two-word answer: p1 = p2 = 1, no trigram exists -> only p1, p2 count -> 1.0
    assert sentence_bleu("Pulmonary embolism", "pulmonary embolism") == pytest.approx(1.0)
    # [acut, append] vs [append]: p1 = 1/2, p2 = 0 -> 0.5 ** 0.25; c = 2 > r = 1 -> BP = 1
    assert sentence_bleu("acute appendicitis", "appendicitis") == pytest.approx(0.5**0.25)
    # [append] vs [acut, append]: p1 = 1; BP = exp(1 - 2/1)
    assert sentence_bleu("appendicitis", "acute appendicitis") == pytest.approx(math.exp(-1))
    # [larg mass left lower lobe surround edema] vs [larg mass left lower lobe edema]:
    # p1 = 6/7, p2 = 4/6, p3 = 3/5, p4 = 2/4, BP = 1 (c = 7 > r = 6)
    value = sentence_bleu("Large mass, left lower lobe, surrounding edema.", "large mass left lower lobe edema")
    assert value == pytest.approx((6 / 7 * 4 / 6 * 3 / 5 * 2 / 4) ** 0.25)
    # stopwords go first (the official evaluator drops NLTK stopwords, "no" included)
    assert sentence_bleu("There is no fracture", "fracture") == pytest.approx(1.0)
    # two answers that are all stopwords are both empty -> 1 (official rule); one empty -> 0
    assert sentence_bleu("the", "a") == 1.0
    assert sentence_bleu("", "fracture") == 0.0
    assert sentence_bleu("liver", "kidney") == 0.0
    # several reference answers: the best one counts
    assert sentence_bleu("appendicitis", ["acute appendicitis", "appendicitis"]) == pytest.approx(1.0)


def test_sentence_bleu_agrees_with_nltk_when_every_order_matches() -> None:
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    hyp = ["larg", "mass", "left", "lower", "lobe", "surround", "edema"]
    ref = ["larg", "mass", "left", "lower", "lobe", "edema"]
    expected = nltk_bleu.sentence_bleu([ref], hyp, smoothing_function=nltk_bleu.SmoothingFunction().method0)
    assert sentence_bleu(" ".join(hyp), " ".join(ref)) == pytest.approx(expected)
    # ...and documents the one difference: NLTK >= 3.3 scores an exact two-word answer ~1e-154, not 1.0
    with pytest.warns(UserWarning):
        modern = nltk_bleu.sentence_bleu([["pulmonari", "embol"]], ["pulmonari", "embol"])
    assert modern < 1e-100


def test_corpus_bleu_is_the_mean_of_sentence_bleu() -> None:
    preds = ["Pulmonary embolism", "appendicitis", "acute appendicitis"]
    golds: list[str | list[str]] = [
        "pulmonary embolism",
        "acute appendicitis",
        ["appendicitis", "acute appendicitis"],
    ]
    assert bleu(preds, golds) == pytest.approx((1.0 + math.exp(-1) + 1.0) / 3)


def test_bleu_rejects_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 golds"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        bleu([], [])


def test_mt_corpus_bleu_matches_a_direct_sacrebleu_call() -> None:
    import sacrebleu

    preds = ["there is a large mass in the left lower lobe", "the heart is enlarged with pulmonary edema"]
    refs = ["a large mass is seen in the left lower lobe", "the heart is enlarged and there is pulmonary edema"]
    direct = sacrebleu.corpus_bleu(preds, [refs], lowercase=True).score / 100
    assert corpus_bleu(preds, refs) == pytest.approx(direct)
    assert 0.0 < direct < 1.0
    # variable numbers of references are padded, not dropped
    multi = corpus_bleu(preds, [[refs[0], preds[0]], refs[1]])
    assert multi == pytest.approx(sacrebleu.corpus_bleu(preds, [refs, [preds[0], None]], lowercase=True).score / 100)


def test_bleu_fast_tokenizer_path_equals_nltk() -> None:
    tokenize_module = pytest.importorskip("nltk.tokenize")
    from medxpert_ext.metrics import vqa as vqa_metrics

    tokenizer = tokenize_module.NLTKWordTokenizer()
    rng = random.Random(3)
    vocab = ["cannot", "gonna", "lung", "left", "3", "35", "wanna", "mass", "lobe", "x", "ray", "don", "t", "s"]
    for _ in range(500):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
        words = [w for w in tokenizer.tokenize(text) if w not in vqa_metrics._STOPWORDS]
        stem = vqa_metrics._nltk()[1]
        assert vqa_metrics._bleu_tokens(text) == " ".join(stem(w) for w in words), text


def _nltk_325_sentence_bleu(hyp: list[str], ref: list[str]) -> float:
    """Independent re-implementation of NLTK <= 3.2.5 sentence_bleu with method0 (no sacreBLEU): uniform 1/4
    weights over the orders before the first one with no match; BP = 1 if c > r, 0 if c == 0, else e^(1-r/c)."""
    log_sum = 0.0
    for n in range(1, 5):
        hyp_ngrams = Counter(tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1))
        ref_ngrams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
        matched = sum((hyp_ngrams & ref_ngrams).values())
        if matched == 0:
            if n == 1:
                return 0.0
            break
        log_sum += 0.25 * math.log(matched / max(1, sum(hyp_ngrams.values())))
    c, r = len(hyp), len(ref)
    return (1.0 if c > r else math.exp(1 - r / c)) * math.exp(log_sum)


def test_sentence_bleu_matches_nltk_325_formula_on_random_token_lists() -> None:
    rng = random.Random(11)
    vocab = ["larg", "mass", "left", "lower", "lobe", "edema", "append", "acut", "embol", "lung"]
    for _ in range(1000):
        hyp = [rng.choice(vocab) for _ in range(rng.randint(1, 9))]
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 9))]
        expected = _nltk_325_sentence_bleu(hyp, ref)
        assert sentence_bleu(" ".join(hyp), " ".join(ref)) == pytest.approx(expected), (hyp, ref)


def test_strip_to_answer_does_not_unwrap_two_bold_spans() -> None:
    assert strip_to_answer("**left** and **right**") == "**left** and **right**"


def test_sentence_bleu_scores_the_answer_not_its_framing() -> None:
    assert sentence_bleu("The answer is pulmonary embolism.", "pulmonary embolism") == pytest.approx(1.0)
    assert sentence_bleu("**Answer:** Pulmonary embolism", ["pulmonary embolus", "pulmonary embolism"]) == 1.0
