"""Commitments read from the layout of a reply that has no answer statement, and replies visibly cut off.

Without "the answer is", a reply still commits when its shape says so: it is just a letter ("C", "(C)",
"2. C", "4B"), it opens or ends with one labelled option line, or it ends a concluding sentence with a colon
and puts one labelled option under it ("The most likely cause is:\n\n(C) Iron deficiency", in any language).
A list of labelled lines is a restated option list or a walkthrough, whose items are not choices.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from .options import NEGATION, normalise, normalised_options, option_for_text

# A lone letter, also behind an item number the model copied from a numbered prompt ("2. C", "4B", "3E").
_LONE_LETTER = re.compile(r"(?:\d{1,2}[.)]?[ \t]*)?(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Za-z])[.):]?)")
_LETTER_LINE = re.compile(
    r"(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])[.):]|([a-z])\)|([A-Z])[ \t]+[-–—])[ \t]*(\S.*)"
)
# A bolded option that ends its line ("**B) Bacterial infection**", "Hence, **C**."); a bold label followed by
# commentary ("**A) Viral:** usually interstitial") or a heading ("**B) CT scan:**") is a walkthrough item.
_BOLD_LETTER = re.compile(
    r"\*\*[ \t]*(?:\(([A-Za-z])\)|([A-Z])(?![\w'’-]))[ \t]*(?:[.):\-–—][^*\n]{0,200})?(?<![:：])\*\*(?=[ \t.!)]*$)",
    re.MULTILINE,
)
_SHORT_LINE = 120
_UPPER_LABEL = re.compile(r"\(?[A-Z][.)]")  # not "(a)": a lowercase label opens a sub-part
_MAX_LINES = 1000
_BOLD_LINE = 400  # a bolded choice is a short line
# "- CGA codes for arginine (R)\n- C": a bullet list cut off after one letter of its next item.
_BULLET_TAIL = re.compile(r"^[ \t]*([-*•])[ \t][^\n]*\n[ \t]*\1[ \t]*\S{1,3}[ \t]*\Z", re.MULTILINE)
# A colon line announcing a conclusion: a copula or a concluding word, in the languages the rules know.
_CUE_WORD = re.compile(
    r"\b(?:is|are|be|was|answer|correct|best|most|final|conclusion|therefore|thus|hence|so|option|choice"
    r"|es|sería|seria|é|est|serait|ist|wäre|è|sarebbe|respuesta|resposta|réponse|antwort|risposta)\b"
    r"|היא|התשובה|答案|是|为|は|です|정답|답",
    re.IGNORECASE,
)
# "... is I. Atlanto-axial instability", "... interfere with H. Cell wall synthesis": one option label with its
# capitalised text right after a copula or preposition, in the reply's last paragraph ("vitamin D. The ..." is
# not: the word before the letter must be one of these).
_LAST_PARAGRAPH = 2000
_LABEL_WITH_TEXT = re.compile(r"([A-Z])[.)][ \t]+(?=[A-Z0-9(])")
_INLINE_LEAD = re.compile(r"(?:\b(?:is|are|was|were|be|with|to)[ \t]*:?|:)[ \t]*(?:\*\*)?\Z")
# "This is option D." / "This is (B)." closing a sentence of the last paragraph: a restatement of the choice.
_THIS_IS = re.compile(r"(?<![A-Za-z])(?:[Tt]his|[Tt]hat)[ \t]+is[ \t]+(?:option[ \t]+|choice[ \t]+)?\(?([A-Z])\)?[ \t]*[.!]")
# A reply that stops mid-sentence or right after a heading ("**B) CT scan:**"): cut off by the token limit.
_CUT_OFF = re.compile(r"[\w,;:(\-–—][*_ \t]*\Z")


def looks_truncated(text: str) -> bool:
    """Whether the reply ends mid-sentence, as replies cut off by the token limit do (CJK full stops end one)."""
    return _CUT_OFF.search(text[-50:].rstrip()) is not None
# "I. History ... II. Plan": in a roman-numbered outline "I." is a heading, not option I.
_ROMAN_OUTLINE = re.compile(r"^[ \t#*]*(?:II|III|IV|VI{0,3}|IX)[.)][ \t]", re.MULTILINE)


def _clean_line(line: str) -> str:
    """A line without markdown emphasis, heading or bullet marks around it (str.strip: linear on any input)."""
    return line.strip().lstrip("*_#>`~•- \t").rstrip("*_`~ \t")


def _first_group(match: re.Match[str], last: int) -> str:
    """The one letter group of a match with alternative groups (only one can participate)."""
    return next(g for g in match.groups()[:last] if g is not None).upper()


def _line_label(line: str) -> tuple[str, str] | None:
    """(letter, text after it) for a line that starts with an option label ("C", "(C)", "C) Capsular
    plication"); the text is "" for a lone letter. None for any other line."""
    lone = _LONE_LETTER.fullmatch(line)
    if lone:
        return _first_group(lone, 3), ""
    labelled = _LETTER_LINE.fullmatch(line)
    return (_first_group(labelled, 5), labelled.group(6)) if labelled else None


def _label_commits(line: str, letter: str, rest: str, options: Mapping[str, str]) -> bool:
    """Whether a labelled line reads as an answer: short, not negated, and (when the options are known) its
    text is that option's, so "**A. Aspirin** - a common distractor" opening a discussion is not a choice."""
    if len(line) > _SHORT_LINE or NEGATION.search(rest):
        return False
    return not options or option_for_text(rest, options) == letter


def _is_exactly_option(text: str, letter: str, options: Mapping[str, str]) -> bool:
    """Whether ``text`` is option ``letter``'s text, give or take case and punctuation (not a comment on it)."""
    return bool(options) and normalised_options(options).get(letter) == normalise(text)


def fallback(text: str, valid: frozenset[str], options: Mapping[str, str]) -> str | None:
    """Weak commitments, used only when the reply has no answer statement; in-range letters only.

    A lone letter on the first or last line is an answer. A labelled line ("C) Capsular plication") is one when
    no other line is labelled with a different letter: several labels are a restated option list or an
    option-by-option walkthrough, whose items are not choices. The exception is a last line that is exactly
    one option after a paragraph rather than after a short list item: the conclusion of a discussion.
    """
    raw_lines = text.splitlines()
    if len(raw_lines) > _MAX_LINES:  # a degenerate reply: its first and last lines are what can commit
        raw_lines = raw_lines[: _MAX_LINES // 2] + raw_lines[-_MAX_LINES // 2 :]
    lines = [c for c in (_clean_line(raw) for raw in raw_lines) if c]
    if not lines:
        return None
    labels = [_line_label(c) for c in lines]
    if not _ROMAN_OUTLINE.search(text):
        one_label = len({label[0] for label in labels if label}) == 1
        for i in (len(lines) - 1, 0):
            label = labels[i]
            if label is None or label[0] not in valid or (i and _BULLET_TAIL.search(text[-_SHORT_LINE * 3 :])):
                continue
            letter, rest = label
            if not rest or (one_label and _label_commits(lines[i], letter, rest, options)):
                return letter
            if len(lines) == 1 and _UPPER_LABEL.match(lines[0]) and not looks_truncated(text):
                return letter  # the whole reply is one labelled option ("B. The data do not allow ...")
            after_item = i > 0 and labels[i - 1] is not None and len(lines[i - 1]) <= _SHORT_LINE
            concludes = i == len(lines) - 1 and not after_item
            if concludes and _is_exactly_option(rest, letter, options):
                return letter
        concluded = _after_cue(lines, labels)
        if concluded in valid:
            return concluded
    bold = {_first_group(m, 2) for line in raw_lines if "**" in line and len(line) <= _BOLD_LINE
            for m in _BOLD_LETTER.finditer(line)} & valid  # fmt: skip
    if len(bold) == 1:
        return bold.pop()
    if options:
        for i in (len(lines) - 1, 0):
            letter = option_for_text(lines[i], options) if labels[i] is None else None
            if letter in valid:
                return letter
    tail = text[max(0, text.rfind("\n\n", 0, len(text) - 1), len(text) - _LAST_PARAGRAPH) :]
    named = {m.group(1) for m in itertools.islice(_LABEL_WITH_TEXT.finditer(tail), 8)
             if _INLINE_LEAD.search(tail, max(0, m.start() - 12), m.start())}  # fmt: skip
    if not named and ("this is" in tail or "This is" in tail or "that is" in tail):
        named = {m.group(1) for m in itertools.islice(_THIS_IS.finditer(tail), 8)}
    if len(named) == 1 and (letter := named.pop()) in valid:
        return letter
    return None


def _after_cue(lines: list[str], labels: list[tuple[str, str] | None]) -> str | None:
    """The letter of the reply's last labelled line when the line before it is a concluding cue ending in a
    colon ("Considering the above, the best test is:"), so it is the answer the cue announces, not a list item."""
    last = next((i for i in range(len(lines) - 1, 0, -1) if labels[i] is not None), None)
    if last is None or labels[last - 1] is not None:
        return None
    cue = lines[last - 1]
    if not cue.endswith((":", "：")) or not _CUE_WORD.search(cue):
        return None
    return labels[last][0]
