"""The lm-eval task folder as lm-eval itself loads it (TaskManager, no model)."""

from __future__ import annotations

import pytest
from lm_eval.tasks import TaskManager

from medxpert_ext.harness.lmeval import ExtractChoice, process_results
from medxpert_ext.prompts import mcq_prompt
from medxpert_ext.resources import tasks_dir
from tests.helpers import SHARED_DATA, needs_shared_data

TASKS = [
    "medxpert_text_reasoning", "medxpert_text_understanding", "medxpert_mm_reasoning", "medxpert_mm_understanding",
    "medxpert_text_sampled", "medxpert_mm_sampled", "medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical",
]  # fmt: skip
GROUPS = {
    "medxpert_text": ["medxpert_text_reasoning", "medxpert_text_understanding"],
    "medxpert_mm": ["medxpert_mm_reasoning", "medxpert_mm_understanding"],
    "medxpert": ["medxpert_text", "medxpert_mm"],
    "medbench": ["medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical"],
}


@pytest.fixture(scope="module")
def manager() -> TaskManager:
    return TaskManager(include_path=str(tasks_dir()), include_defaults=False)


def test_every_task_and_group_is_indexed(manager):
    assert set(TASKS) <= set(manager.all_subtasks)
    assert set(GROUPS) <= set(manager.all_groups)


@needs_shared_data
def test_tasks_load_real_data_with_the_right_config(monkeypatch):
    monkeypatch.setenv("MEDXPERT_DATA_DIR", str(SHARED_DATA))
    tm = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    loaded = tm.load(["medxpert_text_sampled", "medbench"])
    tasks = loaded["tasks"]
    sizes = {name: len(task.eval_docs) for name, task in tasks.items()}
    assert sizes == {"medxpert_text_sampled": 244, "medbench_medqa": 1273, "medbench_medmcqa": 4183,
                     "medbench_mmlu_medical": 1089}  # fmt: skip
    task = tasks["medxpert_text_sampled"]
    assert task.OUTPUT_TYPE == "generate_until"
    assert task.config.generation_kwargs["until"] == []  # a chain of thought is never cut at a blank line
    assert [m["metric"] for m in task.config.metric_list] == ["acc", "extract_fail", "acc_rescued", "rescued"]
    assert [f.name for f in task._filters] == ["extract"]
    doc = task.eval_docs[0]
    assert task.doc_to_text(doc) == mcq_prompt(doc)
    assert task.doc_to_target(doc) == doc["answer"]
    group = loaded["groups"]
    assert {g.group_name if hasattr(g, "group_name") else str(g) for g in group} >= {"medbench"}


def test_prompt_is_the_one_turn_cot_with_the_final_answer_format():
    doc = {"question": "Q?\nAnswer Choices: (A) x (B) y", "letters": "ABCDEFGHIJ", "images": []}
    prompt = mcq_prompt(doc)
    assert prompt.startswith("Q: Q?\nAnswer Choices: (A) x (B) y\nA: Let's think step by step.")
    assert 'Therefore, among A through J, the answer is (X).' in prompt
    mm = mcq_prompt({**doc, "letters": "ABCDE", "images": ["/a.png", "/b.png"]})
    assert mm.startswith("<image>\n<image>\nQ: ") and "among A through E" in mm


def _doc(answer="B", letters="ABCDE", think_end=None):
    options = [{"letter": k, "content": f"option {k}"} for k in letters]
    return {"answer": answer, "letters": letters, "options": options, "think_end": think_end}


def test_filter_and_metrics_on_responses():
    docs = [_doc(), _doc(), _doc(), _doc(think_end="</think>"), _doc(letters="ABCD")]
    responses = [
        ["The answer is (B)."],
        ["A 45-year-old man presents with chest pain."],
        ["Answer: D"],
        ["Long reasoning that never closes... so B"],
        ["Answer: E"],
    ]
    filtered = [r[0] for r in ExtractChoice().apply(responses, docs)]
    assert filtered[0] == "B" and filtered[2] == "D"
    assert filtered[1].startswith("[no answer: ")
    assert filtered[3] == "[no answer: unterminated_think]"
    assert filtered[4] == "[no answer: out_of_range]"
    scores = [process_results(d, [f]) for d, f in zip(docs, filtered)]
    assert [s["acc"] for s in scores] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert [s["extract_fail"] for s in scores] == [0.0, 1.0, 0.0, 1.0, 1.0]
