"""Finding answer statements in a reply and deciding which one it finally committed to.

The last statement that names something wins, because models revise ("Answer: B ... wait, the answer is D").
Three shapes of text look like revisions but are not, and are read as no commitment instead of the last letter:
an option-by-option walkthrough ("(G) is correct ... (H) is correct"), a reply split into sub-parts that answers
each part ("(a) ... the answer is (E). (b) ... the answer is (I)"), and a degenerate loop that cycles through the
letters until the token limit ("The answer is (D). The answer is (B). The answer is (C). The answer is (D) ...").
A base model that goes on to write the next few-shot question is scored on what it wrote before it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .layout import looks_truncated
from .letters import FILLER, is_cjk, letter_list_at
from .options import NEGATION, option_for_text
from .rules import ANY_AT_BY_ANCHOR, ASCII_ANCHORS, BEFORE_SPAN, RULES_BY_ANCHOR, _Rule

_AT_SPAN = 120  # the longest answer phrase a rule's ``at`` reads; bounds its work on runs of spaces
_MAX_HITS = 24  # anchor occurrences read from each end of a reply (see _anchor_hits)
_VALUE_SPAN = 200  # how far after an answer phrase its letter may start; bounds the work on hostile input

# The model starts the next few-shot item: "Question:", "## Medical Question", "Here is the next question".
RUNAWAY = re.compile(
    r"\n[ \t#*]*(?:(?:next|new|another|medical)[ \t]+)?(?:question|q|problem)[ \t]*#?\d*[ \t*]*(?:[:：]|\n|$)",
    re.IGNORECASE,
)
_NEXT_QUESTION = re.compile(
    r"\b(?:here\s+is|here's|let's\s+(?:try|do|move\s+on\s+to))\s+(?:the\s+|a\s+|another\s+)?"
    r"(?:next|new|another|following)\s+(?:question|one|problem)",
    re.IGNORECASE,
)
# ... or writes one without a header: a block of option lines immediately followed by an "Answer:" line.
_ANSWER_LINE = re.compile(r"[ \t]*(?:\*\*)?answer(?:\*\*)?[ \t]*[:：]")  # matched on lowered text
_OPTION_LINE = re.compile(r"[ \t]*\(?[A-J][.)][ \t]+\S[^\n]*")
_INVENTED_BLOCK = 3  # option lines before the "Answer:" line that make it a new question

# "If there were bone loss, the answer would be B" is about another patient; "If I had to choose, I would pick
# C" is still a commitment.
_CONDITIONAL_LEAD = re.compile(r"would|should|['’]d\b", re.IGNORECASE)
_IF_CLAUSE = re.compile(r"\b(?:if|unless|were|had|otherwise)\b", re.IGNORECASE)
_FORCED_CHOICE = re.compile(r"\bif\s+(?:I|we)\s+(?:had|have|were|was|must)\s+to\b|\bif\s+forced\b", re.IGNORECASE)

# Option text written after an answer phrase ("the answer is radial head replacement (D)").
_PHRASE = re.compile(r"[^\n.;!?()\[\]{}\"]{1,200}")
_PHRASE_CUT = re.compile(r"\s(?:because|since|as|which|given|due\s+to|porque|car|weil|perché)\b", re.IGNORECASE)
_PAREN_LETTER = re.compile(r"\(\s*(?:(?:option|choice|answer)\s*)?([A-Z])\s*\)", re.IGNORECASE)
# "The answer is (A) is false. ... The answer is (B) is true.": a verdict on each option in turn, not an answer.
_JUDGED_AFTER = re.compile(
    r"[ \t]+(?:is|are)[ \t]+(?:(?:also|clearly|definitely|therefore|thus|not)[ \t]+)*"
    r"(?:true|false|correct|incorrect|wrong|right)\b",
    re.IGNORECASE,
)
_LABEL_LINE = re.compile(r"[ \t]*(?:\*\*)?\(?([A-Z])[.)]")
_MAX_LABEL_LINES = 26
# "The answer is (None of the above)", "(Unable to determine ...)": a final answer that is no option.
_NOT_AN_OPTION = re.compile(r"\([ \t]*[A-Za-z][a-z]+[ \t]+[A-Za-z]")
# A reply in sub-parts: "(a) ... (b) ..." at the start of a line or sentence.
_SUBPARTS = {part: re.compile(rf"(?:^|\n|[.:;][ \t]+)[ \t]*\({part}\)[ \t]") for part in "ab"}
_FINISHED = re.compile(r"[.!?。！？][*_\"'”’)\]\s]*\Z")  # a reply that ends its last sentence
_LOOP_MIN_PERIOD = 2  # the shortest repeated block of letters that is a loop


@dataclass(frozen=True)
class Statement:
    """One answer statement: where it starts, the letters it names (uppercased, possibly out of range), whether
    it is weak (counts only when the reply has no other statement) and whether it is a letter-first verdict.
    No letters: an answer phrase followed by a parenthesised non-option ("The answer is (None of the above)")."""

    pos: int
    letters: tuple[str, ...]
    weak: bool
    verdict: bool = False
    judged: bool = False  # "the answer is (A) is false": part of a walkthrough, never the answer itself
    lower: bool = False  # named by a lowercase letter, which in a reply with sub-parts is a part's label

def _phrase_value(text: str, pos: int, options: Mapping[str, str]) -> tuple[str, ...]:
    """Letters for an answer phrase followed by words: option text, or a "(D)" right after the words."""
    phrase = _PHRASE.match(text, pos)
    if phrase is None:
        return ()
    words = phrase.group()
    cut = _PHRASE_CUT.search(words)
    if cut:
        words = words[: cut.start()]
    if NEGATION.search(words):
        return ()
    if options and (letter := option_for_text(words, options)):
        return (letter,)
    paren = _PAREN_LETTER.match(text, phrase.end())
    return (paren.group(1).upper(),) if paren else ()


def _value_at(text: str, pos: int, options: Mapping[str, str]) -> tuple[tuple[str, ...], int]:
    """The letters an answer phrase ending at pos names, and where they start; () when it names none."""
    start = FILLER.match(text, pos, pos + _VALUE_SPAN).end()
    listed = letter_list_at(text, start)
    if listed is not None:
        return tuple(listed), start
    return _phrase_value(text, start, options), start


def _labels_below(text: str, pos: int) -> tuple[str, ...]:
    """Letters of the labelled lines right below the line at ``pos`` ("A. ...\nE. ..." after "answers are:")."""
    found: list[str] = []
    end = text.find("\n", pos)
    while end >= 0 and len(found) < _MAX_LABEL_LINES:
        label = _LABEL_LINE.match(text, end + 1)
        if label is None:
            break
        found.append(label.group(1))
        end = text.find("\n", label.end())
    return tuple(found)


def _judged_after(text: str, start: int) -> bool:
    """Whether the letter at ``start`` is followed by a verdict on it ("(A) is false")."""
    close = text.find(")", start, start + 4)
    return _JUDGED_AFTER.match(text, close + 1 if close >= 0 else start + 1) is not None


def _is_hypothetical(text: str, lead: str, start: int) -> bool:
    """Whether a conditional answer phrase ("would be", "I'd choose") sits in an if-sentence about another case."""
    if not _CONDITIONAL_LEAD.search(lead):
        return False
    floor = max(0, start - _VALUE_SPAN)
    sentence = text[max(floor, 1 + max(text.rfind(ch, floor, start) for ch in ".!?\n")) : start]
    return _IF_CLAUSE.search(sentence) is not None and _FORCED_CHOICE.search(sentence) is None


def _lowercase(text: str) -> str:
    """Lowercased text with the same length, so positions in it are positions in ``text``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)  # "İ" lowercases to two characters


def _at_word_start(lowered: str, anchor: str, at: int) -> bool:
    """Whether an anchor starts a word ("answer" in "final_answer", not "correct" in "incorrect"); words in
    scripts written without spaces (CJK, kana, Hangul) always do."""
    return at == 0 or is_cjk(anchor[0]) or not lowered[at - 1].isalnum()


def _named_letter(match: re.Match[str], names: tuple[str, ...]) -> int | None:
    """Position of the letter a letter-first rule names (its ``l`` group, or an alternative ``l2``/``l3``)."""
    for name in names:
        if match.start(name) >= 0:
            return match.start(name)
    return None


def _apply(rule: _Rule, text: str, lowered: str, at: int, options: Mapping[str, str]) -> Statement | None:
    """The statement ``rule`` finds at anchor position ``at``, if it matches and names something."""
    after = rule.at.match(lowered, at, at + _AT_SPAN)
    if after is None or after.end() == at + _AT_SPAN:  # cut by the window: not a phrase of normal length
        return None
    start, named = at, _named_letter(after, rule.at_letter) if rule.at_letter else None
    if rule.before is not None:
        before = rule.before.search(lowered, max(0, at - BEFORE_SPAN), at)
        if before is None:
            return None
        start = before.start()
        if named is None and rule.before_letter:
            named = _named_letter(before, rule.before_letter)
    if named is not None:
        return Statement(start, (text[named].upper(),), rule.weak, rule.verdict, lower=text[named].islower())
    if _is_hypothetical(text, lowered[start : after.end()], start):
        return None
    letters, value = _value_at(text, after.end(), options)
    if letters and rule.plural:
        letters += _labels_below(text, value)
    if letters:
        judged = _judged_after(text, value)
        return Statement(start, letters, rule.weak, judged, judged, lower=text[value : value + 2].strip("( ").islower())
    if not rule.weak and _NOT_AN_OPTION.match(text, value):
        return Statement(start, (), rule.weak)
    return None


def runaway_at(text: str, start: int, lowered: str | None = None) -> int | None:
    """Where the model starts inventing the next question after ``start``, or None (``lowered``: the text
    lowercased with the same length, when the caller has it)."""
    lowered = lowered if lowered is not None else text.lower()
    found = RUNAWAY.search(text, start)
    cut = found.start() if found else None
    end = cut if cut is not None else len(text)
    # the plain tests first: these patterns cannot skip ahead to a literal on their own
    asks = lowered.find("question", start, end) >= 0 or lowered.find("problem", start, end) >= 0
    if asks and (announced := _NEXT_QUESTION.search(text, start, end)) is not None:
        cut = text.rfind("\n", start, announced.start()) + 1 or announced.start()
        end = cut
    at, seen = lowered.find("answer", start, end), 0
    while at >= 0 and seen < _MAX_HITS:  # "Answer:" lines, found from the word (a line pattern scans every position)
        seen += 1
        top, lines = lowered.rfind("\n", 0, at) + 1, 0
        at = lowered.find("answer", at + 6, end)
        if not _ANSWER_LINE.match(lowered, top):
            continue
        while lines < _INVENTED_BLOCK and top > start:
            line_start = text.rfind("\n", start, top - 1) + 1
            if not _OPTION_LINE.fullmatch(text, line_start, top - 1):
                break
            top, lines = line_start, lines + 1
        if lines == _INVENTED_BLOCK:
            return top
    return cut


def _anchor_hits(lowered: str, anchor: str, first: int) -> list[int]:
    """Where ``anchor`` occurs: all of it in a real reply; in one that repeats it thousands of times, only the
    first and the last ``_MAX_HITS`` (where the commitment and the start of a runaway are), so hostile input
    costs a bounded number of rule applications."""
    hits: list[int] = []
    at = first
    while at >= 0 and len(hits) < _MAX_HITS:
        hits.append(at)
        at = lowered.find(anchor, at + 1)
    if at < 0:
        return hits
    tail: list[int] = []
    at = lowered.rfind(anchor)
    while at > hits[-1] and len(tail) < _MAX_HITS:
        tail.append(at)
        at = lowered.rfind(anchor, 0, at + len(anchor) - 1)
    return hits + tail[::-1]


def find_statements(text: str, options: Mapping[str, str]) -> list[Statement]:
    """Every answer statement that names something, in order, minus any runaway continuation."""
    lowered = _lowercase(text)
    found: list[Statement] = []
    for anchor in ASCII_ANCHORS if text.isascii() else RULES_BY_ANCHOR:
        first = lowered.find(anchor)
        if first < 0:  # most anchors are absent: no call at all for them
            continue
        any_at = ANY_AT_BY_ANCHOR[anchor]
        for at in _anchor_hits(lowered, anchor, first):
            if any_at.match(lowered, at, at + _AT_SPAN) and _at_word_start(lowered, anchor, at):
                for rule in RULES_BY_ANCHOR[anchor]:
                    statement = _apply(rule, text, lowered, at, options)
                    if statement is not None:
                        found.append(statement)
    found.sort(key=lambda statement: statement.pos)
    if found:  # from the end of the first line on: "1. B\n\nQuestion: ...\nAnswer: A" answered B
        first_line = text.find("\n", len(text) - len(text.lstrip()))
        cut = runaway_at(text, min(found[0].pos, first_line if first_line >= 0 else len(text)) + 1, lowered)
        if cut is not None:
            found = [s for s in found if s.pos < cut]
    return found


def _is_loop(named: list[tuple[str, ...]]) -> bool:
    """Whether the statements repeat one block of different letters at least twice ("D, B, C, A, H, D, B, C, A,
    H, D, B"): a degenerate loop. "A, D, D, A, H, A" (a model answering every few-shot question again) is not."""
    for period in range(_LOOP_MIN_PERIOD, len(named) // 2 + 1):
        block = named[-2 * period :]
        if len(set(block)) > 1 and all(block[i] == block[i + period] for i in range(period)):
            return True
    return False


def committed(statements: list[Statement], text: str) -> tuple[str, ...] | None:
    """The letters of the statement the reply committed to; () for no commitment (a walkthrough, per-part
    answers, a loop, or a final answer that is no option); None when there is no statement at all."""
    if not statements:
        return None
    if len(statements) == 1 and not statements[0].lower:  # the common case: one statement, nothing to weigh
        return () if statements[0].judged else statements[0].letters
    parts = {}
    if "(a)" in text and "(b)" in text:  # the plain test first: the patterns cannot skip ahead on their own
        parts = {part: m.start() for part, pattern in _SUBPARTS.items() if (m := pattern.search(text))}
    if len(parts) == 2:  # sub-parts (a), (b): "answer (a)" names a part, and each part may have its own answer
        statements = [s for s in statements if not s.lower]
        first = {s.letters for s in statements if parts["a"] <= s.pos < parts["b"]}
        if first and any(s.letters not in first for s in statements if s.pos >= parts["b"]):
            return ()
    strong = [s for s in statements if not s.weak]
    if len({s.letters for s in strong if s.verdict}) > 1:  # "(G) is correct ... (H) is correct": a walkthrough
        if looks_truncated(text) or not _FINISHED.search(text):
            return ()  # cut off in the middle of it: even a last "The answer is (J)" may go on "is false"
        strong = [s for s in strong if not s.verdict]
    strong = [s for s in strong if not s.judged]
    chosen = strong or [s for s in statements if s.weak]
    if not chosen:
        return ()
    if len(chosen) >= 2 * _LOOP_MIN_PERIOD and _is_loop([s.letters for s in chosen]):
        return ()  # cycling through the same letters until the token limit
    return chosen[-1].letters
