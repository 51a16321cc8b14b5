"""The one answer extractor every harness adapter shares.

It reads the multiple-choice option a model *finally committed to* and returns no answer rather than guess.
Parsers that take the first capital letter (or the first ``A`` anywhere) score "A 45-year-old man..." as
option A and "I think..." as option I, which silently inflates or deflates accuracy; this one only accepts a
letter where the text commits to it:

1. Reasoning is removed first (``reasoning``). An unterminated reasoning block means the model ran out of
   tokens before answering, so there is no answer, whatever letters the reasoning mentions.
2. *Answer statements* are collected (``rules``, ``statements``): "the answer is (C)", "Answer: C",
   ``\\boxed{C}``, ``{"answer": "C"}`` (also when the JSON does not parse), "I choose C", "Option C is correct",
   the same in other languages, and option text written after such a phrase. The last one that names
   something wins, because models revise; a walkthrough, per-part answers and letter loops are no commitment,
   and text from the point where a base model invents the next few-shot question on is ignored.
3. Only when the reply has no statement at all, its layout is read (``layout``): a reply that is just a
   letter, a first or last labelled line, one labelled line under a concluding "...is:" line, a single bolded
   option, or an option's text on its own.
4. Nothing read: ``truncated`` when the reply visibly stops mid-sentence, else ``no_answer``.

Everything is precompiled at import and every pattern is linear-time; a reply over 64 KB after its reasoning is
read at its first and last 32 KB (``scripts/bench_extract.py`` times 1 MB pathological inputs).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .layout import fallback, looks_truncated
from .letters import parse_letters, valid_set
from .options import options_from_question
from .reasoning import strip_reasoning
from .statements import committed, find_statements, runaway_at

__all__ = [
    "Extraction",
    "Reason",
    "extract",
    "extract_choice",
    "options_from_question",
    "parse_letters",
    "strip_reasoning",
]

# A reply longer than two of these (after its reasoning) is read at its start and its end only: 16k tokens of
# answer text is already far beyond what models write after their reasoning, and it bounds the work on
# hostile 1 MB inputs.
_HALF_WINDOW = 32_768

Reason = Literal["ok", "empty", "unterminated_think", "no_answer", "truncated", "out_of_range", "conflicting"]


@dataclass(frozen=True)
class Extraction:
    """What was read from one response: the letter, or None with the reason no letter could be trusted."""

    letter: str | None
    reason: Reason


def _verdict(letters: tuple[str, ...], valid: frozenset[str]) -> Extraction:
    """Turn the letters of the committing statement into an Extraction: one in-range letter or a reason."""
    distinct = set(letters)
    if len(distinct) > 1:
        return Extraction(None, "conflicting")
    (letter,) = distinct
    return Extraction(letter, "ok") if letter in valid else Extraction(None, "out_of_range")


def _own_part(body: str) -> str:
    """The reply up to where a base model starts the next few-shot question ("1. B\\n\\nQuestion: ..."); the
    first line is always kept, so a reply that opens by restating its question is not cut to nothing."""
    first = body.find("\n", len(body) - len(body.lstrip()))
    if first < 0:
        return body
    cut = runaway_at(body, first)
    return body if cut is None else body[:cut]


def extract(
    response: str | None,
    letters: str = "ABCDE",
    options: Mapping[str, str] | None = None,
    *,
    think_end: str | None = None,
) -> Extraction:
    """Read the option letter a response finally committed to, or None with the reason.

    ``letters`` is the valid option set ("ABCDE", or a range like "A-J"); ``options`` maps letter -> option
    text when known, so answers written as option text can be mapped back to their letter; ``think_end`` is
    the reasoning-model end token from the model profile (without it in the response -> cut off -> no answer).
    Raises ValueError for an invalid ``letters`` spec, which is a configuration error, not a model failure.
    """
    if response is None or not response.strip():
        return Extraction(None, "empty")
    valid = valid_set(letters)
    body = strip_reasoning(response, think_end=think_end)
    if body is None:
        return Extraction(None, "unterminated_think")
    if len(body) > 2 * _HALF_WINDOW:  # the commitment is at the end, a base model's own answer at the start
        body = f"{body[:_HALF_WINDOW]}\n\n{body[-_HALF_WINDOW:]}"
    if not body.isascii():
        body = unicodedata.normalize("NFKC", body)
    options = options or {}
    chosen = committed(find_statements(body, options), body)
    if chosen:
        return _verdict(chosen, valid)
    if chosen is None:
        own = _own_part(body)
        letter = fallback(own, valid, options)
        if letter:
            return Extraction(letter, "ok")
    return Extraction(None, "truncated" if looks_truncated(body) else "no_answer")


def extract_choice(
    response: str | None,
    letters: str = "ABCDE",
    options: Mapping[str, str] | None = None,
    *,
    think_end: str | None = None,
) -> str | None:
    """Convenience: extract(...).letter, for callers that only score and do not report why nothing was read."""
    return extract(response, letters, options, think_end=think_end).letter
