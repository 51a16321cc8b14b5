"""The table of answer statements: every way the extractor knows of saying "my answer is X".

Each rule is found from an anchor word (``str.find`` is far faster than one big alternation) and names its
letter either after the phrase ("The answer is C") or inside it ("Option C is correct"). ``weak`` rules count
only when a reply has no other statement; ``verdict`` rules are letter-first judgements of one option, which
an option-by-option walkthrough also produces, so several of them naming different letters are not a choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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
    verdict: bool
    at_letter: tuple[str, ...]  # names of the letter groups of ``at`` ("l", "l2", ...), () for an answer phrase
    before_letter: tuple[str, ...]  # the same for ``before``
    plural: bool  # "the answers are:" may be followed by one labelled line per answer


def _rule(anchors: str, at: str, before: str | None = None, *, weak: bool = False, verdict: bool = False,
          plural: bool = False) -> _Rule:
    """A rule from space-separated anchor words ("_" for a space inside one) and its two patterns."""
    at_re = re.compile(at, re.MULTILINE)
    before_re = re.compile(f"(?:{before})\\Z", re.MULTILINE) if before else None
    return _Rule(
        tuple(a.replace("_", " ") for a in anchors.split()),
        at_re,
        before_re,
        weak,
        verdict,
        tuple(at_re.groupindex),
        tuple(before_re.groupindex) if before_re else (),
        plural,
    )


# "Option A is correct only if ...", "... correct in some cases", "... correct for patients with ...": a
# conditional verdict on an option is a mention, not a commitment ("for/in this patient" still commits).
_NOT_CONDITIONAL = (
    r"(?![ \t]+(?:only[ \t]+)?(?:if|when|unless|(?:in|for)[ \t]+(?!this\b|the[ \t]+(?:patient|case)\b)))"
)
_VERDICT = r"(?:the\s+)?(?:most\s+(?:likely|appropriate|correct|accurate)|correct|right|best)\b" + _NOT_CONDITIONAL
RULES: tuple[_Rule, ...] = (
    # English answer phrases: "Answer: C", "the answer is C", "## Final Answer", <answer>, JSON keys, \boxed{}
    _rule("answer", r"answers?(?:[ \t]+(?:choice|option|letter))?[ \t]*(?:\((?:letter|option|choice)\)[ \t]*)?"
          r"(?:[*_]+[ \t]*)?(?:[:：=]|[-–—][ \t]|→|->|=>)"),
    _rule("answer", r"answer(?:\s+(?:choice|option|letter))?(?:\s+(?:here|to\s+(?:this|the)\s+question))?\s+"
          r"(?:is|would\s+be|should\s+be|must\s+be|will\s+be|has\s+to\s+be)\b"),
    _rule("answer", r"answers\s+are\b", plural=True),
    _rule("answer", r"answer[ \t*_:]*$", r"^[ \t#>*_]*(?:final[ \t]+)?"),
    _rule("answer", r"answer>", r"<"),
    _rule("ans", r"ans[ \t]*[:：]"),
    # JSON keys, also in JSON that does not parse: a missing opening quote or brace, escaped quotes, "A. yes"
    _rule("answer choice option", r"(?:answer|choice|option)(?:_?(?:choice|letter|option|key|id))?\\?[\"']\s*:"),
    _rule("boxed fbox", r"(?:boxed|fbox)\s*\{"),
    # "the best option is C", "I would choose C", "I'm going with C"
    _rule("option choice select response alternativ",
          r"(?:option|choice|selection|response|alternative)\s*(?:is\b|would\s+be\b|should\s+be\b|[:：=])",
          r"\b(?:correct|right|best|final|most\s+appropriate|most\s+likely|appropriate|chosen|selected|my"
          r"|(?:only\s+)?remaining|closest)\s+"),
    _rule("choose select pick go_with opt_for", r"(?:choose|select|pick|go\s+with|opt\s+for)\b",
          r"\b(?:i|we)(?:\s+would|\s+will|['’]d|['’]ll|\s+(?:am|are)\s+going\s+to|['’](?:m|re)\s+going\s+to"
          r"|\s+have\s+to)?\s+"),
    _rule("going_with", r"going\s+with\b", r"\b(?:i|we)(?:\s+am|\s+are|['’]m|['’]re)\s+"),
    # Letter first: "Option C is correct", "(C) is the best", "C is the correct answer", "Therefore, option C."
    _rule("option choice answer alternativ",
          r"(?:option|choice|answer|alternative)\s*\(?(?P<l>[a-z])\)?\s+(?:is|seems\s+to\s+be)\s+" + _VERDICT,
          verdict=True),
    # a bare letter only at the start of a sentence: "E is correct", never "Vitamin C is correct"
    _rule("correct best", r"(?:correct|best)\b" + _NOT_CONDITIONAL,
          r"(?:(?:\(|\*\*)[ \t]*|(?:^|(?<=[.:;!?])[ \t]+|\b(?:so|thus|therefore|hence),?[ \t]+))(?P<l>[a-z])"
          r"(?:[ \t]*(?:\)|\*\*))?\s+is\s+(?:the\s+)?(?:most\s+)?", verdict=True),
    _rule("answer option choice", r"(?:answer|option|choice)\b",
          r"(?:^|(?<=[.:;!?])[ \t]+|\b(?:so|thus|therefore|hence),?[ \t]+)\(?(?P<l>[a-z])\)?[ \t]+is[ \t]+the[ \t]+"
          r"(?:correct|right|best|most[ \t]+appropriate)[ \t]+", verdict=True),
    # "making (C) the correct answer"
    _rule("correct best", r"(?:correct|best|right)[ \t]+(?:answer|option|choice)\b",
          r"\bmak(?:e|es|ing)[ \t]+(?:option[ \t]+)?\(?(?P<l>[a-z])\)?[ \t]+(?:the[ \t]+)?"),
    _rule("option choice", r"(?:option|choice)[ \t]*\(?(?P<l>[a-z])\)?[ \t]*(?:[.!*][ \t.!*]*)?$",
          r"\b(?:so|thus|therefore|hence),?[ \t]+(?:the[ \t]+)?"),
    _rule("answer", r"answer[ \t]*\([ \t]*(?P<l>[a-z])[ \t]*\)(?![ \t]+(?:is|was)[ \t]+(?:not|in|wrong|false))"),
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
    # Japanese copula after a topic: "…は、心筋梗塞 (B) です", "最も適切なのは **C. 経過観察** です", "…は、A. 右側です"
    _rule("です である", r"(?:です|である)",
          r"(?:は|、|,)\s*(?:\*\*)?\s*(?:\((?P<l>[a-z])\)|(?<![a-z])(?P<l2>[a-z])[.)．])[^。\n()（]{0,40}?(?:\*\*)?\s*"
          r"|(?:は|、|,)[^。\n()（*]{0,40}?[(（]\s*(?P<l3>[a-z])\s*[)）]\s*(?:\*\*)?\s*"),
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
    _rule("התשובה", r"התשובה(?:\s+הנכונה)?\s*(?:היא|:)"),
    # "The most likely diagnosis is (B)", "the best next step is C": weak, because explanations use the same
    # words about other cases ("the best treatment for bone loss is B"); it counts only when nothing stronger
    # is in the reply.
    _rule("most best correct", r"(?:most\s+(?:appropriate|likely|probable|correct|accurate)|best|correct)\s+"
          r"(?:(?!(?:answer|option|choice)\b)[\w-]+\s+){0,5}?is\b", weak=True),
)  # fmt: skip
RULES_BY_ANCHOR: dict[str, tuple[_Rule, ...]] = {
    anchor: tuple(rule for rule in RULES if anchor in rule.anchors) for rule in RULES for anchor in rule.anchors
}
# One pattern per anchor that matches where any of its rules' ``at`` does: most anchor hits ("option B is less
# likely") match no rule, and one failed match is much cheaper than one per rule.
ANY_AT_BY_ANCHOR: dict[str, re.Pattern[str]] = {
    anchor: re.compile("|".join(f"(?:{re.sub(r'[(][?]P<[a-z0-9]+>', '(?:', rule.at.pattern)})" for rule in rules),
                       re.MULTILINE)
    for anchor, rules in RULES_BY_ANCHOR.items()
}
ASCII_ANCHORS = tuple(anchor for anchor in RULES_BY_ANCHOR if anchor.isascii())
BEFORE_SPAN = 60  # the longest text a ``before`` pattern covers ("therefore, C is the most appropriate ")
