"""Option texts: parsed from a question, and matched against what a response wrote.

Used only when the caller knows the options (the harness adapters do; the ``medxpert extract`` CLI and the
judge's rule column often do not): then "the answer is radial head replacement" can be mapped to its letter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|incorrect|wrong|unlikely|false|rule\s+out|ruled\s+out|excluded?)\b"
    r"|n[’']t\b|不|非|错",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[\W_]+")
_TEXT_SLACK = 30
_MAX_OPTION_TEXT = 1000


def normalise(text: str) -> str:
    """Casefolded words joined by single spaces, so option text matches whatever punctuation the model used."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


@lru_cache(maxsize=4096)
def _normalised_items(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Letter -> normalised option text; cached because a benchmark run asks about the same questions often."""
    return {letter.strip().upper(): normalise(text) for letter, text in items}


def normalised_options(options: Mapping[str, str]) -> dict[str, str]:
    """Letter -> normalised option text for the caller's mapping (missing texts left out, not read as "None")."""
    return _normalised_items(tuple((str(k), str(v)) for k, v in options.items() if v is not None))


def option_for_text(text: str, raw_options: Mapping[str, str]) -> str | None:
    """The single option whose text ``text`` states (exactly, or with a few extra words around it).

    The slack allows "a bacterial infection" for "Bacterial infection" or "Capsular plication is best here";
    it is small so that a sentence which merely mentions an option on the way to something else does not
    count. When one option's text is part of another's ("infection" / "bacterial infection") the longer one
    is meant.
    """
    if len(text) > _MAX_OPTION_TEXT:  # a paragraph, not an option's text: and normalising 1 MB is not free
        return None
    said = normalise(text)
    if len(said) < 3 or NEGATION.search(text):
        return None
    options = normalised_options(raw_options)
    padded = f" {said} "
    hits = [
        letter
        for letter, option in options.items()
        if option and (option == said or (f" {option} " in padded and len(said) <= len(option) + _TEXT_SLACK))
    ]
    hits = [h for h in hits if not any(h != o and options[h] in options[o] for o in hits)]
    return hits[0] if len(hits) == 1 else None




_CHOICES_HEADER = re.compile(r"answer\s+choices\s*:", re.IGNORECASE)
_LINE_OPTION = re.compile(r"^[ \t]*\(?([A-Z])[.)][ \t]+(.+?)[ \t]*$", re.MULTILINE)


def options_from_question(question: str) -> dict[str, str]:
    """Parse 'Answer Choices: (A) foo (B) bar ...' (the format MedXpertQA and MedQA/MedMCQA/MMLU files use,
    the choices are written at the end of the question text) into {"A": "foo", "B": "bar", ...}; {} if absent.

    Markers are searched for in order, (A) then (B) then (C) ..., so an option text that itself contains a
    parenthesised letter out of sequence does not split it. One option per line ("A. foo") is accepted too.
    """
    headers = list(_CHOICES_HEADER.finditer(question))
    if not headers:
        return {}
    tail = question[headers[-1].end() :]
    marks: list[tuple[str, int, int]] = []
    search_from = 0
    for code in range(ord("A"), ord("Z") + 1):
        at = tail.find(f"({chr(code)})", search_from)
        if at < 0:
            break
        marks.append((chr(code), at, at + 3))
        search_from = at + 3
    if marks:
        bounds = [m[1] for m in marks[1:]] + [len(tail)]
        return {letter: " ".join(tail[end:stop].split()) for (letter, _, end), stop in zip(marks, bounds)}
    return {m.group(1): m.group(2) for m in _LINE_OPTION.finditer(tail)}
