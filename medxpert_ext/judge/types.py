"""Data passed between the judge's parts. Plain dataclasses: no behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["exact", "open", "statements", "extract"]
Status = Literal["correct", "incorrect", "judge_error"]
StatementLabel = Literal["supported", "contradicted", "not_mentioned"]


@dataclass(frozen=True)
class JudgeItem:
    """One thing to judge.

    exact:      ``gold`` is the correct option letter (plus ``options`` text for context); HLE-style verdict.
    open:       ``gold`` is the reference answer of an open question; correct / incorrect.
    statements: ``statements`` are checked one by one against ``response`` (``gold`` unused, may be "").
    extract:    which option letter ``response`` committed to; ``gold`` holds the valid letters ("ABCDE").
    """

    task: str
    sample_id: str
    mode: Mode
    question: str
    response: str
    gold: str = ""
    options: dict[str, str] = field(default_factory=dict)
    statements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class Verdict:
    """What the judge concluded for one item.

    ``status`` is never derived from a failure: a request that failed after all retries, a reply that could not
    be parsed, or an item skipped by the token budget is ``judge_error`` (with ``error`` saying why), and is
    excluded from judged metrics rather than counted as incorrect.
    For statements mode ``status`` is ``correct`` when every statement got a label (the labels are the result).
    """

    status: Status
    extracted_answer: str | None = None
    reasoning: str | None = None
    confidence: float | None = None  # 0-100 as the judge said it
    labels: tuple[StatementLabel, ...] = ()
    error: str | None = None
    usage: Usage = Usage()
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "extracted_answer": self.extracted_answer,
            "reasoning": self.reasoning,
            "confidence": self.confidence,
            "labels": list(self.labels),
            "error": self.error,
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
            "cached": self.cached,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        usage = data.get("usage") or {}
        return cls(
            status=data["status"],
            extracted_answer=data.get("extracted_answer"),
            reasoning=data.get("reasoning"),
            confidence=data.get("confidence"),
            labels=tuple(data.get("labels") or ()),
            error=data.get("error"),
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            cached=bool(data.get("cached", False)),
        )
