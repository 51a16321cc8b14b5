"""MedLFQA factuality by the judge: one request per answer checks all of its must-have / nice-to-have statements.
Shared by the lm-eval ``medlfqa_*_judge`` tasks and the OpenCompass judge configs (same items, same cache keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .types import JudgeItem


def judge_statement_records(docs: Sequence[dict], answers: Sequence[str], settings: Any) -> list[dict[str, Any]]:
    """One record per answer: the judge's label per statement, or ``judge_error`` with the error."""
    from .runner import judge_items

    # Nothing to send for an empty answer (every statement is "not mentioned") or a row without statements.
    todo = [i for i, (a, d) in enumerate(zip(answers, docs)) if a and (d["must_have"] or d["nice_to_have"])]
    items = [JudgeItem(task=docs[i]["source"], sample_id=docs[i]["id"], mode="statements",
                       question=docs[i]["question"], response=answers[i],
                       statements=tuple(docs[i]["must_have"] + docs[i]["nice_to_have"])) for i in todo]  # fmt: skip
    report = judge_items(items, settings)
    verdicts = dict(zip(todo, report.verdicts))
    records = []
    for i, doc in enumerate(docs):
        n = len(doc["must_have"]) + len(doc["nice_to_have"])
        v = verdicts.get(i)
        records.append({
            "answer": answers[i],
            "status": v.status if v else "local",
            "labels": list(v.labels) if v else ["not_mentioned"] * n,
            "error": v.error if v else None,
            "prompt_tokens": v.usage.prompt_tokens if v and not v.cached else 0,
            "completion_tokens": v.usage.completion_tokens if v and not v.cached else 0,
        })  # fmt: skip
    return records


def statement_metrics(doc: dict, record: dict[str, Any]) -> dict[str, Any]:
    """OLAPH's hallucination / comprehensiveness from the judge's labels; a sample without a verdict is
    ``judge_error`` and left out of both (``judged_mean``)."""
    from ..metrics.lfqa import factuality_from_labels

    failed = record["status"] == "judge_error"
    scores = {} if failed else factuality_from_labels(record["labels"], len(doc["must_have"]))
    return {
        "hallucination_judge": scores.get("hallucination"),
        "comprehensiveness_judge": scores.get("comprehensiveness"),
        "judge_error": float(failed),
        "judge_prompt_tokens": record["prompt_tokens"],
        "judge_completion_tokens": record["completion_tokens"],
    }
