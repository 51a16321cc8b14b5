"""Option letters: the valid set of a question, and reading one letter (or a list of them) at a position.

A letter only counts where it stands alone as an option label: "C", "(C)", "C)", "C." before a capitalised
option text, a lowercase "c" before punctuation. "A 45-year-old", "B cells", "E. coli" and "I think" are words.
"""

from __future__ import annotations

import re
from functools import lru_cache

_RANGE_SPEC = re.compile(r"([A-Z])-([A-Z])")
_LIST_SPEC = re.compile(r"[A-Z]+")


def parse_letters(spec: str) -> str:
    """"ABCD" -> "ABCD"; "A-J" -> "ABCDEFGHIJ"; raise ValueError naming the bad spec otherwise.

    Strict on purpose: a typo in a task config (lowercase, duplicates, reversed range) would otherwise make
    valid answers look out of range and be scored as extraction failures.
    """
    cleaned = spec.strip() if isinstance(spec, str) else ""
    ranged = _RANGE_SPEC.fullmatch(cleaned)
    if ranged and ranged.group(1) <= ranged.group(2):
        return "".join(chr(c) for c in range(ord(ranged.group(1)), ord(ranged.group(2)) + 1))
    if _LIST_SPEC.fullmatch(cleaned) and len(set(cleaned)) == len(cleaned):
        return cleaned
    raise ValueError(
        f"invalid option letters {spec!r}: expected distinct uppercase letters such as 'ABCD' or a range such as 'A-J'"
    )


@lru_cache(maxsize=256)
def valid_set(letters: str) -> frozenset[str]:
    """The valid letters as a set, cached because adapters pass the same few specs millions of times."""
    return frozenset(parse_letters(letters))


# ---------------------------------------------------------------------------------- reading a letter value

# Latin-looking Cyrillic capitals: Russian keyboards produce "Ответ: С" with a Cyrillic С that means option C.
_HOMOGLYPHS = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")
_LETTER_CHARS = "A-Za-zАВСЕНКМОРТХ"

# Words and marks that may sit between an answer phrase and its letter ("Answer: **option (C)**").
FILLER = re.compile(
    r"""(?:
        [\s*_`"'“”‘’$=>:#\-–—「」『』【】|]
      | \\(?:boxed|fbox|text|textbf|textrm|mathrm|mathbf|mbox)\s*\{ | \\[(\[] | \{ | \\(?=["'])
      | (?:option|choice|letter|answer|either|both|clearly|definitely|likely|most\s+likely|probably|therefore|thus
          |hence|indeed|certainly|obviously|opci[oó]n|op[cç][aã]o|opzione|alternativa|variante|вариант)\b
      | the\s+(?=(?:option|choice|answer|letter)\b)
      | 选项|选择|选|項|项|番号|番|は|是|为
    )*""",
    re.VERBOSE | re.IGNORECASE,
)
_LETTER_AT = re.compile(rf"([(\[])?[ \t]?([{_LETTER_CHARS}])[ \t]?([)\]])?")
# A lowercase letter is only an answer when nothing but punctuation or a closing delimiter follows it:
# "answer: c" and '"answer": "c"' are answers, "answer: a bacterial infection" is not.
_LOWER_TAIL = re.compile(r"[.):]?[ \t]*(?:[\"'}*$」』\]\\。]|\n|$)")
# "E. coli", "S. aureus", "H. pylori": a capital, a dot and a Latin epithet is a species, not a label. Any other
# lowercase word after "C. " is option text ("B. no", "D. tell her"), so only Latin endings are excluded.
_SPECIES = re.compile(r"\.[ \t]+[a-z]{3,}(?:i|ae|us|is|um|ans|ens|ile|ii|ella|occus|ides)\b")
_NUMBER_NEXT = re.compile(r"[ \t]*[-+]?\d")
_AFTER_SPACE = re.compile(r"[ \t]+(?:([a-zà-ÿ][a-zà-ÿ']*)|(\d))?")
# Words that may follow a bare letter without making it part of a noun phrase: "C because ...", but not
# "A bacterial infection", "B cells", "I think" or the conditional "B if the patient were unstable".
_CONNECTORS = frozenset(
    """because since as is was would will should seems appears looks which that for in with and or but given due
    here there from on per based considering this it its not to over instead rather though although however so then
    now also are has being best correct option choice answer y o e et ou und oder ist es est è é porque car parce
    perché poiché pois weil denn da puisque ya""".split()
)
_JOINER = re.compile(
    r"[ \t*_$]*(?:[,;/&+、和或及][ \t*_$]*(?:(?:and|or|und|oder|et|ou|и|или)\b[ \t*_$]*)?"
    r"|(?:and|or|und|oder|et|ou|и|или)\b[ \t*_$]*)(?:(?:option|choice)[ \t]+|\\text\{)?",
    re.IGNORECASE,
)
_MAX_LETTERS = 26  # a longer "list" is not an answer, and reading it further only costs time
# A second letter only joins the first when it ends the list: "A or C", "B, D." but not "C, B is wrong".
_LIST_TAIL = re.compile(r"[ \t*_]*(?:[,;.)\]}\"'*$!?、。]|(?:and|or|are|both)\b|\n|$)", re.IGNORECASE)


def is_cjk(ch: str) -> bool:
    """CJK, kana and Hangul end a letter like punctuation does ("答案是C选项", "정답은 C입니다")."""
    return "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"


def _bare_letter_ends(text: str, raw: str, end: int) -> bool:
    """Whether an undelimited letter at text[end-1] stands alone as an option letter rather than as a word."""
    if end >= len(text) or text[end] == "\n":
        return True
    if raw.islower():
        return _LOWER_TAIL.match(text, end) is not None
    nxt = text[end]
    if is_cjk(nxt):
        return True
    if nxt.isalnum() or nxt in "-_":
        return False
    if nxt in "'’":
        return not text[end + 1 : end + 2].isalnum()  # a closing quote, not "A's"
    if nxt == ".":
        return _SPECIES.match(text, end) is None
    if nxt in " \t":
        spaced = _AFTER_SPACE.match(text, end)
        if spaced.group(2):
            return False  # "A 45-year-old man"
        return spaced.group(1) is None or spaced.group(1) in _CONNECTORS
    return True


def letter_at(text: str, pos: int) -> tuple[str, int] | None:
    """Read one option letter at pos: "C", "(C)", "[c]", "C)"; None when what is there is a word, not a letter."""
    match = _LETTER_AT.match(text, pos)
    if match is None:
        return None
    opener, raw, closer = match.groups()
    if opener and not closer:
        return None
    if raw.islower() and _NUMBER_NEXT.match(text, match.end()):
        return None  # "(a) 0.217, (b) 0.356": sub-part labels with their values, not an option
    if not closer:
        end = match.start(2) + 1
        if not _bare_letter_ends(text, raw, end):
            return None
        return raw.translate(_HOMOGLYPHS).upper(), end
    return raw.translate(_HOMOGLYPHS).upper(), match.end()


def letter_list_at(text: str, pos: int) -> list[str] | None:
    """Read "C", "A or C", "B, D", "A,C" at pos, so a hedged answer can be told apart from a committed one."""
    first = letter_at(text, pos)
    if first is None:
        return None
    found, end = [first[0]], first[1]
    while len(found) <= _MAX_LETTERS and (joiner := _JOINER.match(text, end)) is not None:
        following = letter_at(text, joiner.end())
        if following is None or _LIST_TAIL.match(text, following[1]) is None:
            break
        found.append(following[0])
        end = following[1]
    return found


