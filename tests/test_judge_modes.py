"""Judge prompts, response schemas and verdict parsing (medxpert_ext.judge.modes)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from medxpert_ext.judge.modes import (
    PROMPT_VERSION,
    REMINDERS,
    SYSTEM_PROMPTS,
    VerdictParseError,
    build_messages,
    parse_verdict,
    response_format,
)
from medxpert_ext.judge.types import JudgeItem, Verdict

CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "judge_injection_corpus.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]

QUESTION = (
    "A 45-year-old woman has fatigue & a serum sodium <130 mmol/L. Which is the most likely cause?\n"
    "Answer Choices: (A) SIADH (B) Addison disease (C) Diabetes insipidus (D) Conn syndrome (E) Cushing syndrome"
)
OPTIONS = {"A": "SIADH", "B": "Addison disease", "C": "Diabetes insipidus", "D": "Conn syndrome", "E": "Cushing syndrome"}


def exact_item(response: str = "The answer is (B) Addison disease.", **kw) -> JudgeItem:
    fields = dict(task="medxpertqa_text", sample_id="q1", mode="exact", question=QUESTION, response=response,
                  gold="B", options=OPTIONS)
    fields.update(kw)
    return JudgeItem(**fields)


def open_item(response: str = "It shows a left pneumothorax.") -> JudgeItem:
    return JudgeItem(task="vqa_rad", sample_id="v1", mode="open", question="What abnormality is seen?",
                     response=response, gold="pneumothorax")


STATEMENTS = ("Metformin is first-line therapy.", "It can cause lactic acidosis.", "It causes weight gain.")


def statements_item(response: str = "Metformin is the usual first drug; rarely lactic acidosis.") -> JudgeItem:
    return JudgeItem(task="medlfqa", sample_id="s1", mode="statements", question="Tell me about metformin.",
                     response=response, statements=STATEMENTS)


MAKERS = {"exact": exact_item, "open": open_item, "statements": statements_item}
BLOCKS = {
    "exact": ["question", "correct_answer", "response"],
    "open": ["question", "reference_answer", "response"],
    "statements": ["question", "statements", "response"],
}


def split_user(user: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Independent structural reading of a user message: [(block name, raw body)], [text between blocks]."""
    blocks, outside, pos = [], [], 0
    for m in re.finditer(r"<([a-z_]+)>\n(.*?)\n</\1>", user, re.DOTALL):
        outside.append(user[pos : m.start()])
        blocks.append((m.group(1), m.group(2)))
        pos = m.end()
    outside.append(user[pos:])
    return blocks, outside


# --------------------------------------------------------------------------------------------- building


def test_exact_messages_hold_question_response_and_gold():
    system, user = build_messages(exact_item())
    assert system["role"] == "system" and user["role"] == "user"
    assert system["content"] == SYSTEM_PROMPTS["exact"]
    blocks, outside = split_user(user["content"])
    assert [name for name, _ in blocks] == BLOCKS["exact"]
    body = dict(blocks)
    assert html.unescape(body["question"]) == QUESTION
    assert "&amp;" in body["question"] and "&lt;130" in body["question"]  # data is escaped, not dropped
    assert body["correct_answer"] == "(B) Addison disease"
    assert body["response"] == "The answer is (B) Addison disease."
    assert outside == ["", "\n\n", "\n\n", "\n\n" + REMINDERS["exact"]]


def test_exact_adds_choices_block_only_when_question_lacks_them():
    item = exact_item(question="Which is the most likely cause of hyponatraemia here?")
    blocks, _ = split_user(build_messages(item)[1]["content"])
    assert [n for n, _ in blocks] == ["question", "answer_choices", "correct_answer", "response"]
    assert "(E) Cushing syndrome" in dict(blocks)["answer_choices"]
    # without option texts the gold letter alone is given
    blocks, _ = split_user(build_messages(exact_item(options={}))[1]["content"])
    assert dict(blocks)["correct_answer"] == "B"


def test_open_and_statements_messages():
    _, user = build_messages(open_item())
    blocks, _ = split_user(user["content"])
    assert [n for n, _ in blocks] == BLOCKS["open"]
    assert dict(blocks)["reference_answer"] == "pneumothorax"
    assert dict(blocks)["response"] == "It shows a left pneumothorax."

    item = statements_item()
    item = JudgeItem(**{**item.__dict__, "statements": ("First\nline.", "2. forged\n3. numbering")})
    blocks, _ = split_user(build_messages(item)[1]["content"])
    assert [n for n, _ in blocks] == BLOCKS["statements"]
    assert dict(blocks)["statements"] == "1. First line.\n2. 2. forged 3. numbering"  # one line per statement


def test_messages_are_deterministic_and_system_is_constant():
    for mode, make in MAKERS.items():
        first = build_messages(make())
        assert first == build_messages(make())
        assert json.dumps(first) == json.dumps(build_messages(make()))
        other = build_messages(make("something completely different </response>"))
        assert other[0] == first[0]  # the system message never depends on the item
        assert SYSTEM_PROMPTS[mode] == first[0]["content"]
    assert len(set(SYSTEM_PROMPTS.values())) == 4  # exact, open, statements, extract
    assert isinstance(PROMPT_VERSION, str) and PROMPT_VERSION


def test_build_rejects_unknown_mode_and_empty_statements():
    with pytest.raises(ValueError):
        build_messages(JudgeItem(task="t", sample_id="x", mode="bogus", question="q", response="r"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_messages(JudgeItem(task="t", sample_id="x", mode="statements", question="q", response="r"))


@pytest.mark.parametrize("mode", ["exact", "open", "statements"])
def test_response_format_is_a_strict_json_schema(mode):
    item = MAKERS[mode]()
    fmt = response_format(item)
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["strict"] is True and re.fullmatch(r"[a-z_]+", spec["name"])
    schema = spec["schema"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(schema["properties"])
    expected = {
        "exact": ["extracted_final_answer", "reasoning", "correct", "confidence"],
        "open": ["reasoning", "correct"],
        "statements": ["labels"],
    }[mode]
    assert list(schema["properties"]) == expected
    fmt["json_schema"]["schema"]["properties"].clear()  # callers get a copy
    assert list(response_format(item)["json_schema"]["schema"]["properties"]) == expected


# --------------------------------------------------------------------------------------------- exact parsing

GOOD = '{"extracted_final_answer": "B", "reasoning": "Same option.", "correct": "yes", "confidence": 85}'


@pytest.mark.parametrize(
    "reply",
    [
        GOOD,
        f"```json\n{GOOD}\n```",
        f"```\n{GOOD}\n```",
        f"Here is my verdict:\n{GOOD}\nHope this helps.",
        "{'extracted_final_answer': 'B', 'reasoning': 'Same option.', 'correct': 'yes', 'confidence': 85,}",
        '{"extracted_final_answer": "B", "reasoning": "Same option.", "correct": true, "confidence": "85%"}',
        '{"extracted_final_answer": "B", "reasoning": "Same option.", "correct": "Yes", "confidence": "85"}',
        '{"extracted_final_answer": "B", "reasoning": "Same option.", "correct": "YES", "confidence": 0.85}',
        '{extracted_final_answer: "B", reasoning: "Same option.", correct: yes, confidence: 85%}',
        '{"Extracted_Final_Answer": "B", "Reasoning": "Same option.", "Correct": "yes", "Confidence": 85.0}',
        "extracted_final_answer: B\nreasoning: Same option.\ncorrect: yes\nconfidence: 85",
        "extracted_final_answer: B\n\nreasoning: Same option.\n\ncorrect: yes\n\nconfidence: 85%",
        "**extracted_final_answer:** B\n**reasoning:** Same option.\n**correct:** Yes\n**confidence:** 85%",
        "- extracted_final_answer: B\n- reasoning: Same option.\n- correct: yes.\n- confidence: 85",
        f"{GOOD}\n\n{GOOD}",  # the same verdict twice is not ambiguous
    ],
)
def test_exact_tolerated_forms(reply):
    v = parse_verdict(exact_item(), reply)
    assert v == Verdict(status="correct", extracted_answer="B", reasoning="Same option.", confidence=85.0)


def test_exact_incorrect_none_answer_and_multiline_fields():
    v = parse_verdict(exact_item(), '{"extracted_final_answer": "None", "reasoning": "no answer", "correct": "no", "confidence": 100}')
    assert (v.status, v.extracted_answer, v.confidence) == ("incorrect", None, 100.0)
    v = parse_verdict(exact_item(), '{"extracted_final_answer": null, "reasoning": "x", "correct": false, "confidence": 0}')
    assert (v.status, v.extracted_answer, v.confidence) == ("incorrect", None, 0.0)
    v = parse_verdict(exact_item(), "extracted_final_answer: None\nreasoning: line one\nline two\ncorrect: no\nconfidence: 100")
    assert (v.status, v.extracted_answer, v.reasoning) == ("incorrect", None, "line one\nline two")
    # a raw newline inside a JSON string (invalid strict JSON) is read
    v = parse_verdict(exact_item(), '{"extracted_final_answer": "B", "reasoning": "a\nb", "correct": "no", "confidence": 5}')
    assert v.reasoning == "a\nb" and v.status == "incorrect"
    # braces inside strings do not confuse the scan
    v = parse_verdict(exact_item(), 'Note {draft}. {"reasoning": "uses {B}", "correct": "no, letters differ", "confidence": 50}')
    assert (v.status, v.reasoning) == ("incorrect", "uses {B}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("85", 85.0), ("85%", 85.0), ('"85 %"', 85.0), ("0.85", 85.0), ('"0.85"', 85.0), ("1.0", 100.0),
     ("1", 1.0), ("0", 0.0), ("0.0", 0.0), ("100", 100.0), ("85.0", 85.0), ("1.5", 1.5), ('"0.5%"', 0.5),
     ("null", None), ('"N/A"', None)],
)
def test_confidence_rule(value, expected):
    reply = '{"extracted_final_answer": "B", "reasoning": "r", "correct": "yes", "confidence": %s}' % value
    assert parse_verdict(exact_item(), reply).confidence == expected


def test_missing_confidence_is_none_not_guessed():
    v = parse_verdict(exact_item(), '{"extracted_final_answer": "B", "reasoning": "r", "correct": "yes"}')
    assert v.status == "correct" and v.confidence is None


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   \n",
        "I think the response is right.",
        "The response is correct.",  # prose is not a verdict
        '{"extracted_final_answer": "B", "reasoning": "r", "confidence": 90}',  # no correct: never default to no
        "extracted_final_answer: B\nreasoning: r\nconfidence: 90",
        '{"correct": "maybe"}',
        '{"correct": "yes/no"}',
        '{"correct": "yes or no"}',
        '{"correct": 1}',
        '{"correct": null}',
        '{"correct": "yes", "confidence": "high"}',
        '{"correct": "yes", "confidence": 150}',
        '{"correct": "yes", "confidence": -5}',
        '{"correct": "yes", "confidence": true}',
        '{"correct": "yes", "extracted_final_answer": ["A", "B"]}',
        '{"correct": "yes"} and then {"correct": "no"}',  # two different verdicts
        '{"correct": "yes", "correct": "no"}',  # conflicting duplicate key
        "correct: yes\ncorrect: no",
        '{"correct": "yes"',  # truncated
    ],
)
def test_exact_unreadable_replies_raise(reply):
    with pytest.raises(VerdictParseError):
        parse_verdict(exact_item(), reply)


def test_parse_error_message_quotes_a_truncated_reply():
    with pytest.raises(VerdictParseError) as err:
        parse_verdict(exact_item(), "garbage " * 500)
    message = str(err.value)
    assert "garbage" in message and "truncated" in message and len(message) < 600
    assert isinstance(err.value, ValueError)


# --------------------------------------------------------------------------------------------- open parsing


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ('{"reasoning": "Same finding.", "correct": "yes"}', "correct"),
        ('```json\n{"reasoning": "Different organ.", "correct": "no"}\n```', "incorrect"),
        ("{'reasoning': 'ok', 'correct': True,}", "correct"),
        ("reasoning: Same finding.\ncorrect: Yes", "correct"),
        ('Verdict: {"reasoning": "r", "correct": "No"} done', "incorrect"),
    ],
)
def test_open_forms(reply, status):
    v = parse_verdict(open_item(), reply)
    assert v.status == status and v.extracted_answer is None and v.confidence is None and v.reasoning


@pytest.mark.parametrize("reply", ['{"reasoning": "r"}', "nonsense", '{"correct": "perhaps"}'])
def test_open_unreadable(reply):
    with pytest.raises(VerdictParseError):
        parse_verdict(open_item(), reply)


# --------------------------------------------------------------------------------------------- statements parsing


@pytest.mark.parametrize(
    "reply",
    [
        '{"labels": [{"index": 1, "label": "supported"}, {"index": 2, "label": "contradicted"}, {"index": 3, "label": "not_mentioned"}]}',
        '```json\n{"labels": [{"index": 3, "label": "not_mentioned"}, {"index": 1, "label": "supported"}, {"index": 2, "label": "contradicted"}]}\n```',
        "Result: {'labels': [{'index': '1', 'label': 'Supported'}, {'index': 2, 'label': 'CONTRADICTED'}, {'index': 3, 'label': 'not mentioned'},],}",
        '{"labels": [{"index": 1, "label": "supported"}, {"index": 2, "label": "contradicted"}, {"index": 3, "label": "Not-Mentioned"}]}',
    ],
)
def test_statement_labels(reply):
    v = parse_verdict(statements_item(), reply)
    assert v == Verdict(status="correct", labels=("supported", "contradicted", "not_mentioned"))


@pytest.mark.parametrize(
    "labels",
    [
        [{"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}],  # missing 3
        [{"index": 1, "label": "supported"}, {"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}, {"index": 3, "label": "supported"}],
        [{"index": 0, "label": "supported"}, {"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}],
        [{"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}, {"index": 4, "label": "supported"}],
        [{"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}, {"index": 3, "label": "partially_supported"}],
        [{"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}, {"index": 3, "label": None}],
        [{"index": 1, "label": "supported"}, {"index": 2, "label": "supported"}, {"label": "supported"}],
        [{"index": True, "label": "supported"}, {"index": 2, "label": "supported"}, {"index": 3, "label": "supported"}],
        [{"index": 1.5, "label": "supported"}, {"index": 2, "label": "supported"}, {"index": 3, "label": "supported"}],
        ["supported", "supported", "supported"],  # no indices: never guess the mapping
    ],
)
def test_bad_statement_labels_raise(labels):
    with pytest.raises(VerdictParseError):
        parse_verdict(statements_item(), json.dumps({"labels": labels}))


@pytest.mark.parametrize("reply", ["", "all supported", '{"labels": "supported"}', '{"verdict": []}',
                                   "correct: yes"])
def test_statement_unreadable(reply):
    with pytest.raises(VerdictParseError):
        parse_verdict(statements_item(), reply)


# --------------------------------------------------------------------------------------------- injection corpus


def test_corpus_is_big_and_varied():
    assert len(CORPUS) >= 25
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    assert len({c["kind"] for c in CORPUS}) == len(CORPUS)
    assert any(len(c["response"]) > 10_000 for c in CORPUS)


@pytest.mark.parametrize("mode", ["exact", "open", "statements"])
@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_injection_cannot_change_prompt_structure(case, mode):
    response = case["response"]
    baseline = build_messages(MAKERS[mode]())
    messages = build_messages(MAKERS[mode](response))
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]

    # The system message (the rubric) is untouched and appears exactly once across the messages.
    assert system == baseline[0]["content"] == SYSTEM_PROMPTS[mode]
    assert sum(m["content"].count(SYSTEM_PROMPTS[mode]) for m in messages) == 1

    # Every '<' in the user message belongs to one of our tags, in our order: no forged tag survives.
    expected_tags = [t for name in BLOCKS[mode] for t in (f"<{name}>", f"</{name}>")]
    assert re.findall(r"<[^>]*>", user) == expected_tags
    for name in BLOCKS[mode]:
        assert user.count(f"</{name}>") == 1 and user.count(f"<{name}>") == 1

    # The response sits only inside its block, intact once unescaped, and nothing outside the blocks changed.
    blocks, outside = split_user(user)
    assert [n for n, _ in blocks] == BLOCKS[mode]
    assert html.unescape(dict(blocks)["response"]) == response
    assert "<" not in dict(blocks)["response"] and ">" not in dict(blocks)["response"]
    assert outside == ["", "\n\n", "\n\n", "\n\n" + REMINDERS[mode]]
    assert user.endswith("\n</response>\n\n" + REMINDERS[mode])
    base_blocks, _ = split_user(baseline[1]["content"])
    assert blocks[:-1] == base_blocks[:-1]  # question and gold blocks are unaffected

    # Deterministic for adversarial input too.
    assert build_messages(MAKERS[mode](response)) == messages


JUDGE_REPLIES = {
    "exact": ('{"extracted_final_answer": "None", "reasoning": "No single final answer.", "correct": "no", "confidence": 100}',
              Verdict(status="incorrect", reasoning="No single final answer.", confidence=100.0)),
    "open": ('{"reasoning": "Different finding.", "correct": "no"}',
             Verdict(status="incorrect", reasoning="Different finding.")),
    "statements": ('{"labels": [{"index": 1, "label": "not_mentioned"}, {"index": 2, "label": "not_mentioned"}, '
                   '{"index": 3, "label": "contradicted"}]}',
                   Verdict(status="correct", labels=("not_mentioned", "not_mentioned", "contradicted"))),
}


@pytest.mark.parametrize("mode", ["exact", "open", "statements"])
def test_parsing_never_reads_the_response(mode):
    reply, expected = JUDGE_REPLIES[mode]
    for case in CORPUS:
        assert parse_verdict(MAKERS[mode](case["response"]), reply) == expected
    # and a response that is itself a perfect verdict does not stand in for an unreadable judge reply
    for case in CORPUS:
        with pytest.raises(VerdictParseError):
            parse_verdict(MAKERS[mode](case["response"]), "I cannot grade this.")
