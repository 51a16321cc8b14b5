"""Bad benchmark data is a one-line DataError naming file:LINE (a file line, not a record count), never a
traceback, a silently dropped record or a silently changed question."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from medxpert_ext.data import Benchmark, DataError, load_docs
from medxpert_ext.data.files import iter_jsonl

TEXT = Benchmark("medxpertqa_text", "medxpertqa_text")
REASONING = Benchmark("medxpertqa_text", "medxpertqa_text", question_type="Reasoning")
MM = Benchmark("medxpertqa_mm", "medxpertqa_mm")


def record(i: int, **over) -> dict:
    row = {"id": f"Text-{i}", "question": f"Question {i}?\nAnswer Choices: (A) a (B) b (C) c",
           "options": [{"letter": k, "content": k.lower()} for k in "ABC"], "label": ["B"],
           "question_type": "Reasoning" if i % 2 else "Understanding"}
    return row | over


def root_with(tmp_path: Path, rows: list, name: str = "text_test.jsonl", raw: bytes | None = None) -> Path:
    (tmp_path / "medxpertqa").mkdir(exist_ok=True)
    path = tmp_path / "medxpertqa" / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_question_type_in_any_case_lands_in_its_subset(tmp_path):
    root = root_with(tmp_path, [record(1), record(2), record(3, question_type=" reasoning ")])
    assert [d["id"] for d in load_docs(REASONING, root)] == ["Text-1", "Text-3"]  # Text-3 no longer dropped


def test_question_type_outside_both_subsets_is_an_error(tmp_path):
    root = root_with(tmp_path, [record(1), record(2), record(3, question_type="Diagnosis")])
    with pytest.raises(DataError, match=r"text_test\.jsonl:3: sample Text-3: question_type 'Diagnosis'"):
        load_docs(REASONING, root)


def test_mm_record_without_images_is_an_error(tmp_path):
    root = root_with(tmp_path, [record(1, id="MM-1", images=[])], name="mm_test.jsonl")
    with pytest.raises(DataError, match=r"mm_test\.jsonl:1: sample MM-1: an MM question without images"):
        load_docs(MM, root)


def test_options_shorter_than_the_choices_in_the_question(tmp_path):
    short = record(2, options=[{"letter": "A", "content": "a"}, {"letter": "B", "content": "b"}])
    root = root_with(tmp_path, [record(1), short])
    with pytest.raises(DataError, match=r"text_test\.jsonl:2: 'options' has the letters AB but the question "
                                        r"lists the choices ABC"):  # fmt: skip
        load_docs(TEXT, root)


def test_duplicate_ids(tmp_path):
    root = root_with(tmp_path, [record(1), record(2), record(3, id="Text-1")])
    with pytest.raises(DataError, match=r"text_test\.jsonl:3: duplicate id 'Text-1' \(first at .*text_test\.jsonl:1\)"):
        load_docs(TEXT, root)


def test_size_differs_from_the_official_one_warns_loudly(tmp_path, caplog):
    root = root_with(tmp_path, [record(1), record(2)])
    with caplog.at_level(logging.WARNING, logger="medxpert_ext.data"):
        assert len(load_docs(TEXT, root)) == 2
    assert "2 medxpertqa_text records, the official test has 2450" in caplog.text


def test_errors_name_the_file_line_not_the_record_count(tmp_path):
    raw = (json.dumps(record(1)) + "\n\n\n" + json.dumps(record(2, label=["Z"])) + "\n").encode()
    with pytest.raises(DataError, match=r"text_test\.jsonl:4: label 'Z'"):
        load_docs(TEXT, root_with(tmp_path, [], raw=raw))


@pytest.mark.parametrize("raw, message", [
    (json.dumps(record(1)).encode() + b"\n" + b'{"id": "x\xff"}\n', r":2: not valid UTF-8 \(byte b'\\xff'"),
    (json.dumps(record(1)).encode() + b"\n" + '{"id": "é'.encode()[:-1], r":2: not valid UTF-8"),  # cut in a char
    (b"[" * 100_000 + b"\n", r":1: JSON nested too deeply"),
    (b'{"id": 1}\x00\n', r":1: not valid JSON"),
])  # fmt: skip
def test_unreadable_bytes_name_file_and_line(tmp_path, raw, message):
    path = tmp_path / "f.jsonl"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"f\.jsonl" + message):
        list(iter_jsonl(path))


def test_nul_in_an_image_name(tmp_path):
    root = root_with(tmp_path, [record(1, id="MM-1", images=[{"image_path": "a\u0000.png"}])], name="mm_test.jsonl")
    with pytest.raises(DataError, match=r"mm_test\.jsonl:1, sample MM-1: image path .* control character"):
        load_docs(MM, root)


# --- one parse per file version, shared by the subset tasks of a run (and the preflight before them) ---------
UNDERSTANDING = Benchmark("medxpertqa_text", "medxpertqa_text", question_type="Understanding")


def count_normalised(monkeypatch) -> list:
    from medxpert_ext.data import mcq

    calls: list = []
    real = mcq.mcq_doc
    monkeypatch.setattr(mcq, "mcq_doc", lambda row, **kw: calls.append(row["id"]) or real(row, **kw))
    return calls


def test_subsets_of_one_file_share_one_parse(tmp_path, monkeypatch):
    calls = count_normalised(monkeypatch)
    root = root_with(tmp_path, [record(i) for i in range(1, 7)])
    assert [d["id"] for d in load_docs(REASONING, root)] == ["Text-1", "Text-3", "Text-5"]
    assert [d["id"] for d in load_docs(UNDERSTANDING, root)] == ["Text-2", "Text-4", "Text-6"]
    assert [d["id"] for d in load_docs(TEXT, root)] == [f"Text-{i}" for i in range(1, 7)]
    assert len(calls) == 6  # every record normalised once, not once per subset


def test_a_changed_file_is_read_again(tmp_path, monkeypatch):
    calls = count_normalised(monkeypatch)
    root = root_with(tmp_path, [record(1), record(2)])
    assert [d["answer"] for d in load_docs(TEXT, root)] == ["B", "B"]
    root_with(tmp_path, [record(1), record(2, label=["C"]), record(3)])
    assert [d["answer"] for d in load_docs(TEXT, root)] == ["B", "C", "B"]
    assert len(calls) == 5


def test_callers_cannot_change_the_shared_parse(tmp_path):
    root = root_with(tmp_path, [record(1), record(2)])
    first = load_docs(TEXT, root)
    first[0]["question"] = "changed"
    first[0]["options"][0]["content"] = "changed"
    first[0]["images"].append("x.png")
    again = load_docs(TEXT, root)[0]
    assert (again["question"], again["options"][0]["content"], again["images"]) == ("Question 1?\nAnswer Choices: "
                                                                                   "(A) a (B) b (C) c", "a", [])


def test_a_bad_record_fails_every_load_not_only_the_first(tmp_path):
    root = root_with(tmp_path, [record(1), record(2, label=["Z"])])
    for bench in (REASONING, UNDERSTANDING, REASONING):
        with pytest.raises(DataError, match=r"text_test\.jsonl:2: label 'Z'"):
            load_docs(bench, root)


def test_an_image_removed_after_the_first_load_is_reported(tmp_path):
    from PIL import Image

    root = root_with(tmp_path, [record(1, id="MM-1", images=[{"image_path": "MM-1-a.png"}])], name="mm_test.jsonl")
    (root / "medxpertqa" / "images").mkdir()
    image = root / "medxpertqa" / "images" / "MM-1-a.png"
    Image.new("RGB", (4, 4)).save(image)
    assert load_docs(MM, root)[0]["images"] == [str(image.resolve())]
    image.unlink()
    with pytest.raises(DataError, match=r"mm_test\.jsonl:1, sample MM-1: missing image .*MM-1-a\.png"):
        load_docs(MM, root)
