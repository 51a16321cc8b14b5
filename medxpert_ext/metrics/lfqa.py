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
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

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


class MetricUnavailable(RuntimeError):
    """A metric needs a package or model weights that are not available on this machine."""


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
# model loading helpers (shared by BERTScore and the factuality scorer)
# --------------------------------------------------------------------------------------------------


def _import_torch_transformers(what: str):
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MetricUnavailable(
            f"{what} needs 'torch' and 'transformers' ({exc}); install them with: pip install 'medxpert-ext[hf]'"
        ) from exc
    return torch, transformers


def _looks_like_path(spec: str) -> bool:
    # hub ids look like "name" or "org/name"; anything else that is not an existing folder is a missing path
    return os.path.isabs(spec) or spec.startswith((".", "~")) or spec.count("/") > 1 or "\\" in spec


def _resolve_model_dir(spec: str, *, allow_download: bool, unavailable: Any) -> str:
    """A local folder for `spec` (a folder or a hub id), without touching the network unless allowed.

    `unavailable(reason)` builds the MetricUnavailable to raise.
    """
    expanded = os.path.expanduser(spec)
    if os.path.isdir(expanded):
        return expanded
    if _looks_like_path(spec):
        raise unavailable(f"folder {expanded!r} does not exist")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise unavailable(f"'huggingface_hub' is not installed ({exc})") from exc
    try:
        return snapshot_download(repo_id=spec, local_files_only=not allow_download)
    except Exception as exc:  # LocalEntryNotFoundError, HFValidationError, network errors, ...
        if not allow_download and isinstance(exc, FileNotFoundError):  # LocalEntryNotFoundError
            raise unavailable(f"{spec!r} is neither a local folder nor in the local Hugging Face cache") from exc
        first_line = (str(exc).splitlines() or [""])[0][:200]
        raise unavailable(f"{spec!r} could not be resolved ({type(exc).__name__}: {first_line})") from exc


def _unavailable_factory(*, model_id: str, role: str, env_var: str, folder: str):
    def build(reason: str) -> MetricUnavailable:
        return MetricUnavailable(
            f"{role} cannot be loaded offline: {reason}. "
            f"OLAPH uses the Hugging Face model {model_id!r}. To provide it, on a machine with internet run "
            f"`hf download {model_id} --local-dir {folder}` (older clients: `huggingface-cli download {model_id} "
            f"--local-dir {folder}`), copy the folder to this machine, and set {env_var}={folder} "
            f"(or pass model_path={folder!r}). A model already in the Hugging Face cache is found automatically."
        )

    return build


# --------------------------------------------------------------------------------------------------
# BERTScore (OLAPH: pdata_collection.py BERTSCORE = bert_score 0.3.13 score(..., lang='en'))
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _load_bertscore_model(directory: str, num_layers: int, device: str):
    torch, transformers = _import_torch_transformers("BERTScore")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    byte_level = ("RobertaTokenizer", "RobertaTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast")
    prefix_space = isinstance(tokenizer, tuple(getattr(transformers, n) for n in byte_level if hasattr(transformers, n)))
    if prefix_space:
        # bert-score 0.3.13 encodes RoBERTa/GPT-2 text with add_prefix_space=True (honoured by transformers 4.x's
        # slow tokenizer at encode time; transformers 5.x only honours it at load time).
        tokenizer = transformers.AutoTokenizer.from_pretrained(directory, add_prefix_space=True)
    max_length = tokenizer.model_max_length
    if not max_length or max_length > 100_000:
        max_length = _BERTSCORE_FALLBACK_MAX_LENGTH
    model = transformers.AutoModel.from_pretrained(directory)
    model.eval()
    encoder = getattr(model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    truncated = layers is not None
    if truncated:  # bert-score get_model(): keep the first num_layers layers, use the last hidden state
        if not 0 <= num_layers <= len(layers):
            raise _BadNumLayers(f"num_layers={num_layers} but the model has {len(layers)} layers")
        encoder.layer = torch.nn.ModuleList(list(layers)[:num_layers])
    model.to(device)
    return tokenizer, model, max_length, truncated


def _bertscore_encode(tokenizer, text: str, max_length: int) -> list[int]:
    text = text.strip()  # bert-score sent_encode
    if not text:
        return [tokenizer.cls_token_id, tokenizer.sep_token_id]
    return tokenizer.encode(text, add_special_tokens=True, max_length=max_length, truncation=True)


def bertscore(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    model_path: str | None = None,
    num_layers: int = OLAPH_BERTSCORE_NUM_LAYERS,
    batch_size: int = 64,
    device: str = "cpu",
    allow_download: bool = False,
) -> list[float]:
    """BERTScore F1 (0-1) per (prediction, reference) pair, as OLAPH's ``bert_score.score([pred], [answer], lang='en')``.

    ``model_path``: a local folder or hub id; default ``$MEDXPERT_BERTSCORE_MODEL`` or ``roberta-large`` (from the
    Hugging Face cache). ``num_layers`` 17 is bert-score's layer for roberta-large; change it together with the model.
    Raises MetricUnavailable if torch/transformers or the model weights are missing.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return []
    spec = model_path or os.environ.get(ENV_BERTSCORE_MODEL) or OLAPH_BERTSCORE_MODEL
    torch, _ = _import_torch_transformers("BERTScore")
    unavailable = _unavailable_factory(
        model_id=OLAPH_BERTSCORE_MODEL,
        role=f"BERTScore model {spec!r}",
        env_var=ENV_BERTSCORE_MODEL,
        folder="/path/to/roberta-large",
    )
    directory = _resolve_model_dir(spec, allow_download=allow_download, unavailable=unavailable)
    try:
        tokenizer, model, max_length, truncated = _load_bertscore_model(directory, num_layers, device)
    except _BadNumLayers:
        raise
    except (OSError, ValueError, KeyError, AttributeError) as exc:  # 4.x: AttributeError on a non-model folder
        raise unavailable(f"loading {directory!r} failed ({type(exc).__name__}: {exc})") from exc

    special = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    preds = [p or "" for p in predictions]
    refs = [r or "" for r in references]
    ids = {s: _bertscore_encode(tokenizer, s, max_length) for s in set(preds) | set(refs)}
    order = sorted(ids, key=lambda s: len(ids[s]), reverse=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    emb: dict[str, Any] = {}
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(ids[s]) for s in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for i, s in enumerate(chunk):
                input_ids[i, : len(ids[s])] = torch.tensor(ids[s], dtype=torch.long)
                mask[i, : len(ids[s])] = 1
            out = model(input_ids.to(device), attention_mask=mask.to(device), output_hidden_states=not truncated)
            hidden = out[0] if truncated else out.hidden_states[num_layers]
            hidden = hidden.float().cpu()
            for i, s in enumerate(chunk):
                e = hidden[i, : len(ids[s])]
                emb[s] = e / torch.norm(e, dim=-1, keepdim=True)

    scores: list[float] = []
    for p, r in zip(preds, refs):
        hyp_ids, ref_ids = ids[p], ids[r]
        if all(t in special for t in hyp_ids) or all(t in special for t in ref_ids):
            scores.append(0.0)  # bert-score: empty candidate/reference -> all idf weights 0 -> NaN F -> 0
            continue
        sim = emb[p] @ emb[r].T  # [hyp tokens, ref tokens], special tokens included in the max
        hyp_w = torch.tensor([0.0 if t in special else 1.0 for t in hyp_ids])
        ref_w = torch.tensor([0.0 if t in special else 1.0 for t in ref_ids])
        precision = float((sim.max(dim=1).values * hyp_w).sum() / hyp_w.sum())
        recall = float((sim.max(dim=0).values * ref_w).sum() / ref_w.sum())
        f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else float("nan")
        scores.append(0.0 if math.isnan(f1) else f1)
    return scores


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


class NLIScorer:
    """OLAPH's model-based factuality rule (``HALLUCINATION``/``COMPREHENSIVENESS`` with ``use_gpt=False``).

    Despite the name this is a *similarity* rule, exactly as in OLAPH: the answer and each statement are embedded
    with ``gsarti/biobert-nli`` (mean pooling of the last hidden state over the attention mask, inputs truncated to
    512 tokens), and a statement is labelled ``"entailment"`` when the cosine similarity is >= 0.5, otherwise
    ``"contradiction"``. ``"neutral"`` is never produced. Feed the labels to :func:`factuality_from_labels`, or call
    :meth:`factuality`.

    ``model_path``: local folder or hub id (default: ``$MEDXPERT_NLI_MODEL``, else ``gsarti/biobert-nli`` from the
    Hugging Face cache). Nothing is downloaded unless ``allow_download=True``; a missing model raises
    MetricUnavailable explaining how to provide it.
    """

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        *,
        threshold: float = OLAPH_SIMILARITY_THRESHOLD,
        max_length: int = OLAPH_NLI_MAX_LENGTH,
        allow_download: bool = False,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_path = model_path or os.environ.get(ENV_NLI_MODEL) or OLAPH_NLI_MODEL
        self.device = device
        self.batch_size = int(batch_size)
        self.threshold = float(threshold)
        self.max_length = int(max_length)
        unavailable = _unavailable_factory(
            model_id=OLAPH_NLI_MODEL,
            role=f"OLAPH's factuality (BioBERT-NLI) model {self.model_path!r}",
            env_var=ENV_NLI_MODEL,
            folder="/path/to/biobert-nli",
        )
        torch, transformers = _import_torch_transformers("NLIScorer")
        self._torch = torch
        directory = _resolve_model_dir(self.model_path, allow_download=allow_download, unavailable=unavailable)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
            self.model = transformers.AutoModel.from_pretrained(directory)  # OLAPH: AutoModel (encoder, no head)
        except (OSError, ValueError, KeyError, AttributeError) as exc:  # 4.x: AttributeError on a non-model folder
            raise unavailable(f"loading {directory!r} failed ({type(exc).__name__}: {exc})") from exc
        self.model.eval()
        self.model.to(device)
        self.model_dir = directory

    # -- embeddings -------------------------------------------------------------------------------
    def _embed(self, texts: Sequence[str]):
        """Mean-pooled last hidden states, [len(texts), hidden] float32 on CPU (OLAPH's mean_pooling)."""
        torch = self._torch
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            enc = self.tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.device)
            with torch.no_grad():
                out = self.model(**enc)
            tokens = out[0]
            mask = enc["attention_mask"].unsqueeze(-1).expand(tokens.size()).float()
            pooled = torch.sum(tokens * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)
            chunks.append(pooled.float().cpu())
        if not chunks:
            return torch.zeros((0, 0))
        return torch.cat(chunks, dim=0)

    def similarities(self, answer: str, statements: Sequence[str]) -> list[float]:
        """Cosine similarity between the (stripped) answer and each statement, as OLAPH computes it."""
        statements = list(statements)
        if not statements:
            return []
        torch = self._torch
        answer_emb = self._embed([(answer or "").strip()])  # [1, H]
        statement_emb = self._embed(statements)  # [n, H]
        cos = torch.nn.functional.cosine_similarity(answer_emb, statement_emb, dim=-1, eps=1e-8)
        return [float(c) for c in cos.tolist()]

    def labels(self, answer: str, statements: Sequence[str]) -> list[str]:
        """Per statement: "entailment" if cosine >= threshold (0.5) else "contradiction" (OLAPH's rule)."""
        return [self.label_for(c) for c in self.similarities(answer, statements)]

    def label_for(self, cosine: float) -> str:
        return "entailment" if cosine >= self.threshold else "contradiction"

    def factuality(
        self, answer: str, must_have: Iterable[str], nice_to_have: Iterable[str], *, empty_as_zero: bool = True
    ) -> dict[str, float]:
        """OLAPH's ``hallucination`` and ``comprehensiveness`` (0-100) for one answer."""
        must = list(must_have or [])
        nice = list(nice_to_have or [])
        return factuality_from_labels(self.labels(answer, must + nice), len(must), empty_as_zero=empty_as_zero)


def lexical_scores(answer: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 (OLAPH's) and BLEU of one answer against its reference (0-1)."""
    return rouge_scores(answer, reference) | {"bleu": bleu_score(answer, reference)}
