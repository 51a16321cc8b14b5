"""Long-form answer metrics for MedLFQA, computed the way OLAPH computes them.

MedLFQA (Jeong et al. 2024, "OLAPH: Improving Factuality in Biomedical Long-form Question Answering",
arXiv 2405.12701; code and data in the GitHub repository ``dmis-lab/OLAPH``) gives every question a long
reference answer (``Free_form_answer``) and two lists of statements (``Must_have``, ``Nice_to_have``).
This module reproduces OLAPH's per-answer scores so that our numbers can be put next to the per-sample
scores OLAPH published for its own models (``alignment-handbook/predictions/pdata_*.jsonl``, field
``prediction_scores``).

Where each definition comes from
================================
Everything below was read in ``dmis-lab/OLAPH``, file ``pdata_collection.py`` (latest stored commit
59919b6b; an earlier commit 0a3cbfdf has the same metric functions), which scores every sampled answer in
``main()`` and writes ``prediction_scores``.  The environment it ran in is ``inference.yaml``:
rouge-score 0.1.2, bert-score 0.3.13, transformers 4.39.3, torch 2.0.1, nltk 3.8.1, bleurt-pytorch 0.0.1.
``main()`` strips each answer first (``sample = sample.strip()``) and compares it with
``inst['Free_form_answer']``.

ROUGE (``ROUGESCORE``)
    ``rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)``, called as
    ``scorer.score(pred, answer)``.  rouge-score's signature is ``score(target, prediction)``, so OLAPH
    passes the *model answer as the target*.  F1 is symmetric, so ``fmeasure`` does not depend on the
    order.  The stored ``rouge*_p``/``rouge*_r`` fields are swapped, though: OLAPH's "precision" is
    ``overlap / len(reference)`` and its "recall" is ``overlap / len(model answer)``.  The values are
    stored rounded to 4 decimals (``round(x, 4)``) on a 0-1 scale.  There is no other preprocessing.
    rouge-score's default tokenizer lowercases, turns every character outside ``[a-z0-9]`` into a
    separator and drops empty tokens.  So text with no ASCII letters or digits (Chinese, Cyrillic, ...)
    gets 0 on every ROUGE score, and "café" becomes "caf".  ``rougeL`` is the sentence-level LCS; newlines
    are ignored (this is not ``rougeLsum``).
    *Checked*: ``tests/test_lfqa_metrics.py`` reproduces all nine P/R/F1 values of 11 published OLAPH
    per-sample records (pdata_selfbiorag-7b_live_qa_sampling.jsonl) exactly.
    We call rouge-score itself (``RougeScorer.score``) with those settings.

BLEU: OLAPH computes no BLEU
    ``pdata_collection.py`` has no BLEU metric.  Its "semantic similarity" pair is BLEURT
    (function ``BLEURT``, model ``lucadiliello/BLEURT-20-D12``, input ``tokenizer([answer], [pred])``,
    stored as ``bleurt``) plus BERTScore; ``pred_to_preference.py`` ``eval_score`` sums
    ``100 * (bleurt + bert_score_f1)``.  So an abbreviation "BL" in OLAPH's tables most likely means
    BLEURT, not BLEU; we could not read the paper's tables to confirm.  BLEURT is not implemented here.  A later commit (comment "24.05.31 update - fluency") adds
    ``fluency = sentence_gleu([answer], sample)`` from NLTK.  Inside ``main()`` the name ``answer`` is
    not defined (it appears only in a commented-out docstring), so we could not tell what that code
    actually ran.  It is not reproduced.
    ``bleu_score`` is therefore *not an OLAPH metric*.  It reproduces the per-document BLEU of
    lm-evaluation-harness's ``olaph`` task (``lm_eval/tasks/olaph/utils.py``: ``evaluate.load("bleu")``
    on ``[prediction]`` vs ``[reference]``).  That is the TensorFlow-NMT BLEU with 13a tokenization, no
    lowercasing, max order 4, no smoothing and the usual brevity penalty, on a 0-1 scale.  We compute it
    with sacrebleu (``tokenize="13a", smooth_method="none", effective_order=False``), which has the same
    formula.  Differences: an empty prediction gives 0.0 here, where ``evaluate`` raises
    ZeroDivisionError.  lm-eval also sets answers shorter than 10 characters to NaN and adds 1e-5 to an
    exact 0.  We do neither.

BERTScore (``BERTSCORE``)
    ``bert_score.score([pred], [answer], lang='en')`` with bert-score 0.3.13 defaults: ``roberta-large``,
    layer 17, no idf, no baseline rescaling.  OLAPH stores the F1 as ``bert_score_f1``, rounded to 4
    decimals.  We recompute bert-score 0.3.13's algorithm directly on top of transformers, and do not call
    the ``bert_score`` package, for two reasons.  Under transformers 5.x, bert-score 0.3.13 (a) silently
    drops the ``add_prefix_space=True`` it passes to ``tokenizer.encode``, which changes the first
    RoBERTa token relative to OLAPH's transformers 4.39 run, and (b) crashes on an empty string
    (``build_inputs_with_special_tokens`` no longer exists).  Our implementation:

    * strips the text;
    * encodes RoBERTa/GPT-2 style tokenizers with a prefix space;
    * truncates to the tokenizer's ``model_max_length``, or to 512 when the tokenizer folder does not set
      one (transformers 4.39 had 512 built in for roberta-large);
    * takes the hidden states after layer 17;
    * matches every token greedily by cosine similarity against all reference tokens, ``<s>``/``</s>``
      included;
    * averages over the non-special tokens (bert-score gives ``<s>``/``</s>`` an idf weight of 0);
    * returns ``F = 2PR/(P+R)``, and F = 0 when either text is empty (bert-score's NaN -> 0).

    *Checked* against the real ``bert_score.score`` on tiny random models (the test is skipped when
    bert-score is not installed).  *Not checked*: values with the real roberta-large, whose weights
    cannot be downloaded here.

Hallucination and comprehensiveness (``HALLUCINATION``, ``COMPREHENSIVENESS``, ``use_gpt=False``)
    OLAPH's default, cheap path does **not** classify NLI labels.  It loads ``gsarti/biobert-nli``
    with ``AutoModel`` (a BioBERT *sentence encoder* trained on NLI data; the checkpoint has no
    classification head) and, for every statement, does the following:

    * encodes ``tokenizer([pred, statement], padding=True, truncation=True, max_length=512)``;
    * mean-pools the last hidden state over the attention mask (``mean_pooling``: sum of the masked
      token embeddings / ``clamp(mask sum, 1e-9)``);
    * computes ``cos = CosineSimilarity(dim=0)(emb_pred, emb_statement)``.

    The decision rule, per statement, comes from those two functions:

    * HALLUCINATION counts a statement of ``Must_have + Nice_to_have`` when ``cos < 0.5``;
    * COMPREHENSIVENESS counts a statement of ``Must_have`` when ``cos >= 0.5``.

    The scores:

    * ``hallucination = 100 * #(cos < 0.5 over must+nice) / len(must + nice)``.  An empty statement list
      gives 0 (``except ZeroDivisionError: return 0``).
    * ``comprehensiveness = 100 * #(cos >= 0.5 over must) / len(must)``.  An empty ``Must_have`` gives 0
      (``if len(must_have) == 0: return 0``).
    * Both are percentages (0-100), stored unrounded as ``hallucination`` and ``comprehensive``.

    So each statement gets exactly one of two labels.  ``NLIScorer.labels`` returns ``"entailment"``
    when ``cos >= 0.5`` and ``"contradiction"`` otherwise.  It **never returns "neutral"**, because OLAPH's
    similarity rule has no third outcome.  As a result, every Must_have statement that is not counted
    as comprehensive is counted as hallucinated.  The 11 published samples in our test fixture fit that
    structure: hallucinated must-have = must-have minus comprehensive must-have, with the remainder of
    the hallucinated count among the nice-to-have statements.
    With ``use_gpt=True`` OLAPH instead asks GPT-4 two separate few-shot questions per statement
    ("contradicts?" and "entails?", answer "True" found in the last 21 characters).  Judge labels
    ``supported``/``contradicted``/``not_mentioned`` fed to ``factuality_from_labels`` follow the same
    counting.  That path is not implemented here (it needs GPT-4).
    We encode the answer once and the statements in batches, not in pairs.  The results are the same,
    because padding is masked out of both attention and pooling.  The tests check this against OLAPH's
    pairwise procedure on a tiny model, to within 1e-5 (float noise).  OLAPH ran on GPU in fp32 and we
    run on CPU, so a statement whose cosine lies within ~1e-6 of 0.5 can get the other label.
    *Not checked*: that ``gsarti/biobert-nli``'s tokenizer files load identically under transformers 5.x
    and 4.39 (it is an old checkpoint; we could not download it here).  The paper's prose description
    of the factuality metrics could not be read either: only abstracts of arXiv 2405.12701 were
    reachable, so the code above is the only source for these definitions.

Scales: ROUGE, BLEU and BERTScore are returned on 0-1 (OLAPH's per-sample scale; its preference code
multiplies by 100 when it aggregates).  Hallucination and comprehensiveness are returned on 0-100,
like OLAPH.  We return unrounded floats.  Round to 4 decimals to compare with OLAPH's stored
ROUGE/BERTScore values.

Models are never downloaded at run time unless a caller passes ``allow_download=True``.  Point
``MEDXPERT_NLI_MODEL`` / ``MEDXPERT_BERTSCORE_MODEL`` (or ``model_path=``) at a local folder, or keep the
model in the Hugging Face cache.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ..errors import MetricUnavailable

__all__ = [
    "ENV_BERTSCORE_MODEL",
    "ENV_NLI_MODEL",
    "OLAPH_BERTSCORE_MODEL",
    "OLAPH_BERTSCORE_NUM_LAYERS",
    "OLAPH_NLI_MAX_LENGTH",
    "OLAPH_NLI_MODEL",
    "OLAPH_SIMILARITY_THRESHOLD",
    "MetricUnavailable",
    "NLIScorer",
    "bertscore",
    "bleu_score",
    "factuality_from_labels",
    "olaph_rouge_record",
    "rouge_scores",
]

OLAPH_NLI_MODEL = "gsarti/biobert-nli"
OLAPH_SIMILARITY_THRESHOLD = 0.5
OLAPH_NLI_MAX_LENGTH = 512
OLAPH_BERTSCORE_MODEL = "roberta-large"
OLAPH_BERTSCORE_NUM_LAYERS = 17
ENV_NLI_MODEL = "MEDXPERT_NLI_MODEL"
ENV_BERTSCORE_MODEL = "MEDXPERT_BERTSCORE_MODEL"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
_BERTSCORE_FALLBACK_MAX_LENGTH = 512  # transformers 4.x's built-in model_max_length for roberta-large


class _BadNumLayers(ValueError):
    """num_layers outside the model's range: a caller error, not an unavailable model."""


# --------------------------------------------------------------------------------------------------
# ROUGE (OLAPH: pdata_collection.py ROUGESCORE)
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _rouge_scorer():
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:  # pragma: no cover - rouge-score is a dependency of the pack
        raise MetricUnavailable("ROUGE needs the 'rouge-score' package: pip install rouge-score") from exc
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)  # OLAPH: use_stemmer=False


def _olaph_rouge_prf(prediction: str, reference: str) -> dict[str, tuple[float, float, float]]:
    """(precision, recall, f1) per ROUGE type for OLAPH's call ``scorer.score(pred, answer)``, i.e. rouge-score's
    target = model answer, prediction = reference answer."""
    scores = _rouge_scorer().score((prediction or "").strip(), reference or "")
    return {name: (s.precision, s.recall, s.fmeasure) for name, s in scores.items()}


def rouge_scores(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 (0-1) of a model answer against the reference answer, with OLAPH's settings.

    rouge-score 0.1.2 default tokenizer, no stemming, sentence-level ``rougeL``, answer stripped; same values as
    ``RougeScorer(["rouge1","rouge2","rougeL"], use_stemmer=False).score(prediction.strip(), reference)``.
    """
    return {name: prf[2] for name, prf in _olaph_rouge_prf(prediction, reference).items()}


def olaph_rouge_record(prediction: str, reference: str) -> dict[str, float]:
    """The nine ROUGE fields exactly as OLAPH stores them in ``prediction_scores`` (rounded to 4 decimals).

    Keys ``rouge1_p, rouge1_r, rouge1_f1, rouge2_*, rougel_*``; note OLAPH's ``_p`` is overlap/len(reference)
    and ``_r`` is overlap/len(model answer) (argument order of its ``scorer.score(pred, answer)`` call).
    """
    out: dict[str, float] = {}
    for name, (p, r, f) in _olaph_rouge_prf(prediction, reference).items():
        key = name.lower()
        out[f"{key}_p"], out[f"{key}_r"], out[f"{key}_f1"] = round(p, 4), round(r, 4), round(f, 4)
    return out


# --------------------------------------------------------------------------------------------------
# BLEU (not an OLAPH metric: lm-eval `olaph` task's per-document BLEU, HF evaluate "bleu")
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _bleu_metric():
    try:
        from sacrebleu.metrics import BLEU
    except ImportError as exc:  # pragma: no cover - sacrebleu is a core dependency of lm-eval
        raise MetricUnavailable("BLEU needs the 'sacrebleu' package: pip install sacrebleu") from exc
    return BLEU(tokenize="13a", lowercase=False, smooth_method="none", effective_order=False, max_ngram_order=4)


def bleu_score(prediction: str, reference: str) -> float:
    """Per-answer BLEU (0-1) of a model answer against the reference answer.

    OLAPH has no BLEU (see module docstring); this is the BLEU that lm-eval's ``olaph`` task reports per document
    (HF ``evaluate`` "bleu": 13a tokenization, case-sensitive, n-grams 1-4, no smoothing, brevity penalty).
    Empty prediction or reference -> 0.0.
    """
    prediction = prediction or ""
    reference = reference or ""
    if not prediction.strip() or not reference.strip():
        return 0.0
    return _bleu_metric().corpus_score([prediction], [[reference]]).score / 100.0


# --------------------------------------------------------------------------------------------------
# Hallucination / comprehensiveness (OLAPH: pdata_collection.py HALLUCINATION, COMPREHENSIVENESS)
# --------------------------------------------------------------------------------------------------

_SUPPORTED = frozenset({"entailment", "entailed", "entails", "supported", "support", "supports"})
_CONTRADICTED = frozenset({"contradiction", "contradicted", "contradicts", "contradict"})
_NEUTRAL = frozenset({"neutral", "not_mentioned", "notmentioned", "unmentioned", "unsupported"})


def _normalize_label(label: str) -> str:
    key = str(label).strip().lower().replace("-", "_").replace(" ", "_")
    if key in _SUPPORTED:
        return "supported"
    if key in _CONTRADICTED:
        return "contradicted"
    if key in _NEUTRAL:
        return "neutral"
    raise ValueError(
        f"unknown factuality label {label!r}: expected entailment/contradiction/neutral "
        "or supported/contradicted/not_mentioned"
    )


def factuality_from_labels(
    labels: Sequence[str], n_must_have: int, *, empty_as_zero: bool = True
) -> dict[str, float]:
    """OLAPH's hallucination and comprehensiveness (both 0-100) from per-statement labels.

    ``labels``: one per statement, the ``Must_have`` statements first, then the ``Nice_to_have`` ones (OLAPH's
    ``all_statements = must_have + nice_to_have``). NLI labels (entailment/contradiction/neutral) and judge labels
    (supported/contradicted/not_mentioned) are both accepted.

    * ``hallucination`` = 100 * contradicted statements / all statements (must + nice).
    * ``comprehensiveness`` = 100 * entailed/supported must-have statements / must-have statements.

    Empty lists: OLAPH returns 0 for both (``except ZeroDivisionError: return 0`` in HALLUCINATION, ``if
    len(must_have) == 0: return 0`` in COMPREHENSIVENESS), and its published averages include those zeros, so that
    is the default. With ``empty_as_zero=False`` the undefined key is left out instead.
    """
    n_must_have = int(n_must_have)
    if not 0 <= n_must_have <= len(labels):
        raise ValueError(f"n_must_have={n_must_have} but only {len(labels)} labels were given")
    norm = [_normalize_label(lab) for lab in labels]
    out: dict[str, float] = {}
    if norm:
        out["hallucination"] = 100.0 * sum(lab == "contradicted" for lab in norm) / len(norm)
    elif empty_as_zero:
        out["hallucination"] = 0.0
    if n_must_have:
        out["comprehensiveness"] = 100.0 * sum(lab == "supported" for lab in norm[:n_must_have]) / n_must_have
    elif empty_as_zero:
        out["comprehensiveness"] = 0.0
    return out


def lexical_scores(answer: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 (OLAPH's) and BLEU of one answer against its reference (0-1)."""
    return rouge_scores(answer, reference) | {"bleu": bleu_score(answer, reference)}


# Model-based metrics live in lfqa_models (torch + transformers); re-exported for callers of this module.
from .lfqa_models import NLIScorer, bertscore  # noqa: E402
