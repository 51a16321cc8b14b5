"""Judge rescue: an LLM reads only the multiple-choice responses the rule extractor could not read.

Harness-neutral core: the lm-eval filter, the OpenCompass adapter and ``medxpert judge --mode extract`` all
call :func:`rescue_letters` with our MCQ docs, the raw responses and the rule extractions they already made.
Only responses with no rule letter and a final answer to read are sent (not empty ones, not those whose
reasoning never closed: the unterminated-think rule stays), each as an ``extract`` item through the one judge
runner, so verdicts are cached and a rerun sends nothing. A response the judge cannot read, or reads as no
answer, stays unread: there is no fallback to a random letter.

Scores: ``acc`` stays the rules-only number; ``acc_rescued`` uses the rescued letters where the rules had none;
``rescued`` is the share of all samples whose letter came from the judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..data import doc_options
from ..extract import Extraction, parse_letters, strip_reasoning
from .types import JudgeItem, Usage, Verdict

SKIPPED = ("empty", "unterminated_think")  # rule reasons with nothing for a judge to read


@dataclass
class RescueResult:
    """Per-sample outcome of a rescue, aligned with the input docs, plus what it cost.

    ``letters``: the rule letter, else the judge's letter, else None. ``rescued[i]``: the letter came from the
    judge. ``verdicts[i]``: the judge's verdict for a sent sample (None when nothing was sent for it).
    """

    letters: list[str | None]
    rescued: list[bool]
    verdicts: list[Verdict | None]
    sent: int = 0  # samples that needed the judge
    cached: int = 0  # of those, answered from the verdict cache
    requests: int = 0  # HTTP attempts, retries included
    errors: int = 0  # judge_error verdicts: still unread
    usage: Usage = field(default_factory=Usage)

    @property
    def n_rescued(self) -> int:
        return sum(self.rescued)

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals for a results file."""
        return {"samples": len(self.letters), "sent": self.sent, "rescued": self.n_rescued, "cached": self.cached,
                "requests": self.requests, "judge_errors": self.errors,
                "unread": sum(letter is None for letter in self.letters),
                "usage": {"prompt_tokens": self.usage.prompt_tokens,
                          "completion_tokens": self.usage.completion_tokens}}  # fmt: skip


def needs_rescue(extraction: Extraction) -> bool:
    """Whether the rules left this response unread although it has a final answer a judge could read."""
    return extraction.letter is None and extraction.reason not in SKIPPED


def extract_item(doc: Mapping[str, Any], response: str, task: str | None = None) -> JudgeItem:
    """The ``extract`` judge item for one MCQ doc (its question, option texts and valid letters)."""
    final = strip_reasoning(response, think_end=doc.get("think_end"))
    return JudgeItem(
        task=task or doc.get("source") or "mcq",
        sample_id=str(doc["id"]),
        mode="extract",
        question=doc["question"],
        response=(final if final is not None else response).strip(),
        gold=parse_letters(doc["letters"]),
        options=doc_options(doc),
    )


def rescue_letters(
    docs: Sequence[Mapping[str, Any]],
    responses: Sequence[str | None],
    extractions: Sequence[Extraction],
    settings: Any,
    *,
    task: str | None = None,
    progress: bool = True,
    cache: Any = None,
) -> RescueResult:
    """Rescue what the rules could not read; see the module docstring. ``settings`` is a ``JudgeSettings``;
    ``task`` names the items in the cache and cost report (default: each doc's ``source``); ``cache`` an open
    ``VerdictCache`` (default: the settings' one)."""
    if not len(docs) == len(responses) == len(extractions):
        raise ValueError(f"rescue: {len(docs)} docs, {len(responses)} responses, {len(extractions)} extractions")
    todo = [i for i, got in enumerate(extractions) if needs_rescue(got) and (responses[i] or "").strip()]
    letters = [got.letter for got in extractions]
    rescued = [False] * len(docs)
    verdicts: list[Verdict | None] = [None] * len(docs)
    result = RescueResult(letters, rescued, verdicts, sent=len(todo))
    if not todo:
        return result
    from .runner import judge_items

    items = [extract_item(docs[i], responses[i] or "", task) for i in todo]
    report = judge_items(items, settings, progress=progress, cache=cache)
    for i, verdict in zip(todo, report.verdicts):
        verdicts[i] = verdict
        if verdict.status != "judge_error" and verdict.extracted_answer:
            letters[i], rescued[i] = verdict.extracted_answer, True
    result.cached, result.requests, result.errors = report.cached, report.requests_sent, report.errors
    result.usage = report.usage_total
    return result


def rescue_scores(gold: str, rule_letter: str | None, result_letter: str | None, rescued: bool) -> dict[str, float]:
    """Per-sample ``acc`` (rules only), ``acc_rescued`` and ``rescued`` (0/1; averaged: the share rescued)."""
    return {
        "acc": float(rule_letter is not None and rule_letter == gold),
        "acc_rescued": float(result_letter is not None and result_letter == gold),
        "rescued": float(rescued),
    }
