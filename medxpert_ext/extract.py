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
   is D"), while a mere mention ("Option A is incorrect because ...") is never a statement. Looser phrases
   ("the most likely diagnosis is (B)") count only when the reply has no explicit one.
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

__all__ = [
    "Extraction",
    "Reason",
    "extract",
    "extract_choice",
    "options_from_question",
    "parse_letters",
    "strip_reasoning",
]

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
# Substrings every opening / closing tag contains: checking for them first skips the regex on most replies.
_OPEN_MARKS = ("<", "[", "◁")
_CLOSE_MARKS = ("</", "[/", "◁/", "end_of_thought")
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
    if any(mark in text for mark in _CLOSE_MARKS):
        for match in _THINK_CLOSE.finditer(text):
            cut = match.end()
    if think_end:
        cut = max(cut, text.rfind(think_end) + len(think_end))
    rest = text[cut:]
    if any(mark in rest for mark in _OPEN_MARKS) and _THINK_OPEN.search(rest):
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
_MAX_LETTERS = 26  # a longer "list" is not an answer, and reading it further only costs time
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


def _letter_list_at(text: str, pos: int) -> list[str] | None:
    """Read "C", "A or C", "B, D", "A,C" at pos, so a hedged answer can be told apart from a committed one."""
    first = _letter_at(text, pos)
    if first is None:
        return None
    found, end = [first[0]], first[1]
    while len(found) <= _MAX_LETTERS and (joiner := _JOINER.match(text, end)) is not None:
        following = _letter_at(text, joiner.end())
        if following is None or _LIST_TAIL.match(text, following[1]) is None:
            break
        found.append(following[0])
        end = following[1]
    return found


# --------------------------------------------------------------------------------- answer statements


@dataclass(frozen=True)
class _Rule:
    """One way of stating an answer, found from an anchor word so that matching stays fast.

    Python's regex engine tries every alternative at every position: one pattern holding all of these costs
    about 1 ms per 2 KB response. Every statement contains an anchor word, which ``str.find`` locates at memory
    speed; ``at`` is then matched at the anchor and ``before`` must end right at it. Both run on lowercased
    text. A statement with a letter group ``l`` names its letter ("Option C is correct"); one without is an
    answer phrase whose letter follows ("The answer is").
    """

    anchors: tuple[str, ...]
    at: re.Pattern[str]
    before: re.Pattern[str] | None
    weak: bool


def _rule(anchors: str, at: str, before: str | None = None, *, weak: bool = False) -> _Rule:
    """A rule from space-separated anchor words ("_" for a space inside one) and its two patterns."""
    return _Rule(
        tuple(a.replace("_", " ") for a in anchors.split()),
        re.compile(at, re.MULTILINE),
        re.compile(f"(?:{before})\\Z", re.MULTILINE) if before else None,
        weak,
    )


# "Option A is correct only if ...", "... correct in some cases", "... correct for patients with ...": a
# conditional verdict on an option is a mention, not a commitment ("for/in this patient" still commits).
_NOT_CONDITIONAL = (
    r"(?![ \t]+(?:only[ \t]+)?(?:if|when|unless|(?:in|for)[ \t]+(?!this\b|the[ \t]+(?:patient|case)\b)))"
)
_VERDICT = r"(?:the\s+)?(?:most\s+(?:likely|appropriate|correct|accurate)|correct|right|best)\b" + _NOT_CONDITIONAL
_RULES: tuple[_Rule, ...] = (
    # English answer phrases: "Answer: C", "the answer is C", "## Final Answer", <answer>, JSON keys, \boxed{}
    _rule("answer", r"answers?(?:[ \t]+(?:choice|option|letter))?[ \t]*(?:\((?:letter|option|choice)\)[ \t]*)?"
          r"(?:[*_]+[ \t]*)?(?:[:：=]|[-–—][ \t]|→|->|=>)"),
    _rule("answer", r"answer(?:\s+(?:choice|option|letter))?(?:\s+(?:here|to\s+(?:this|the)\s+question))?\s+"
          r"(?:is|would\s+be|should\s+be|must\s+be|will\s+be|has\s+to\s+be)\b"),
    _rule("answer", r"answers\s+are\b"),
    _rule("answer", r"answer[ \t*_:]*$", r"^[ \t#>*_]*(?:final[ \t]+)?"),
    _rule("answer", r"answer>", r"<"),
    _rule("ans", r"ans[ \t]*[:：]"),
    _rule("answer choice option", r"(?:answer|choice|option)(?:_?(?:choice|letter|option|key|id))?[\"']\s*:",
          r"[\"'](?:final_?|correct_?|selected_?|chosen_?|best_?)?"),
    _rule("boxed fbox", r"(?:boxed|fbox)\s*\{"),
    # "the best option is C", "I would choose C", "I'm going with C"
    _rule("option choice select response alternativ",
          r"(?:option|choice|selection|response|alternative)\s*(?:is\b|would\s+be\b|should\s+be\b|[:：=])",
          r"\b(?:correct|right|best|final|most\s+appropriate|most\s+likely|appropriate|chosen|selected|my)\s+"),
    _rule("choose select pick go_with opt_for", r"(?:choose|select|pick|go\s+with|opt\s+for)\b",
          r"\b(?:i|we)(?:\s+would|\s+will|['’]d|['’]ll|\s+(?:am|are)\s+going\s+to|['’](?:m|re)\s+going\s+to"
          r"|\s+have\s+to)?\s+"),
    _rule("going_with", r"going\s+with\b", r"\b(?:i|we)(?:\s+am|\s+are|['’]m|['’]re)\s+"),
    # Letter first: "Option C is correct", "(C) is the best", "C is the correct answer", "Therefore, option C."
    _rule("option choice answer alternativ",
          r"(?:option|choice|answer|alternative)\s*\(?(?P<l>[a-z])\)?\s+(?:is|seems\s+to\s+be)\s+" + _VERDICT),
    # a bare letter only at the start of a sentence: "E is correct", never "Vitamin C is correct"
    _rule("correct best", r"(?:correct|best)\b" + _NOT_CONDITIONAL,
          r"(?:(?:\(|\*\*)[ \t]*|(?:^|(?<=[.:;!?])[ \t]+|\b(?:so|thus|therefore|hence),?[ \t]+))(?P<l>[a-z])"
          r"(?:[ \t]*(?:\)|\*\*))?\s+is\s+(?:the\s+)?(?:most\s+)?"),
    _rule("answer option choice", r"(?:answer|option|choice)\b",
          r"(?:^|(?<=[.:;!?])[ \t]+|\b(?:so|thus|therefore|hence),?[ \t]+)\(?(?P<l>[a-z])\)?[ \t]+is[ \t]+the[ \t]+"
          r"(?:correct|right|best|most[ \t]+appropriate)[ \t]+"),
    _rule("option choice", r"(?:option|choice)[ \t]*\(?(?P<l>[a-z])\)?[ \t]*(?:[.!*][ \t.!*]*)?$",
          r"\b(?:so|thus|therefore|hence),?[ \t]+(?:the[ \t]+)?"),
    _rule("answer", r"answer[ \t]*\([ \t]*(?P<l>[a-z])[ \t]*\)(?![ \t]+(?:is|was)[ \t]+(?:not|in|wrong))"),
    # Chinese
    _rule("答案", r"答案\s*(?:应该|应当|应|可能|就)?\s*(?:是|为|選|选)?\s*[:：]?"),
    _rule("答", r"答\s*[:：]"),
    _rule("正确 最佳 最合适 最恰当", r"(?:正确|最佳|最合适|最恰当)的?(?:选项|选择)\s*(?:是|为|应为)?\s*[:：]?"),
    _rule("选", r"(?<!不)(?<!不应)选(?:择)?(?=\s*[(\[]?[a-z])"),
    _rule("选", r"选项\s*(?P<l>[a-z])\s*(?:(?:是|为)\s*)?(?:正确|最佳|最合适|最恰当)"),
    _rule("正确 最佳 最合适 最恰当", r"(?:正确|最佳|最合适|最恰当)的?(?:答案|选项)",
          r"(?<![a-z])(?P<l>[a-z])\s*(?:项|选项)?\s*(?:是|为)\s*"),
    # Japanese, Korean
    _rule("答え 正解 正答 解答", r"(?:答え|正解|正答|解答)\s*(?:は|：|:)"),
    _rule("正解 選", r"(?:正解|選び|選択|選ぶ)", r"(?<![a-z])(?P<l>[a-z])\s*(?:が|を)\s*"),
    _rule("답", r"답(?:변)?\s*(?:은|는|:|：|=)"),
    _rule("답", r"답", r"(?<![a-z])(?P<l>[a-z])\s*번?\s*(?:이|가)\s*정"),
    # Spanish, French, German, Portuguese, Italian
    _rule("respuesta", r"respuesta(?:\s+(?:correcta|final|adecuada|m[aá]s\s+adecuada))?\s*(?:es|ser[ií]a|:)"
          r"(?:\s+(?:la|el)(?=\s+\S))?"),
    _rule("opci", r"opci[oó]n\s+(?:correcta|adecuada|m[aá]s\s+adecuada)\s*(?:es|:)(?:\s+la(?=\s+\S))?"),
    _rule("réponse reponse", r"r[ée]ponse(?:\s+(?:correcte|finale|exacte|juste))?\s*(?:est|serait|:)"
          r"(?:\s+(?:la|le)(?=\s+\S))?"),
    _rule("antwort lösung loesung",
          r"(?:antwort|l(?:ö|oe)sung)\s*(?:ist|lautet|w(?:ä|ae)re|:)(?:\s+(?:also|daher|somit))?"),
    _rule("resposta", r"resposta(?:\s+(?:correta|certa|final))?\s*(?:é|seria|:)(?:\s+(?:a|o)(?=\s+\S))?"),
    _rule("alternativ", r"alternativa\s+(?:correta|certa|correcta)\s*(?:é|es|:)(?:\s+(?:a|la)(?=\s+\S))?"),
    _rule("risposta", r"risposta(?:\s+(?:corretta|esatta|giusta|finale))?\s*(?:è|e'|sarebbe|:)"
          r"(?:\s+(?:la|il)(?=\s+\S))?"),
    _rule("choisis elijo escojo selecciono scelgo escolho",
          r"(?:choisis|elijo|escojo|selecciono|scelgo|escolho)\b(?:\s+(?:la|el|a|o)(?=\s+\S))?"),
    _rule("opci alternativ opzione option variante",
          r"(?:opci[oó]n|alternativa|opzione|option|variante)\s+(?P<l>[a-z])\s+(?:es|é|è|est|ist)\s+"
          r"(?:la\s+|a\s+|die\s+)?(?:correcta|correta|corretta|correcte|bonne|richtige|korrekt)"),
    # Russian, Vietnamese, Indonesian, Turkish, Arabic, Hindi
    _rule("ответ", r"ответа?\s*(?:[:：—–-]|это\b|будет\b)"),
    _rule("đáp", r"đáp\s+án(?:\s+đúng)?\s*(?:là|:)"),
    _rule("jawaban", r"jawaban(?:nya)?(?:\s+(?:yang\s+)?benar)?\s*(?:adalah|:)"),
    _rule("cevap", r"cevap(?:\s+şıkkı)?\s*(?::|=)"),
    _rule("الإجابة", r"الإجابة(?:\s+الصحيحة)?\s*(?:هي|:)"),
    _rule("उत्तर", r"उत्तर\s*(?:है|:)"),
    # "The most likely diagnosis is (B)", "the best next step is C": weak, because explanations use the same
    # words about other cases ("the best treatment for bone loss is B"); it counts only when nothing stronger
    # is in the reply.
    _rule("most best correct", r"(?:most\s+(?:appropriate|likely|probable|correct|accurate)|best|correct)\s+"
          r"(?:(?!(?:answer|option|choice)\b)[\w-]+\s+){0,5}?is\b", weak=True),
)  # fmt: skip
_RULES_BY_ANCHOR: dict[str, tuple[_Rule, ...]] = {
    anchor: tuple(rule for rule in _RULES if anchor in rule.anchors) for rule in _RULES for anchor in rule.anchors
}
_ASCII_ANCHORS = tuple(anchor for anchor in _RULES_BY_ANCHOR if anchor.isascii())
_BEFORE_SPAN = 60  # the longest text a ``before`` pattern covers ("therefore, C is the most appropriate ")

# A base model that keeps writing the next few-shot item ("Answer: C\n\nQuestion: A 30-year-old ...
# Answer: B") must be scored on its own answer, so text from such a line on is ignored.
_RUNAWAY = re.compile(r"\n[ \t#*]*(?:question|q)[ \t]*\d*[ \t*]*[:：]", re.IGNORECASE)

# "If there were bone loss, the answer would be B" is about another patient; "If I had to choose, I would pick
# C" is still a commitment.
_CONDITIONAL_LEAD = re.compile(r"would|should|['’]d\b", re.IGNORECASE)
_IF_CLAUSE = re.compile(r"\b(?:if|unless|were|had|otherwise)\b", re.IGNORECASE)
_FORCED_CHOICE = re.compile(r"\bif\s+(?:I|we)\s+(?:had|have|were|was|must)\s+to\b|\bif\s+forced\b", re.IGNORECASE)

# Option text written after an answer phrase ("the answer is radial head replacement (D)").
_PHRASE = re.compile(r"[^\n.;!?()\[\]{}\"]{1,200}")
_PHRASE_CUT = re.compile(r"\s(?:because|since|as|which|given|due\s+to|porque|car|weil|perché)\b", re.IGNORECASE)
_PAREN_LETTER = re.compile(r"\(\s*(?:(?:option|choice|answer)\s*)?([A-Z])\s*\)", re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|incorrect|wrong|unlikely|false|rule\s+out|ruled\s+out|excluded?)\b"
    r"|n[’']t\b|不|非|错",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[\W_]+")
_TEXT_SLACK = 30
_VALUE_SPAN = 200  # how far after an answer phrase its letter may start; bounds the work on hostile input


@dataclass(frozen=True)
class _Statement:
    """One answer statement: where it starts, the letters it names (uppercased, possibly out of range), and
    whether it is a weak one that only counts when the reply has no other statement."""

    pos: int
    letters: tuple[str, ...]
    weak: bool


def _normalise(text: str) -> str:
    """Casefolded words joined by single spaces, so option text matches whatever punctuation the model used."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


@lru_cache(maxsize=4096)
def _normalised_items(items: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Letter -> normalised option text; cached because a benchmark run asks about the same questions often."""
    return {letter.strip().upper(): _normalise(text) for letter, text in items}


def _normalised_options(options: Mapping[str, str]) -> dict[str, str]:
    """Letter -> normalised option text for the caller's mapping (missing texts left out, not read as "None")."""
    return _normalised_items(tuple((str(k), str(v)) for k, v in options.items() if v is not None))


def _option_for_text(text: str, raw_options: Mapping[str, str]) -> str | None:
    """The single option whose text ``text`` states (exactly, or with a few extra words around it).

    The slack allows "a bacterial infection" for "Bacterial infection" or "Capsular plication is best here";
    it is small so that a sentence which merely mentions an option on the way to something else does not
    count. When one option's text is part of another's ("infection" / "bacterial infection") the longer one
    is meant.
    """
    said = _normalise(text)
    if len(said) < 3 or _NEGATION.search(text):
        return None
    options = _normalised_options(raw_options)
    padded = f" {said} "
    hits = [
        letter
        for letter, option in options.items()
        if option and (option == said or (f" {option} " in padded and len(said) <= len(option) + _TEXT_SLACK))
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
    start = _FILLER.match(text, pos, pos + _VALUE_SPAN).end()
    listed = _letter_list_at(text, start)
    if listed is not None:
        return tuple(listed)
    return _phrase_value(text, start, options)


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
    return at == 0 or _is_cjk(anchor[0]) or not lowered[at - 1].isalnum()


def _apply(rule: _Rule, text: str, lowered: str, at: int, options: Mapping[str, str]) -> _Statement | None:
    """The statement ``rule`` finds at anchor position ``at``, if it matches and names something."""
    after = rule.at.match(lowered, at)
    if after is None:
        return None
    start, named = at, after
    if rule.before is not None:
        before = rule.before.search(lowered, max(0, at - _BEFORE_SPAN), at)
        if before is None:
            return None
        start = before.start()
        if "l" in rule.before.groupindex:
            named = before
    if "l" in named.re.groupindex:
        return _Statement(start, (text[named.start("l")].upper(),), rule.weak)
    if _is_hypothetical(text, lowered[start : after.end()], start):
        return None
    letters = _value_at(text, after.end(), options)
    return _Statement(start, letters, rule.weak) if letters else None


def _statements(text: str, options: Mapping[str, str]) -> list[_Statement]:
    """Every answer statement that names something, in order, minus any runaway continuation."""
    lowered = _lowercase(text)
    found: list[_Statement] = []
    for anchor in _ASCII_ANCHORS if text.isascii() else _RULES_BY_ANCHOR:
        at = lowered.find(anchor)
        while at >= 0:
            if _at_word_start(lowered, anchor, at):
                for rule in _RULES_BY_ANCHOR[anchor]:
                    statement = _apply(rule, text, lowered, at, options)
                    if statement is not None:
                        found.append(statement)
            at = lowered.find(anchor, at + 1)
    found.sort(key=lambda statement: statement.pos)
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

_LONE_LETTER = re.compile(r"\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Za-z])[.):]?")
_LETTER_LINE = re.compile(
    r"(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])[.):]|([a-z])\)|([A-Z])[ \t]+[-–—])[ \t]*(\S.*)"
)
# A bolded option that ends its line ("**B) Bacterial infection**", "Hence, **C**."); a bold label followed by
# commentary ("**A) Viral:** usually interstitial") is a walkthrough item, not a choice.
_BOLD_LETTER = re.compile(
    r"\*\*[ \t]*(?:\(([A-Za-z])\)|([A-Z])(?![\w'’-]))[ \t]*(?:[.):\-–—][^*\n]{0,200})?\*\*(?=[ \t.!)]*$)",
    re.MULTILINE,
)
_SHORT_LINE = 120
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
    if len(line) > _SHORT_LINE or _NEGATION.search(rest):
        return False
    return not options or _option_for_text(rest, options) == letter


def _is_exactly_option(text: str, letter: str, options: Mapping[str, str]) -> bool:
    """Whether ``text`` is option ``letter``'s text, give or take case and punctuation (not a comment on it)."""
    return bool(options) and _normalised_options(options).get(letter) == _normalise(text)


def _fallback(text: str, valid: frozenset[str], options: Mapping[str, str]) -> str | None:
    """Weak commitments, used only when the reply has no answer statement; in-range letters only.

    A lone letter on the first or last line is an answer. A labelled line ("C) Capsular plication") is one when
    no other line is labelled with a different letter: several labels are a restated option list or an
    option-by-option walkthrough, whose items are not choices. The exception is a last line that is exactly
    one option after a paragraph rather than after a short list item: the conclusion of a discussion.
    """
    lines = [c for c in (_clean_line(raw) for raw in text.splitlines()) if c]
    if not lines:
        return None
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
            after_item = i > 0 and labels[i - 1] is not None and len(lines[i - 1]) <= _SHORT_LINE
            concludes = i == len(lines) - 1 and not after_item
            if concludes and _is_exactly_option(rest, letter, options):
                return letter
    bold = {_first_group(m, 2) for m in _BOLD_LETTER.finditer(text)} & valid
    if len(bold) == 1:
        return bold.pop()
    if options:
        for i in (len(lines) - 1, 0):
            letter = _option_for_text(lines[i], options) if labels[i] is None else None
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
    Raises ValueError for an invalid ``letters`` spec, which is a configuration error, not a model failure.
    """
    if response is None or not response.strip():
        return Extraction(None, "empty")
    valid = _valid_set(letters)
    body = strip_reasoning(response, think_end=think_end)
    if body is None:
        return Extraction(None, "unterminated_think")
    if not body.isascii():
        body = unicodedata.normalize("NFKC", body)
    statements = _statements(body, options or {})
    if statements:
        strong = [s for s in statements if not s.weak]
        return _verdict((strong or statements)[-1].letters, valid)
    letter = _fallback(body, valid, options or {})
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
