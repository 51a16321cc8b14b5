"""Judging task samples: multiple-choice docs (MedXpertQA, the MCQ suite, PMC-VQA) in the HLE-style exact
mode, open VQA docs against their reference answer. Shared by the lm-eval filters and ``medxpert judge``, so
every path sends identical requests and hits the same cache entries.

The judge sees the response after the model's reasoning (``strip_reasoning``), like the rule extractor. A response
whose reasoning never closed has no final answer: it is incorrect without asking anyone (the rule extractor says
the same), so no tokens are spent on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data import doc_options
from ..extract import strip_reasoning
from ..metrics.mcq import extract_for_doc
from .types import JudgeItem, Usage, Verdict

UNTERMINATED = "no final answer: the reasoning block was never closed (cut off by the token limit?)"


def rule_letter(doc: dict, response: str | None) -> str | None:
    return extract_for_doc(doc, response).letter


def is_mcq(doc: dict) -> bool:
    return bool(doc.get("letters"))


def judge_input(doc: dict, response: str | None, task: str) -> JudgeItem | Verdict:
    """The item to send, or the verdict when there is nothing to judge."""
    final = strip_reasoning(response or "", think_end=doc.get("think_end"))
    if final is None:
        return Verdict(status="incorrect", extracted_answer=None, reasoning=UNTERMINATED, confidence=100.0)
    if not is_mcq(doc):
        references = doc.get("answers") or [doc["answer"]]
        return JudgeItem(task=task, sample_id=str(doc["id"]), mode="open", question=doc["question"],
                         response=final, gold=" / ".join(references))  # fmt: skip
    return JudgeItem(
        task=task,
        sample_id=str(doc["id"]),
        mode="exact",
        question=doc["question"],
        response=final,
        gold=doc["answer"],
        options=doc_options(doc),
    )


def judge_responses(docs: Sequence[dict], responses: Sequence[str | None], settings: Any, *, progress: bool = True):
    """Verdicts aligned with ``docs`` and the run report (requests, cache hits, usage, faults)."""
    from .runner import judge_items

    inputs = [judge_input(doc, resp, doc.get("source") or "mcq") for doc, resp in zip(docs, responses)]
    items = [x for x in inputs if isinstance(x, JudgeItem)]
    report = judge_items(items, settings, progress=progress)
    sent = iter(report.verdicts)
    verdicts = [next(sent) if isinstance(x, JudgeItem) else x for x in inputs]
    return verdicts, report


def sample_record(doc: dict, response: str | None, verdict: Verdict) -> dict[str, Any]:
    """What one judged sample shows: the judge's verdict, next to the rule extractor's letter for MCQ docs."""
    rule = rule_letter(doc, response) if is_mcq(doc) else None
    usage = verdict.usage if not verdict.cached else Usage()
    judged = verdict.status in ("correct", "incorrect") and is_mcq(doc)
    return {
        "mode": "exact" if is_mcq(doc) else "open",
        "verdict": verdict.status,
        "judge_extracted": verdict.extracted_answer,
        "confidence": verdict.confidence,
        "judge_reasoning": verdict.reasoning,
        "judge_error": verdict.error,
        "cached": verdict.cached,
        "rule_extracted": rule,
        "rule_correct": rule == doc["answer"] if is_mcq(doc) else None,
        "agreement": ((verdict.status == "correct") == (rule == doc["answer"])) if judged else None,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }


def sample_metrics(record: dict[str, Any]) -> dict[str, Any]:
    """Per-sample metric values; ``None`` marks "not judged" and is left out of judged means.

    Calibration and agreement with the rule extractor exist for multiple-choice (exact mode) samples only.
    """
    judged = record["verdict"] in ("correct", "incorrect")
    correct = record["verdict"] == "correct"
    metrics: dict[str, Any] = {
        "judge_acc": float(correct) if judged else None,
        "judge_error": float(not judged),
        "judge_prompt_tokens": record["prompt_tokens"],
        "judge_completion_tokens": record["completion_tokens"],
    }
    if record["mode"] == "exact":
        confidence = record["confidence"]
        metrics["calibration_error"] = (confidence, correct) if judged and confidence is not None else None
        metrics["agreement"] = None if record["agreement"] is None else float(record["agreement"])
    return metrics
