"""MedLFQA scoring of a whole task's answers: the records both harness adapters build and the per-sample metrics
they report. Model-based scores (OLAPH's BioBERT-NLI factuality, BERTScore) run over the whole task at once,
because the encoders batch far better than per-sample calls.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from ..errors import DataError
from ..extract import strip_reasoning

FACTUALITY_METHODS = ("similarity", "none")
log = logging.getLogger("medxpert_ext.lfqa")


def check_factuality(method: str) -> None:
    if method not in FACTUALITY_METHODS:
        raise DataError(f"factuality={method!r}: expected one of {FACTUALITY_METHODS}")


def final_answers(responses: Sequence[str | None], docs: Sequence[dict]) -> list[str | None]:
    """The text after each response's reasoning; None when a reasoning block never closed."""
    return [strip_reasoning(r or "", think_end=d.get("think_end")) for r, d in zip(responses, docs)]


@functools.lru_cache(maxsize=2)
def nli_scorer(model_path: str | None):
    """OLAPH's factuality model, loaded once per process (a missing model raises MetricUnavailable)."""
    from .lfqa import NLIScorer

    return NLIScorer(model_path)


def score_answers(docs: Sequence[dict], responses: Sequence[str | None], *, factuality: str = "similarity",
                  nli_model: str | None = None, bertscore_model: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One record per response: the final answer, whether there was none, and the model-based scores."""
    from .lfqa import MetricUnavailable, bertscore

    check_factuality(factuality)
    answers = final_answers(responses, docs)
    records: list[dict[str, Any]] = [{"answer": (a or "").strip(), "no_answer": not (a or "").strip()} for a in answers]
    if docs and factuality == "similarity":
        scorer = nli_scorer(nli_model)
        for rec, doc in zip(records, docs):
            rec |= scorer.factuality(rec["answer"], doc["must_have"], doc["nice_to_have"])
    elif docs:
        log.warning("factuality=none: hallucination/comprehensiveness not computed (reported as NaN)")
    try:
        scores = bertscore([r["answer"] for r in records], [d["answer"] for d in docs], model_path=bertscore_model)
    except MetricUnavailable as exc:
        log.warning("BERTScore skipped (reported as NaN): %s", exc)
        scores = [None] * len(records)
    for rec, score in zip(records, scores):
        rec["bertscore"] = score
    return records


def sample_scores(doc: dict, record: dict[str, Any]) -> dict[str, float]:
    """ROUGE-1/2/L F1 and BLEU against the reference answer (0-1); OLAPH's hallucination and comprehensiveness
    (0-100); BERTScore F1; ``no_answer`` = empty or cut-off responses."""
    from .lfqa import lexical_scores

    nan = float("nan")
    return lexical_scores(record["answer"], doc["answer"]) | {
        "bertscore": nan if record["bertscore"] is None else record["bertscore"],
        "hallucination": record.get("hallucination", nan),
        "comprehensiveness": record.get("comprehensiveness", nan),
        "no_answer": float(record["no_answer"]),
    }
