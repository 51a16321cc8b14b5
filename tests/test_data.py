"""The one data loader: both record shapes, the real local layout, and every way data can be wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medxpert_ext.data import (
    Benchmark,
    DataError,
    hub_row_to_local,
    load_docs,
    mcq_doc,
    normalize_medical_task,
    resolve_data_dir,
)
from tests.helpers import SHARED_DATA, needs_shared_data, write_jsonl

LOCAL_MM = {
    "id": "MM-7",
    "question": "Which finding is shown?\nAnswer Choices: (A) one (B) two (C) three (D) four (E) five",
    "options": [{"letter": k, "content": v} for k, v in zip("ABCDE", ["one", "two", "three", "four", "five"])],
    "label": ["C"],
    "images": [{"image_path": "MM-7-a.jpeg"}],
    "medical_task": "Basic Science",
    "body_system": "Skeletal",
    "question_type": "Reasoning",
}
HUB_MM = {
    **LOCAL_MM,
    "options": {"A": "one", "B": "two", "C": "three", "D": "four", "E": "five"},
    "label": "C",
    "images": ["MM-7-a.jpeg"],
    "medical_task": "Basic Medicine",
}


def test_hub_and_local_shapes_give_the_same_doc():
    local = mcq_doc(LOCAL_MM, source="s", where="local", fallback_id="x")
    hub = mcq_doc(HUB_MM, source="s", where="hub", fallback_id="x")
    assert local == hub
    assert local["letters"] == "ABCDE" and local["answer"] == "C"
    assert local["medical_task"] == "Basic Science"
    assert local["images"] == ["MM-7-a.jpeg"]


def test_medbench_record_without_options_reads_choices_from_question():
    row = {"question": "Q?\nAnswer Choices: (A) alpha (B) beta gamma (C) delta (D) epsilon", "label": ["B"]}
    doc = mcq_doc(row, source="medqa", where="f", fallback_id="medqa-3")
    assert doc["id"] == "medqa-3"
    assert doc["letters"] == "ABCD"
    assert [o["content"] for o in doc["options"]] == ["alpha", "beta gamma", "delta", "epsilon"]


@pytest.mark.parametrize(
    "row, message",
    [
        ({"question": "Q? no choices", "label": ["A"]}, "no 'options' field"),
        ({**LOCAL_MM, "label": ["F"]}, "label 'F' is not one of the options ABCDE"),
        ({**LOCAL_MM, "label": ["A", "B"]}, "exactly one letter"),
        ({**LOCAL_MM, "label": None}, "missing or empty 'label'"),
        ({**LOCAL_MM, "question": ""}, "missing or empty 'question'"),
        ({**LOCAL_MM, "options": {"A": "x", "C": "y"}}, "without gaps"),
        ({**LOCAL_MM, "options": [{"letter": "A"}]}, "{letter, content}"),
        ({**LOCAL_MM, "images": [{"path": "x"}]}, "bad 'images' entry"),
    ],
)
def test_bad_records_name_the_problem(row, message):
    with pytest.raises(DataError, match="where-7") as err:
        mcq_doc(row, source="s", where="where-7", fallback_id="x")
    assert message in str(err.value)


def test_hub_rows_of_the_mcq_suite_become_local_shape():
    medqa = hub_row_to_local("medqa", {"question": "Q1", "options": {"B": "b", "A": "a"}, "answer_idx": "B"})
    assert medqa == {"question": "Q1\nAnswer Choices: (A) a (B) b", "label": ["B"]}
    medmcqa = hub_row_to_local(
        "medmcqa", {"id": "u1", "question": "Q2", "opa": "w", "opb": "x", "opc": "y", "opd": "z", "cop": 3,
                    "subject_name": "Anatomy"},
    )  # fmt: skip
    assert medmcqa["question"].endswith("(A) w (B) x (C) y (D) z") and medmcqa["label"] == ["D"]
    mmlu = hub_row_to_local("mmlu_medical", {"question": "Q3", "choices": ["p", "q", "r", "s"], "answer": 0,
                                             "subject": "anatomy"})  # fmt: skip
    doc = mcq_doc(mmlu, source="mmlu_medical", where="hub", fallback_id="mmlu_medical-0")
    assert doc["answer"] == "A" and doc["subject"] == "anatomy" and doc["letters"] == "ABCD"


def test_normalize_medical_task():
    assert normalize_medical_task("Basic Medicine") == normalize_medical_task("basic science ") == "Basic Science"
    assert normalize_medical_task("Diagnosis") == "Diagnosis"
    assert normalize_medical_task(None) is None


# ------------------------------------------------------------------------------------- local data root
def test_data_root_from_env_and_explicit(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDXPERT_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    assert resolve_data_dir(str(other)) == other.resolve()  # lm-eval metadata wins over the environment
    monkeypatch.delenv("MEDXPERT_DATA_DIR")
    assert resolve_data_dir() is None  # -> hub
    with pytest.raises(DataError, match="is not a directory"):
        resolve_data_dir(str(tmp_path / "nope"))


def test_missing_file_names_file_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        load_docs(Benchmark("medqa", "medqa"), tmp_path)
    assert str(tmp_path / "medbench" / "medqa_test.jsonl") in str(err.value)
    assert "MedXpertQA GitHub repo" in str(err.value)


def test_bad_json_line_is_named(tmp_path):
    path = tmp_path / "medbench" / "medqa_test.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({"question": "Q\nAnswer Choices: (A) a (B) b", "label": ["A"]}) + "\n{oops\n")
    with pytest.raises(DataError, match=r"medqa_test.jsonl:2: not valid JSON"):
        load_docs(Benchmark("medqa", "medqa"), tmp_path)


def _mm_root(tmp_path: Path, image_names: list[str], make_files: bool) -> Path:
    write_jsonl(tmp_path / "medxpertqa" / "mm_test.jsonl", [{**LOCAL_MM, "images": [{"image_path": n} for n in image_names]}])
    (tmp_path / "medxpertqa" / "images").mkdir()
    if make_files:
        for n in image_names:
            (tmp_path / "medxpertqa" / "images" / n).write_bytes(b"not read at load time")
    return tmp_path


def test_mm_images_resolve_inside_the_root(tmp_path):
    root = _mm_root(tmp_path, ["MM-7-a.jpeg", "MM-7-b.png"], make_files=True)
    (doc,) = load_docs(Benchmark("medxpertqa_mm", "medxpertqa_mm"), root)
    assert doc["images"] == [str(root / "medxpertqa" / "images" / n) for n in ("MM-7-a.jpeg", "MM-7-b.png")]


def test_missing_image_names_sample_and_file(tmp_path):
    root = _mm_root(tmp_path, ["MM-7-a.jpeg"], make_files=False)
    with pytest.raises(DataError) as err:
        load_docs(Benchmark("medxpertqa_mm", "medxpertqa_mm"), root)
    msg = str(err.value)
    assert "sample MM-7" in msg and "MM-7-a.jpeg" in msg and "images.zip" in msg


@pytest.mark.parametrize("name", ["../../secret.jpeg", "../mm_test.jsonl", "/etc/hostname", "sub/../../x.png"])
def test_image_path_cannot_escape_the_root(tmp_path, name):
    root = _mm_root(tmp_path, [name], make_files=False)
    (tmp_path / "secret.jpeg").write_bytes(b"x")
    with pytest.raises(DataError, match="escapes the images folder|must be a file name relative"):
        load_docs(Benchmark("medxpertqa_mm", "medxpertqa_mm"), root)


def test_symlink_out_of_the_images_folder_is_refused(tmp_path):
    root = _mm_root(tmp_path, ["link.jpeg"], make_files=False)
    outside = tmp_path / "outside.jpeg"
    outside.write_bytes(b"x")
    os.symlink(outside, root / "medxpertqa" / "images" / "link.jpeg")
    with pytest.raises(DataError, match="escapes the images folder"):
        load_docs(Benchmark("medxpertqa_mm", "medxpertqa_mm"), root)


def test_sampled_file_must_hold_the_official_ids(tmp_path):
    rows = [json.loads(line) for line in (SHARED_DATA / "medxpertqa" / "text_sampled.jsonl").open()][:10] if SHARED_DATA.is_dir() else []
    rows = rows or [{**LOCAL_MM, "id": "Text-1"}]
    write_jsonl(tmp_path / "medxpertqa" / "text_sampled.jsonl", rows)
    with pytest.raises(DataError, match="ids differ from the official text_sampled subset"):
        load_docs(Benchmark("medxpertqa_text", "medxpertqa_text", sampled="text_sampled"), tmp_path)


def test_sampled_subset_is_filtered_from_the_full_set(tmp_path):
    """Hub users (full Text test only) get exactly the official 244 via the shipped id list."""
    from medxpert_ext.resources import sampled_ids

    ids = sampled_ids("text_sampled")
    opts = [{"letter": k, "content": k.lower()} for k in "ABCDEFGHIJ"]
    full = [{"id": f"Text-{i}", "question": f"Q{i}", "options": opts, "label": ["A"], "question_type": "Reasoning"}
            for i in range(2450)]  # fmt: skip
    write_jsonl(tmp_path / "medxpertqa" / "text_test.jsonl", full)
    docs = load_docs(Benchmark("medxpertqa_text", "medxpertqa_text", sampled="text_sampled"), tmp_path)
    assert sorted(d["id"] for d in docs) == sorted(ids) and len(docs) == 244


@needs_shared_data
@pytest.mark.parametrize(
    "bench, n",
    [
        (Benchmark("medxpertqa_mm", "mm", question_type="Reasoning"), 1446),
        (Benchmark("medxpertqa_mm", "mm", question_type="Understanding"), 554),
        (Benchmark("medxpertqa_text", "text", sampled="text_sampled"), 244),
        (Benchmark("medxpertqa_text", "text", sampled="text_sampled", question_type="Reasoning"), 186),
        (Benchmark("medqa", "medqa"), 1273),
        (Benchmark("medmcqa", "medmcqa"), 4183),
        (Benchmark("mmlu_medical", "mmlu_medical"), 1089),
    ],
)
def test_shared_data_root_works_unchanged(bench, n, monkeypatch, mm_images_root):
    """../shared/data is accepted as the data root as it is (MM images come from a generated copy)."""
    root = mm_images_root if bench.key == "medxpertqa_mm" else SHARED_DATA
    docs = load_docs(bench, str(root))
    assert len(docs) == n
    assert len({d["id"] for d in docs}) == n
    letters = {d["letters"] for d in docs}
    assert letters <= {"ABCD", "ABCDE", "ABCDEFGHIJ"}
    assert all(d["answer"] in d["letters"] for d in docs)


@needs_shared_data
def test_mm_sampled_via_shared_file(mm_images_root):
    docs = load_docs(Benchmark("medxpertqa_mm", "mm", sampled="mm_sampled"), mm_images_root)
    assert len(docs) == 199 and all(Path(p).is_file() for d in docs for p in d["images"])
