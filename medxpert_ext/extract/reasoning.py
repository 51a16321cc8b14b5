"""Reasoning blocks: only the text after the model's reasoning is addressed to the reader.

The unterminated-think rule lives here: a reasoning block opened and never closed means the model ran out of
tokens before answering, so there is no answer, whatever letters the reasoning mentions.
"""

from __future__ import annotations

import re

_THINK_OPEN = re.compile(
    r"<\s*(?:think|thinking|reasoning|thought)\s*>|\[THINK\]|◁think▷|<\|begin_of_thought\|>", re.IGNORECASE
)
# Substrings every opening / closing tag contains: checking for them first skips the regex on most replies.
_OPEN_MARKS = ("<", "[", "◁")
_CLOSE_MARKS = ("</", "[/", "◁/", "end_of_thought")
_THINK_CLOSE = re.compile(
    r"<\s*/\s*(?:think|thinking|reasoning|thought)\s*>|\[/THINK\]|◁/think▷|<\|end_of_thought\|>", re.IGNORECASE
)


_MAX_CLOSE_TRIES = 256
_LAST_CLOSE = re.compile(rf"(?s:.*)(?:{_THINK_CLOSE.pattern})", re.IGNORECASE)


def strip_reasoning(text: str, *, think_end: str | None = None) -> str | None:
    """Return the text after the model's reasoning, or None when a reasoning block was opened and never closed.

    Handles <think>...</think> (also <thinking>, <reasoning>, and the case where the chat template put the
    opening <think> in the prompt so the response contains only '...</think> answer'). If think_end is given
    (e.g. "</think>" from a model profile that says the model is a reasoning model), a response that does NOT
    contain think_end is treated as cut off -> None.

    Everything up to the LAST closing tag is reasoning: models sometimes close, reopen and close again, and
    only the text after the final close is addressed to the reader.
    """
    if think_end and think_end not in text:
        return None
    closes = ("/" in text and any(mark in text for mark in _CLOSE_MARKS[:3])) or _CLOSE_MARKS[3] in text
    cut = _last_close(text) if closes else 0
    if think_end:
        cut = max(cut, text.rfind(think_end) + len(think_end))
    rest = text[cut:]
    if any(mark in rest for mark in _OPEN_MARKS) and _THINK_OPEN.search(rest):
        return None
    return rest


def _last_close(text: str) -> int:
    """End of the last closing tag, 0 if none: searched backwards from each tag's first characters, so a reply
    that closes thousands of times costs a few look-ups; text full of other "</...>" tags falls back to one
    backtracking regex pass."""
    best, tries = 0, 0
    for mark in _CLOSE_MARKS:
        at = text.rfind(mark)
        while at >= best and tries < _MAX_CLOSE_TRIES:
            tries += 1
            start = text.rfind("<", max(0, at - 2), at + 1) if mark == "end_of_thought" else at
            found = _THINK_CLOSE.match(text, max(0, start))
            if found:
                best = max(best, found.end())
                break
            at = text.rfind(mark, 0, at)
    if tries >= _MAX_CLOSE_TRIES:
        last = _LAST_CLOSE.match(text)
        best = last.end() if last else 0
    return best
