"""The one answer extractor every harness adapter shares.

It reads the multiple-choice option a model *finally committed to* and returns no answer rather than guess.
Parsers that take the first capital letter (or the first ``A`` anywhere) score "A 45-year-old man..." as
option A and "I think..." as option I, which silently inflates or deflates accuracy; this one only accepts a
letter where the text commits to it:

1. Reasoning is removed first (``<think>...</think>`` and friends). An unterminated reasoning block means the
   model ran out of tokens before answering, so there is no answer, whatever letters the reasoning mentions.
2. *Answer statements* are collected: "the answer is (C)", "Answer: C", ``\\boxed{C}``, ``{"answer": "C"}``,
   "I choose C", "Option C is correct", the same in other languages, and option text written after such a
   phrase. The last one that names something wins, because models revise ("Answer: B ... wait, the answer
   is D"), while a mere mention ("Option A is incorrect because ...") is never a statement.
3. Only when the reply has no statement at all, weaker forms are read: a reply that is just a letter, a first
   or last line such as "C) Capsular plication", a single bolded option, or an option's text on its own.

Everything is precompiled at import and every pattern is linear-time, so 50 KB outputs are cheap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = ["Extraction", "Reason", "extract", "extract_choice", "options_from_question", "parse_letters", "strip_reasoning"]

Reason = Literal["ok", "empty", "unterminated_think", "no_answer", "out_of_range", "conflicting"]


@dataclass(frozen=True)
class Extraction:
    """What was read from one response: the letter, or None with the reason no letter could be trusted."""

    letter: str | None
    reason: Reason


# ----------------------------------------------------------------------------------------------- letters

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
def _valid_set(letters: str) -> frozenset[str]:
    """The valid letters as a set, cached because adapters pass the same few specs millions of times."""
    return frozenset(parse_letters(letters))


# --------------------------------------------------------------------------------------------- reasoning

_THINK_OPEN = re.compile(
    r"<\s*(?:think|thinking|reasoning|thought)\s*>|\[THINK\]|◁think▷|<\|begin_of_thought\|>", re.IGNORECASE
)
_THINK_CLOSE = re.compile(
    r"<\s*/\s*(?:think|thinking|reasoning|thought)\s*>|\[/THINK\]|◁/think▷|<\|end_of_thought\|>", re.IGNORECASE
)


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
    cut = 0
    for match in _THINK_CLOSE.finditer(text):
        cut = match.end()
    if think_end:
        cut = max(cut, text.rfind(think_end) + len(think_end))
    rest = text[cut:]
    if _THINK_OPEN.search(rest):
        return None
    return rest


# ---------------------------------------------------------------------------------- reading a letter value

# Latin-looking Cyrillic capitals: Russian keyboards produce "Ответ: С" with a Cyrillic С that means option C.
_HOMOGLYPHS = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")
_LETTER_CHARS = "A-Za-zАВСЕНКМОРТХ"

# Words and marks that may sit between an answer phrase and its letter ("Answer: **option (C)**").
_FILLER = re.compile(
    r"""(?:
        [\s*_`"'“”‘’$=>:#\-–—「」『』【】|]
      | \\(?:boxed|fbox|text|textbf|textrm|mathrm|mathbf|mbox)\s*\{ | \\[(\[] | \{
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
_AFTER_DOT = re.compile(r"\.[ \t]+[a-z]")
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
# A second letter only joins the first when it ends the list: "A or C", "B, D." but not "C, B is wrong".
_LIST_TAIL = re.compile(r"[ \t*_]*(?:[,;.)\]}\"'*$!?、。]|(?:and|or|are|both)\b|\n|$)", re.IGNORECASE)


def _is_cjk(ch: str) -> bool:
    """CJK, kana and Hangul end a letter like punctuation does ("答案是C选项", "정답은 C입니다")."""
    return "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff"


def _bare_letter_ends(text: str, raw: str, end: int) -> bool:
    """Whether an undelimited letter at text[end-1] stands alone as an option letter rather than as a word."""
    if end >= len(text) or text[end] == "\n":
        return True
    if raw.islower():
        return _LOWER_TAIL.match(text, end) is not None
    nxt = text[end]
    if _is_cjk(nxt):
        return True
    if nxt.isalnum() or nxt in "-_":
        return False
    if nxt in "'’":
        return not text[end + 1 : end + 2].isalnum()  # a closing quote, not "A's"
    if nxt == ".":
        return _AFTER_DOT.match(text, end) is None  # "E. coli", "S. aureus"
    if nxt in " \t":
        spaced = _AFTER_SPACE.match(text, end)
        if spaced.group(2):
            return False  # "A 45-year-old man"
        return spaced.group(1) is None or spaced.group(1) in _CONNECTORS
    return True


def _letter_at(text: str, pos: int) -> tuple[str, int] | None:
    """Read one option letter at pos: "C", "(C)", "[c]", "C)"; None when what is there is a word, not a letter."""
    match = _LETTER_AT.match(text, pos)
    if match is None:
        return None
    opener, raw, closer = match.groups()
    if opener and not closer:
        return None
    if not closer:
        end = match.start(2) + 1
        if not _bare_letter_ends(text, raw, end):
            return None
        return raw.translate(_HOMOGLYPHS).upper(), end
    return raw.translate(_HOMOGLYPHS).upper(), match.end()


def _letter_list_at(text: str, pos: int) -> tuple[list[str], int] | None:
    """Read "C", "A or C", "B, D", "A,C" at pos, so a hedged answer can be told apart from a committed one."""
    first = _letter_at(text, pos)
    if first is None:
        return None
    found, end = [first[0]], first[1]
    while (joiner := _JOINER.match(text, end)) is not None:
        following = _letter_at(text, joiner.end())
        if following is None or _LIST_TAIL.match(text, following[1]) is None:
            break
        found.append(following[0])
        end = following[1]
    return found, end


# --------------------------------------------------------------------------------- answer statements

# Phrases after which the answer follows. Case-insensitive; the letter itself is then read by _letter_list_at.
_LEAD_PATTERNS = (
    # English
    r"\banswers?(?:[ \t]+(?:choice|option|letter))?[ \t]*(?:\((?:letter|option|choice)\))?[ \t*_]*"
    r"(?:[:：=]|[-–—][ \t]|→|->|=>)",
    r"\banswer(?:\s+(?:choice|option|letter))?(?:\s+(?:here|to\s+(?:this|the)\s+question))?\s+"
    r"(?:is|would\s+be|should\s+be|must\s+be|will\s+be|has\s+to\s+be)\b",
    r"\banswers\s+are\b",
    r"\b(?:correct|right|best|final|most\s+appropriate|most\s+likely|appropriate|chosen|selected|my)\s+"
    r"(?:option|choice|selection|response|alternative)\s*(?:is\b|would\s+be\b|should\s+be\b|[:：=])",
    r"\b(?:I|we)(?:\s+would|\s+will|'d|’d|'ll|’ll|\s+(?:am|are)\s+going\s+to|['’](?:m|re)\s+going\s+to|\s+have\s+to)?"
    r"\s+(?:choose|select|pick|go\s+with|opt\s+for)\b",
    r"\b(?:I|we)(?:\s+am|\s+are|['’]m|['’]re)\s+going\s+with\b",
    r"^[ \t#>*_]*(?:final[ \t]+)?answer[ \t*_:]*$",
    r"<answer>",
    r"\\(?:boxed|fbox)\s*\{",
    r"[\"'](?:final_?|correct_?|selected_?|chosen_?|best_?)?(?:answer|choice|option)"
    r"(?:_?(?:choice|letter|option|key|id))?[\"']\s*:",
    # Chinese
    r"(?:最终|正确|最佳|标准|参考)?答案\s*(?:应该|应当|应|可能|就)?\s*(?:是|为|選|选)?\s*[:：]?",
    r"(?:正确|最佳|最合适|最恰当)的?(?:选项|选择)\s*(?:是|为|应为)?\s*[:：]?",
    r"(?<!不)(?<!不应)选(?:择)?(?=\s*[(\[]?[A-Za-z])",
    # Japanese, Korean
    r"(?:答え|正解|正答|解答)\s*(?:は|：|:)",
    r"(?:정답|답변|답|최종\s*답)\s*(?:은|는|:|：|=)",
    # Spanish, French, German, Portuguese, Italian
    r"\brespuesta(?:\s+(?:correcta|final|adecuada|m[aá]s\s+adecuada))?\s*(?:es|ser[ií]a|:)(?:\s+(?:la|el)(?=\s+\S))?",
    r"\bopci[oó]n\s+(?:correcta|adecuada|m[aá]s\s+adecuada)\s*(?:es|:)(?:\s+la(?=\s+\S))?",
    r"\br[ée]ponse(?:\s+(?:correcte|finale|exacte|juste))?\s*(?:est|serait|:)(?:\s+(?:la|le)(?=\s+\S))?",
    r"\b(?:antwort|l[öo]sung)\s*(?:ist|lautet|w[äa]re|:)(?:\s+(?:also|daher|somit))?",
    r"\bresposta(?:\s+(?:correta|certa|final))?\s*(?:é|seria|:)(?:\s+(?:a|o)(?=\s+\S))?",
    r"\balternativa\s+(?:correta|certa|correcta)\s*(?:é|es|:)(?:\s+(?:a|la)(?=\s+\S))?",
    r"\brisposta(?:\s+(?:corretta|esatta|giusta|finale))?\s*(?:è|e'|sarebbe|:)(?:\s+(?:la|il)(?=\s+\S))?",
    r"\b(?:je\s+choisis|elijo|escojo|selecciono|ich\s+w[äa]hle|scelgo|escolho)\b(?:\s+(?:la|el|a|o)(?=\s+\S))?",
    # Russian, Vietnamese, Indonesian, Turkish, Arabic, Hindi
    r"(?:ответ|вариант\s+ответа)\s*(?:[:：—–-]|это\b|будет\b)",
    r"\bđáp\s+án(?:\s+đúng)?\s*(?:là|:)",
    r"\bjawaban(?:nya)?(?:\s+(?:yang\s+)?benar)?\s*(?:adalah|:)",
    r"\b(?:doğru\s+)?cevap(?:\s+şıkkı)?\s*(?::|=)",
    r"الإجابة(?:\s+الصحيحة)?\s*(?:هي|:)",
    r"उत्तर\s*(?:है|:)",
)

# "The most likely diagnosis is (B)", "the best next step is C": a weak statement, because explanations use the
# same words about other cases ("the best treatment for bone loss is B"); it counts only when nothing stronger
# is in the reply.
_WEAK_LEAD = (
    r"\b(?:most\s+(?:appropriate|likely|probable|correct|accurate)|best|correct)\s+"
    r"(?:(?!(?:answer|option|choice)\b)[\w-]+\s+){0,5}?is\b"
)

# "Option A is correct only if ...", "... correct in some cases", "... correct for patients with ...": a
# conditional verdict on an option is a mention, not a commitment ("for/in this patient" still commits).
_NOT_CONDITIONAL = (
    r"(?![ \t]+(?:only[ \t]+)?(?:if|when|unless|(?:in|for)[ \t]+(?!this\b|the[ \t]+(?:patient|case)\b)))"
)
# Statements where the letter comes first ("Option C is correct"); each names its letter group.
_TRAIL_PATTERNS = (
    r"\b(?:option|choice|answer|alternative)\s*\(?(?P<t1>[A-Za-z])\)?\s+(?:is|seems\s+to\s+be)\s+"
    r"(?:the\s+)?(?:most\s+(?:likely|appropriate|correct|accurate)|correct|right|best)\b" + _NOT_CONDITIONAL,
    r"(?:\(\s*(?P<t2>[A-Za-z])\s*\)|\*\*\s*(?P<t3>[A-Z])\s*\*\*)\s+is\s+(?:the\s+)?(?:most\s+)?(?:correct|right|best)\b"
    + _NOT_CONDITIONAL,
    # A bare letter only at the start of a sentence: "C is the correct answer", never "Hepatitis B is the ...".
    r"(?:^|(?<=[.:;!?])[ \t]+|\b(?:so|thus|therefore|hence),?[ \t]+)(?P<t4>[A-Z])[ \t]+is[ \t]+the[ \t]+"
    r"(?:correct|right|best|most[ \t]+appropriate)[ \t]+(?:answer|option|choice)\b",
    r"\b(?:so|thus|therefore|hence),?[ \t]+(?:the[ \t]+)?(?:option|choice)[ \t]*\(?(?P<t5>[A-Z])\)?[ \t]*[.!]?[ \t*]*$",
    r"\b(?:opci[oó]n|alternativa|opzione|option|variante)\s+(?P<t6>[A-Z])\s+(?:es|é|è|est|ist)\s+(?:la\s+|a\s+|die\s+)?"
    r"(?:correcta|correta|corretta|correcte|bonne|richtige|korrekt)",
    r"选项\s*(?P<t7>[A-Z])\s*(?:是|为)?\s*(?:正确|最佳|最合适|最恰当)",
    r"(?<![A-Za-z])(?P<t8>[A-Z])\s*(?:项|选项)?\s*(?:是|为)\s*(?:正确|最佳|最合适|最恰当)的?(?:答案|选项)",
    r"(?<![A-Za-z])(?P<t9>[A-Z])\s*(?:が|を)\s*(?:正解|選び|選択|選ぶ)",
    r"(?<![A-Za-z])(?P<t10>[A-Z])\s*번?\s*(?:이|가)\s*정답",
    r"\banswer[ \t]*\([ \t]*(?P<t11>[A-Z])[ \t]*\)(?![ \t]+(?:is|was)[ \t]+(?:not|in|wrong))",
)
_STATEMENT = re.compile(
    "(?P<lead>" + "|".join(f"(?:{p})" for p in _LEAD_PATTERNS) + f")|(?P<weak>{_WEAK_LEAD})|"
    + "|".join(f"(?:{p})" for p in _TRAIL_PATTERNS),
    re.IGNORECASE | re.MULTILINE,
)
_TRAIL_GROUPS = tuple(name for name in _STATEMENT.groupindex if name not in ("lead", "weak"))

# A base model that keeps writing the next few-shot item ("Answer: C\n\nQuestion: A 30-year-old ...
# Answer: B") must be scored on its own answer, so text from such a line on is ignored.
_RUNAWAY = re.compile(r"^[ \t#*]*(?:question|q)[ \t]*\d*[ \t*]*[:：]", re.IGNORECASE | re.MULTILINE)

# "If there were bone loss, the answer would be B" is about another patient; "If I had to choose, I would pick
# C" is still a commitment.
_CONDITIONAL_LEAD = re.compile(r"would|should|['’]d\b", re.IGNORECASE)
_IF_CLAUSE = re.compile(r"\b(?:if|unless|were|had|otherwise)\b", re.IGNORECASE)
_FORCED_CHOICE = re.compile(r"\bif\s+(?:I|we)\s+(?:had|have|were|was|must)\s+to\b|\bif\s+forced\b", re.IGNORECASE)

# Option text written after an answer phrase ("the answer is radial head replacement (D)").
_PHRASE = re.compile(r"[^\n.;!?()\[\]{}\"]{1,200}")
_PHRASE_CUT = re.compile(r"\s(?:because|since|as|which|given|due\s+to|porque|car|weil|perché)\b", re.IGNORECASE)
_PAREN_LETTER = re.compile(r"\(\s*(?:option|choice|answer)?\s*([A-Z])\s*\)", re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|incorrect|wrong|unlikely|false|rule\s+out|ruled\s+out|excluded?)\b|n[’']t\b|不|非|错",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class _Statement:
    """One answer statement: where it starts, the letters it names (uppercased, possibly out of range), and
    whether it is a weak one that only counts when the reply has no other statement."""

    pos: int
    letters: tuple[str, ...]
    weak: bool = False


def _normalise(text: str) -> str:
    """Casefolded words joined by single spaces, so option text matches whatever punctuation the model used."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def _option_for_text(text: str, options: Mapping[str, str], slack: int = 25) -> str | None:
    """The single option whose text ``text`` states (exactly, or with at most ``slack`` extra characters).

    The slack allows "a bacterial infection" for "Bacterial infection"; after an answer phrase it is small so
    that a sentence which merely mentions an option on the way to something else does not count. When one
    option's text is part of another's ("infection" / "bacterial infection") the longer one is meant.
    """
    said = _normalise(text)
    if len(said) < 3 or _NEGATION.search(text):
        return None
    padded = f" {said} "
    hits = [
        letter
        for letter, option in options.items()
        if option and (option == said or (f" {option} " in padded and len(said) <= len(option) + slack))
    ]
    hits = [h for h in hits if not any(h != o and options[h] in options[o] for o in hits)]
    return hits[0] if len(hits) == 1 else None


def _phrase_value(text: str, pos: int, options: Mapping[str, str]) -> tuple[str, ...]:
    """Letters for an answer phrase followed by words: option text, or a "(D)" right after the words."""
    phrase = _PHRASE.match(text, pos)
    if phrase is None:
        return ()
    words = phrase.group()
    cut = _PHRASE_CUT.search(words)
    if cut:
        words = words[: cut.start()]
    if _NEGATION.search(words):
        return ()
    if options and (letter := _option_for_text(words, options)):
        return (letter,)
    paren = _PAREN_LETTER.match(text, phrase.end())
    return (paren.group(1).upper(),) if paren else ()


def _value_at(text: str, pos: int, options: Mapping[str, str]) -> tuple[str, ...]:
    """The letters an answer phrase ending at pos commits to; () when it is followed by something else."""
    start = _FILLER.match(text, pos).end()
    listed = _letter_list_at(text, start)
    if listed is not None:
        return tuple(listed[0])
    return _phrase_value(text, start, options)


def _is_hypothetical(text: str, lead: str, start: int) -> bool:
    """Whether a conditional answer phrase ("would be", "I'd choose") sits in an if-sentence about another case."""
    if not _CONDITIONAL_LEAD.search(lead):
        return False
    sentence = text[max(text.rfind(ch, 0, start) for ch in ".!?\n") + 1 : start]
    return _IF_CLAUSE.search(sentence) is not None and _FORCED_CHOICE.search(sentence) is None


def _statements(text: str, options: Mapping[str, str]) -> list[_Statement]:
    """Every answer statement that names something, in order, minus any runaway continuation."""
    found: list[_Statement] = []
    for match in _STATEMENT.finditer(text):
        lead = match.group("lead") or match.group("weak")
        if lead is not None:
            if _is_hypothetical(text, lead, match.start()):
                continue
            letters = _value_at(text, match.end(), options)
        else:
            raw = next(match.group(g) for g in _TRAIL_GROUPS if match.group(g) is not None)
            letters = (raw.upper(),)
        if letters:
            found.append(_Statement(match.start(), letters, weak=match.group("weak") is not None))
    if found:
        runaway = _RUNAWAY.search(text, found[0].pos)
        if runaway is not None:
            found = [s for s in found if s.pos < runaway.start()]
    return found


def _verdict(letters: tuple[str, ...], valid: frozenset[str]) -> Extraction:
    """Turn the letters of the committing statement into an Extraction: one in-range letter or a reason."""
    distinct = set(letters)
    if len(distinct) > 1:
        return Extraction(None, "conflicting")
    (letter,) = distinct
    return Extraction(letter, "ok") if letter in valid else Extraction(None, "out_of_range")


# ------------------------------------------------------------------------------- fallbacks (no statement)

_MD_EDGES = re.compile(r"^[\s*_#>`~•-]+|[\s*_`~]+$")
_LONE_LETTER = re.compile(r"\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Za-z])[.):]?")
_LETTER_LINE = re.compile(
    r"(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])[.):]|([a-z])\)|([A-Z])[ \t]+[-–—])[ \t]*(\S.*)"
)
_BOLD_LETTER = re.compile(r"\*\*[ \t]*(?:\(([A-Za-z])\)|([A-Z])(?![\w'’-]))[ \t]*(?:[.):\-–—][^*\n]{0,200})?\*\*")
_BOLD_LINE = re.compile(r"[ \t>#*-]*\*\*[^*\n]+\*\*[ \t]*")
_SHORT_LINE = 120
# "I. History ... II. Plan": in a roman-numbered outline "I." is a heading, not option I.
_ROMAN_OUTLINE = re.compile(r"^[ \t#*]*(?:II|III|IV|VI{0,3}|IX)[.)][ \t]", re.MULTILINE)


def _clean_line(line: str) -> str:
    """A line without markdown emphasis, heading or bullet marks around it."""
    return _MD_EDGES.sub("", line)


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
    """Whether a labelled line reads as an answer: short, not negated, and not naming a different option."""
    if len(line) > _SHORT_LINE or _NEGATION.search(rest):
        return False
    named = _option_for_text(rest, options) if options else None
    return named is None or named == letter


def _bold_line_letters(raw_lines: list[str], labels: list[tuple[str, str] | None]) -> set[str]:
    """Letters of lines that are one bold option ("**B) Bacterial infection**"): the way Gemma-style replies
    highlight the answer above an explanation whose own bold labels ("**A) Viral:** ...") are commentary."""
    return {label[0] for raw, label in zip(raw_lines, labels) if label and _BOLD_LINE.fullmatch(raw)}


def _fallback(text: str, valid: frozenset[str], options: Mapping[str, str]) -> str | None:
    """Weak commitments, used only when the reply has no answer statement; in-range letters only.

    A lone letter on the first or last line is an answer. A labelled line ("C) Capsular plication") is one only
    when no other line is labelled with a different letter: several labels are a restated option list or an
    option-by-option walkthrough, whose last item is not a choice.
    """
    raw_lines = [raw for raw in text.splitlines() if _clean_line(raw)]
    if not raw_lines:
        return None
    lines = [_clean_line(raw) for raw in raw_lines]
    labels = [_line_label(c) for c in lines]
    if not _ROMAN_OUTLINE.search(text):
        one_label = len({label[0] for label in labels if label}) == 1
        for i in (len(lines) - 1, 0):
            label = labels[i]
            if label is None or label[0] not in valid:
                continue
            letter, rest = label
            if not rest or (one_label and _label_commits(lines[i], letter, rest, options)):
                return letter
    for bold in (_bold_line_letters(raw_lines, labels), {_first_group(m, 2) for m in _BOLD_LETTER.finditer(text)}):
        if len(bold & valid) == 1:
            return (bold & valid).pop()
    if options:
        for i in (len(lines) - 1, 0):
            short = len(lines[i]) <= _SHORT_LINE and labels[i] is None
            letter = _option_for_text(lines[i], options, _SHORT_LINE) if short else None
            if letter in valid:
                return letter
    return None


# ------------------------------------------------------------------------------------------- public API


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
    """
    if response is None or not response.strip():
        return Extraction(None, "empty")
    valid = _valid_set(letters)
    body = strip_reasoning(response, think_end=think_end)
    if body is None:
        return Extraction(None, "unterminated_think")
    body = unicodedata.normalize("NFKC", body)
    normalised_options = {str(k).strip().upper(): _normalise(str(v)) for k, v in (options or {}).items()}
    statements = _statements(body, normalised_options)
    if statements:
        strong = [s for s in statements if not s.weak]
        return _verdict((strong or statements)[-1].letters, valid)
    letter = _fallback(body, valid, normalised_options)
    return Extraction(letter, "ok") if letter else Extraction(None, "no_answer")


def extract_choice(
    response: str | None,
    letters: str = "ABCDE",
    options: Mapping[str, str] | None = None,
    *,
    think_end: str | None = None,
) -> str | None:
    """Convenience: extract(...).letter, for callers that only score and do not report why nothing was read."""
    return extract(response, letters, options, think_end=think_end).letter


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
