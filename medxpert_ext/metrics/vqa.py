"""Scores for medical VQA (VQA-RAD, SLAKE-en, PathVQA, VQA-Med-2021, Quilt-VQA), matched to what papers report.

PMC-VQA and OmniMedVQA are multiple choice and use :mod:`medxpert_ext.extract`, not this module.

Which number is which (copy this table into the README)
=======================================================

=============  ==============  =================  =================================================================
Dataset        Questions       Our metric key     What published papers report under that name
=============  ==============  =================  =================================================================
VQA-RAD        closed (yes/no) ``closed_acc``     LLaVA-Med "Closed": accuracy on yes/no questions
VQA-RAD        open            ``recall``         LLaVA-Med "Open": recall of gold tokens in the reply
SLAKE (en)     closed / open   ``closed_acc`` /   LLaVA-Med "Closed" / "Open" (same definitions)
                               ``recall``
PathVQA        closed / open   ``closed_acc`` /   LLaVA-Med "Closed" / "Open" (same definitions)
                               ``recall``
Quilt-VQA      closed / open   ``closed_acc`` /   Quilt-LLaVA "Closed" / "Open"; its ``quilt_eval.py`` reuses
                               ``recall``         LLaVA-Med's normalisation and recall code unchanged
VQA-Med-2021   open (500       ``exact_match`` /  ImageCLEF "Accuracy" / "BLEU" (both on a 0-1 scale, e.g. the
               abnormality)    ``bleu``           2021 winner's 0.382 / 0.416)
=============  ==============  =================  =================================================================

``f1`` (SQuAD token F1) is also reported for open questions; Med-PaLM M and Med-Gemini report a "token F1" on
VQA-RAD/SLAKE/PathVQA, which is the same kind of number, but their normalisation is unpublished, so compare with
care. ``closed_unreadable`` (replies that commit to neither yes nor no) has no published counterpart: it is
reported so that a formatting problem is never mistaken for a knowledge problem.

Sources and conventions
=======================

Normalisation (:func:`normalize_answer`) is the VQA-v2 answer normalisation (Antol et al. 2015; the official
``vqaEval.py``: ``processPunctuation`` then ``processDigitArticle``), which LLaVA-Med
(``llava/eval/eval_metrics/glossary.py: normalize_word``), Quilt-LLaVA (``llava/eval/quilt_utils.py``) and the
VQA-Med-2021 evaluator (``VQA-Med-2021--VQA--Evaluator.py: VQAEval``) all copy:

1. for each of ``; / [ ] " { } ( ) = + \\ _ - > < @ ` , ? !``: delete it if the text has it next to a space
   (or the text contains a digit-comma-digit such as "1,000"), otherwise replace it by a space
   ("x-ray" -> "x ray", "1,000" -> "1000", "left , right" -> "left  right");
2. delete every "." not followed by a digit ("3.5" keeps its point, "lung." loses it);
3. lowercase, split on whitespace, map number words to digits, drop the articles a/an/the, and expand
   apostrophe-less contractions ("isnt" -> "isn't").

Our deliberate differences, each of which only ever makes two spellings of the same answer agree:
number words go up to "twenty" (VQA-v2 stops at "ten"; "none" -> "0" is kept from VQA-v2); the markup and
typography ``* # : | ~ ^ “ ” « » – — …`` are treated like the VQA-v2 punctuation (so "**No**" and "No"
agree) and curly apostrophes become straight ones; and step 2 removes every such period (the original
passes ``re.UNICODE`` as ``re.sub``'s *count* argument, so it stops after 32 periods).

Closed questions (:func:`closed_answer`) -- our rule:

* A reply that *starts* with "yes"/"no" (after :func:`strip_to_answer` and markdown) commits to that word,
  whatever follows: "No, there is no fracture" -> no; "Yes - small effusion" -> yes; "Yes, no fracture is
  seen" -> yes. A hedged start ("Yes and no.", "yes/no", "No, yes") commits to nothing.
* Otherwise the *first sentence that mentions* "yes" or "no" as a whole word decides: exactly one of the two
  words commits to it ("There is no evidence of a fracture." -> no; "I would say yes." -> yes); both words,
  or a hedge such as "unclear"/"cannot"/"not sure" in that sentence, commit to nothing.
* Nothing else is interpreted: negations ("not", "absent"), "normal", "true/correct" commit to nothing, and a
  reply that never says yes/no is unreadable. Unreadable replies count as wrong in ``closed_acc`` and are
  counted in ``closed_unreadable``.

How this relates to the published scripts: LLaVA-Med's ``run_eval_batch.py`` scores a closed question 1 when
the normalised gold is a *substring* of the normalised reply (``gt_value in pred_value``), so gold "no" is
"found" in "not", "normal", "nodule" or "know", and a reply mentioning both words is right whatever the gold.
Its single-file ``run_eval.py`` additionally never appends a 0 for a reply that mentions yes/no but misses the gold,
dropping wrong answers from the denominator. Quilt-LLaVA's ``quilt_eval.py`` checks whole tokens instead
(``gt_value in pred_value.split()``), so a reply containing both words is still right for either gold.
On clean replies ("Yes", "no.") all of these agree with ours; on "There is no evidence of X" ours and
LLaVA-Med's both read "no"; they differ where the reply contains both words or "no" inside another word, where
ours is stricter and never gives credit to a reply that says both.

Open questions:

* :func:`token_recall` reproduces LLaVA-Med's reported "Open" number exactly: the ``recall`` returned by
  ``calculate_f1score`` in ``llava/eval/eval_metrics/evaluate_metrics.py`` (lowercase, ``normalize_word``,
  whitespace split). Its counting is unusual: matched words are counted *as often as they occur in the reply*
  (``tp += candidate_words[word]``) and missed gold words as often as they occur in the gold, then
  ``tp / (tp + fn)``; so gold "left lung" vs reply "lung lung" gives 2/3, where textbook recall gives 1/2. The
  two agree whenever no matched word repeats in the reply. ``llava_med_counting=False`` gives the textbook value.
* :func:`token_f1` is SQuAD's token F1 (clipped counts). LLaVA-Med's own "f1 score" uses the counting above;
  we do not reproduce that one because no paper reports it.
* :func:`exact_match` is normalised string equality against any reference: the VQA-Med-2021 evaluator's
  accuracy (its ``VQAEval`` keeps VQA-v2's normalisation and counts one matching reference as 1). Note that
  LLaVA-Med's "exact match score" is not an exact match (it is #gold-word-types found / #reply words).

BLEU (VQA-Med-2021, ``AIcrowdEvaluator.compute_bleu``): for each question, lowercase both answers, delete
``string.punctuation``, ``nltk.word_tokenize``, drop NLTK's English stopwords, Snowball-stem, then
``nltk.translate.bleu_score.sentence_bleu([gold], pred, smoothing_function=SmoothingFunction().method0)``
(uniform 4-gram weights); with several reference answers take the best; two empty answers score 1; the reported
BLEU is the plain mean over questions. :func:`sentence_bleu` and :func:`bleu` reproduce this on
:func:`strip_to_answer` of the reply (the official one scored submitted short answers), with n-gram
statistics from sacreBLEU (``tokenize="none"`` on the pre-processed tokens) and one documented choice: how
``method0`` treats an n-gram order with no match. NLTK <= 3.2.5 dropped that order and every higher one
(weights stay 1/4, so an exact two-word answer scores 1.0); NLTK >= 3.3 substitutes ``sys.float_info.min``, so
any answer shorter than four content words scores ~1e-77 (verified against the 3.2.5, 3.3 and 3.4 sources).
The published 2021 BLEU is *above* the published accuracy (1st place SYSU-HCP 0.382 / 0.416, 3rd place
BBN-Orchestra 0.348 / 0.391) although most reference answers are one to three words, which only the older
behaviour allows, so we reproduce the older one (checked to 1e-16 against NLTK 3.2.5's ``sentence_bleu``). Tokenisation is NLTK's ``NLTKWordTokenizer``
(what ``word_tokenize`` applies once punctuation is gone; the Punkt data is then irrelevant), stemming is
NLTK's Snowball stemmer, and the stopword list is NLTK's 179-word English list as shipped in 2021, embedded
below so the score cannot drift with the ``nltk_data`` installed. :func:`corpus_bleu` is plain sacreBLEU corpus
BLEU for users who want the MT-style number; it is not what VQA-Med reports (and is ~0 on a corpus of
short answers, since few of them contain a 4-gram).

All regexes are compiled at import, per-text work is cached, and sacrebleu/nltk are imported on first BLEU use.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "bleu",
    "closed_answer",
    "closed_correct",
    "corpus_bleu",
    "exact_match",
    "normalize_answer",
    "score_closed",
    "score_open",
    "sentence_bleu",
    "strip_to_answer",
    "token_f1",
    "token_recall",
]

YesNo = Literal["yes", "no"]
Golds = str | Sequence[str]

# ------------------------------------------------------------------------------------------ normalisation

# VQA-v2 processPunctuation's list, in its order, then our additions (markup and typography).
_VQA_PUNCT = tuple(';/[]"{}()=+\\_-><@`,?!')
_EXTRA_PUNCT = ("*", "#", ":", "|", "~", "^", "“", "”", "«", "»", "–", "—", "…")
_PUNCT = _VQA_PUNCT + _EXTRA_PUNCT
_CURLY = str.maketrans({"’": "'", "‘": "'"})
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
# VQA-v2's pattern verbatim: "(?!<=\d)" is a typo for "(?<!\d)" and never fires, so this deletes every "." that
# is not followed by a digit -- which is what every harness that copies it has actually been doing.
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")

_NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10",
    # VQA-v2 stops at ten; the rest are ours.
    "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16",
    "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
}  # fmt: skip
_ARTICLES = frozenset({"a", "an", "the"})


def _contractions() -> dict[str, str]:
    """VQA-v2's contraction table (apostrophe-less spelling -> canonical), rebuilt from its regular groups.

    Its capitalised keys ("Im", "Ive", ...) can never match lowercased text and are left out; its odd entries
    (``somebody'd -> somebodyd``, ``ow's'at`` variants) are kept so that results match the original.
    """
    table: dict[str, str] = {}
    suffixes = {
        "n't": "ai are ca could did does do had has have is might must need ought sha should was were wo would",
        "'ve": "could might must should would we they you what who where not",
        "'d": "he it they you who someone something where there how",
        "'ll": "it they you what who why how someone something somebody",
        "'s": "he how that there what when where who why someone somebody",
        "'re": "they you what why there",
    }
    for suffix, stems in suffixes.items():
        for stem in stems.split():
            table[stem + suffix.replace("'", "")] = stem + suffix
    for base in ("could", "had", "might", "should", "would"):  # couldnt've / couldn'tve -> couldn't've
        table[base + "nt've"] = table[base + "n'tve"] = base + "n't've"
    for base in ("he", "it", "she", "somebody", "someone", "something", "they", "there", "we", "who", "you"):
        table[base + "d've"] = table[base + "'dve"] = base + "'d've"  # hed've / he'dve -> he'd've
    table.update({
        "aint": "ain't", "shant": "shan't", "wont": "won't", "cant": "can't",
        "let's": "let's", "she's": "she's", "somebody'd": "somebodyd", "maam": "ma'am", "oclock": "o'clock",
        "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "twas": "'twas",
        "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
        "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    })  # fmt: skip
    return table


_CONTRACTIONS = _contractions()


@lru_cache(maxsize=1 << 16)
def _norm_tokens(text: str) -> tuple[str, ...]:
    """The normalised tokens of ``text`` (see :func:`normalize_answer`); cached because golds repeat a lot."""
    text = text.lower().translate(_CURLY)
    out = text
    drop_all = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        if p in out:  # replacing one mark never creates another, so this equals "p in text"
            out = out.replace(p, "" if drop_all or (p + " ") in text or (" " + p) in text else " ")
    out = _PERIOD_STRIP.sub("", out)
    tokens = []
    for word in out.split():
        word = _NUMBER_WORDS.get(word, word)
        if word not in _ARTICLES:
            tokens.append(_CONTRACTIONS.get(word, word))
    return tuple(tokens)


def normalize_answer(text: str) -> str:
    """VQA-v2 answer normalisation (lowercase, punctuation, articles, number words), extended as documented.

    "The Left Lung." -> "left lung"; "Two nodules" -> "2 nodules"; "X-ray" -> "x ray"; "1,000" -> "1000";
    "3.5 cm" -> "3.5 cm"; "**No**" -> "no". Idempotent.
    """
    return " ".join(_norm_tokens(text))


# ------------------------------------------------------------------------------------- answer extraction

_ANSWER_PREFIX = re.compile(
    r"^\s*(?:\*\*|__)?\s*(?:the\s+)?(?:final\s+|correct\s+|short\s+)?answer\s*(?:\*\*|__)?"
    r"\s*(?::|is(?![\w'’]):?)\s*(?:\*\*|__)?\s*",
    re.IGNORECASE,
)
_WRAPPED = re.compile(r"^(\*\*|__|\*|`|\"|'|“)(.+?)(\*\*|__|\*|`|\"|'|”)$", re.DOTALL)
_WRAP_PAIRS = {("**", "**"), ("__", "__"), ("*", "*"), ("`", "`"), ('"', '"'), ("'", "'"), ("“", "”")}


def _unwrap(text: str) -> str:
    match = _WRAPPED.match(text)
    if match and (match.group(1), match.group(3)) in _WRAP_PAIRS:
        inner = match.group(2)
        if match.group(1) not in inner and match.group(3) not in inner:  # "**a** and **b**" stays as it is
            return inner.strip()
    return text


def _drop_period(text: str) -> str:
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("..") else text


def strip_to_answer(text: str) -> str:
    """Drop a leading "Answer:" / "The answer is", a trailing period and wrapping bold/quotes; nothing else.

    Conservative on purpose: only these framings are removed, only at the edges, so "Answers vary" or a reply
    that merely mentions an answer mid-sentence is returned unchanged (apart from surrounding whitespace).
    "The answer is pneumonia." -> "pneumonia"; "**Answer:** Yes" -> "Yes"; "**Pneumonia**." -> "Pneumonia".
    """
    text = _ANSWER_PREFIX.sub("", text.strip(), count=1).strip()
    text = _drop_period(text)
    text = _unwrap(text)
    return _drop_period(text)


_MARKUP = re.compile(r"[*_`#>\"“”]")
_HEDGED_START = re.compile(r"^\W*(?:yes\W+(?:(?:and|or)\W+)?no|no\W+(?:(?:and|or)\W+)?yes)\b\s*(?:$|[^\w\s])")
_LEADING = re.compile(r"^\W*(yes|no)\b")
_SENTENCE_END = re.compile(r"[.!?;\n]+")
_YES = re.compile(r"\byes\b")
_NO = re.compile(r"\bno\b")
_HEDGE = re.compile(
    r"\b(?:unclear|uncertain|unsure|unable|impossible|cannot|can't|can\s+not|difficult|hard\s+to"
    r"|not\s+(?:sure|clear|certain|possible)|no\s+way)\b"
)


def closed_answer(text: str) -> YesNo | None:
    """The yes/no a reply commits to, or None (see the module docstring for the rule and its sources).

    "Yes." -> "yes"; "No, there is no fracture" -> "no"; "**No.**" -> "no"; "There is no evidence of X" -> "no";
    "Yes and no" -> None; "It is unclear" -> None.
    """
    low = _MARKUP.sub(" ", strip_to_answer(text).lower().translate(_CURLY))
    if _HEDGED_START.match(low):
        return None
    lead = _LEADING.match(low)
    if lead:
        return "yes" if lead.group(1) == "yes" else "no"
    for sentence in _SENTENCE_END.split(low):
        has_yes, has_no = _YES.search(sentence) is not None, _NO.search(sentence) is not None
        if not (has_yes or has_no):
            continue
        if (has_yes and has_no) or _HEDGE.search(sentence):
            return None
        return "yes" if has_yes else "no"
    return None


def _closed_gold(gold: str) -> YesNo:
    label = normalize_answer(gold)
    if label not in ("yes", "no"):
        raise ValueError(f"a closed question's gold must be yes or no, got {gold!r}")
    return "yes" if label == "yes" else "no"


def closed_correct(prediction: str, gold: str) -> float:
    """1.0 when the reply commits to the gold yes/no (gold in any case/punctuation: "Yes", "no."), else 0.0."""
    return 1.0 if closed_answer(prediction) == _closed_gold(gold) else 0.0


# ------------------------------------------------------------------------------------- open-answer scores


def token_recall(prediction: str, gold: str, *, llava_med_counting: bool = True) -> float:
    """LLaVA-Med's open-question recall: the share of gold tokens found among the reply's tokens.

    Gold "left lung" vs "the left lower lung" -> 1.0; gold "right kidney" vs "kidney" -> 0.5. With the default
    ``llava_med_counting=True`` matched words count as often as they occur in the *reply*, exactly as
    LLaVA-Med's ``calculate_f1score`` does (gold "left lung" vs "lung lung" -> 2/3); ``False`` gives textbook
    clipped recall (-> 1/2). An empty reply or gold scores 0, as in LLaVA-Med.
    """
    pred, ref = Counter(_norm_tokens(prediction)), Counter(_norm_tokens(gold))
    if not pred or not ref:
        return 0.0
    if llava_med_counting:
        tp = sum(count for word, count in pred.items() if word in ref)
        fn = sum(count for word, count in ref.items() if word not in pred)
        return tp / (tp + fn) if tp else 0.0
    return sum(min(count, pred[word]) for word, count in ref.items()) / sum(ref.values())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 over normalised tokens (clipped counts); 1.0 if both are empty, 0.0 if one is.

    "left lower lung" vs gold "left lung": precision 2/3, recall 1 -> F1 0.8.
    """
    pred, ref = _norm_tokens(prediction), _norm_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _alternatives(golds: Golds) -> Sequence[str]:
    return (golds,) if isinstance(golds, str) else golds


def exact_match(prediction: str, gold: Golds) -> float:
    """1.0 when the normalised reply equals the normalised gold (or any of several reference answers)."""
    pred = _norm_tokens(prediction)
    return 1.0 if any(pred == _norm_tokens(ref) for ref in _alternatives(gold)) else 0.0


def score_open(prediction: str, gold: str) -> dict[str, float]:
    """``recall`` on the full reply (exactly LLaVA-Med's); ``f1`` and ``exact_match`` on :func:`strip_to_answer`.

    Recall only counts gold words, so framing words cannot hurt it, and leaving the reply untouched keeps it
    identical to the published script; F1 and exact match would be penalised by "The answer is", so they see
    the answer only.
    """
    short = strip_to_answer(prediction)
    return {
        "recall": token_recall(prediction, gold),
        "f1": token_f1(short, gold),
        "exact_match": exact_match(short, gold),
    }


def score_closed(prediction: str, gold: str) -> dict[str, float]:
    """``closed_acc`` (1/0; a reply that commits to neither counts as wrong) and ``closed_unreadable`` (1/0)."""
    answer = closed_answer(prediction)
    return {"closed_acc": 1.0 if answer == _closed_gold(gold) else 0.0, "closed_unreadable": float(answer is None)}


# ------------------------------------------------------------------------------------------------- BLEU

# NLTK's English stopword list (179 words, nltk_data as of 2021), which the VQA-Med-2021 evaluator removes.
_STOPWORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
    his himself she she's her hers herself it it's its itself they them their theirs themselves what which who
    whom this that that'll these those am is are was were be been being have has had having do does did doing a
    an the and but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only own same so than too very s t
    can will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't
    doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't
    shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't""".split()
)
_DELETE_PUNCT = str.maketrans("", "", string.punctuation)
# On lowercase ASCII text without punctuation NLTKWordTokenizer is a whitespace split except for these words.
_PLAIN_TEXT = re.compile(r"[a-z0-9\s]*")
_TREEBANK_SPLITS = re.compile(r"\b(?:cannot|gimme|gonna|gotta|lemme|wanna)\b")


@lru_cache(maxsize=1)
def _nltk() -> tuple[Callable[[str], list[str]], Callable[[str], str]]:
    try:
        from nltk.stem.snowball import SnowballStemmer
        from nltk.tokenize import NLTKWordTokenizer
    except ImportError as exc:  # pragma: no cover - nltk comes with lm-eval (via rouge-score)
        raise ImportError("VQA-Med BLEU needs nltk (tokeniser and Snowball stemmer): pip install nltk") from exc
    return NLTKWordTokenizer().tokenize, lru_cache(maxsize=1 << 16)(SnowballStemmer("english").stem)


@lru_cache(maxsize=1 << 16)
def _bleu_tokens(text: str) -> str:
    """VQA-Med-2021's BLEU pre-processing, returned space-joined for sacreBLEU's ``tokenize="none"``."""
    tokenize, stem = _nltk()
    text = text.lower().translate(_DELETE_PUNCT)
    words = text.split() if _PLAIN_TEXT.fullmatch(text) and not _TREEBANK_SPLITS.search(text) else tokenize(text)
    return " ".join(stem(word) for word in words if word not in _STOPWORDS)


@lru_cache(maxsize=1)
def _sacrebleu_sentence() -> Callable[[str, list[str]], object]:
    from sacrebleu.metrics import BLEU

    # Only the n-gram statistics are used; effective_order just silences sacreBLEU's sentence-level warning.
    return BLEU(tokenize="none", smooth_method="none", effective_order=True).sentence_score


def _bleu_one(pred: str, ref: str) -> float:
    if not pred and not ref:
        return 1.0
    stats = _sacrebleu_sentence()(pred, [ref])
    counts, totals = stats.counts, stats.totals  # type: ignore[attr-defined]
    if counts[0] == 0:
        return 0.0
    log_sum = 0.0
    for matched, total in zip(counts, totals):
        if matched == 0:  # NLTK <= 3.2.5 method0: stop at the first order with no match (see module docstring)
            break
        log_sum += 0.25 * math.log(matched / max(1, total))
    sys_len, ref_len = stats.sys_len, stats.ref_len  # type: ignore[attr-defined]
    brevity = 1.0 if sys_len > ref_len else math.exp(1 - ref_len / sys_len)
    return brevity * math.exp(log_sum)


def sentence_bleu(prediction: str, gold: Golds) -> float:
    """One question's BLEU as the VQA-Med-2021 evaluator computes it (best over reference answers), in [0, 1].

    The reply first goes through :func:`strip_to_answer` (as in :func:`score_open`'s F1 and exact match), because
    the official evaluator scored submitted short answers and "The answer is" would otherwise cost BLEU.

    "acute appendicitis" vs gold "appendicitis": tokens [acut, append] vs [append]; p1 = 1/2, no bigram
    match, so only p1 counts: 0.5 ** 0.25 = 0.841 (brevity penalty 1).
    """
    pred = _bleu_tokens(strip_to_answer(prediction))
    return max(_bleu_one(pred, _bleu_tokens(ref)) for ref in _alternatives(gold))


def _check_corpus(predictions: Sequence[str], golds: Sequence[Golds]) -> None:
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} golds")
    if not predictions:
        raise ValueError("BLEU of an empty corpus is undefined")


def bleu(predictions: Sequence[str], golds: Sequence[Golds]) -> float:
    """VQA-Med-2021's reported BLEU: the mean of :func:`sentence_bleu` over questions, in [0, 1].

    Each gold may be one answer or a sequence of acceptable answers.
    """
    _check_corpus(predictions, golds)
    return sum(sentence_bleu(p, g) for p, g in zip(predictions, golds)) / len(predictions)


def corpus_bleu(predictions: Sequence[str], golds: Sequence[Golds]) -> float:
    """Standard sacreBLEU corpus BLEU (13a tokenisation, ``exp`` smoothing, lowercased) / 100, in [0, 1].

    Not a VQA-Med number: for users who want the MT-style corpus statistic. Variable numbers of reference
    answers are padded with ``None``, which sacreBLEU skips.
    """
    _check_corpus(predictions, golds)
    import sacrebleu

    refs = [list(_alternatives(g)) for g in golds]
    width = max(len(r) for r in refs)
    streams = [[r[i] if i < len(r) else None for r in refs] for i in range(width)]
    return sacrebleu.corpus_bleu(list(predictions), streams, lowercase=True).score / 100.0  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- per-sample, per doc
def references(doc: Mapping[str, Any]) -> list[str]:
    """Every accepted reference answer of a VQA doc."""
    return [str(a) for a in (doc.get("answers") or [doc["answer"]])]


def closed_scores(doc: Mapping[str, Any], answer: str | None) -> dict[str, float]:
    """Yes/no questions: ``closed_acc`` and ``closed_unreadable``; ``answer`` None = the reasoning never closed."""
    if answer is None:
        return {"closed_acc": 0.0, "closed_unreadable": 1.0}
    return score_closed(answer, doc["answer"])


def open_scores(doc: Mapping[str, Any], answer: str | None) -> dict[str, float]:
    """Open questions: recall / F1 / exact match, each the best over the doc's reference answers."""
    scores = [score_open(answer or "", gold) for gold in references(doc)]
    return {key: max(s[key] for s in scores) for key in scores[0]}
