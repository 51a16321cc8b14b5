"""The pack's tasks by canonical name: what each loads, how it is prompted and scored, and its published size.

Task names are the lm-eval task names (``medxpert_text_reasoning``, ``medbench_medqa``, ``medvqa_vqarad_closed``,
``medlfqa_live_qa`` ...). Every harness adapter uses them unchanged (OpenCompass dataset abbrs are the same
strings), so a score means the same task wherever it was produced and the leaderboard can line runs up.
``<task>_judge`` names are the LLM-judge variants of a task.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .data.mcq import Benchmark
from .data.provenance import DataSpec
from .prompts import lfqa_prompt, mcq_prompt, vqa_prompt

Kind = Literal["mcq", "vqa_closed", "vqa_open", "vqamed", "lfqa"]
Doc = dict[str, Any]

# What each kind reports (the same names in every harness) and the generation budget of its tasks.
METRICS: dict[Kind, tuple[str, ...]] = {
    "mcq": ("acc", "extract_fail"),
    "vqa_closed": ("closed_acc", "closed_unreadable"),
    "vqa_open": ("recall", "f1", "exact_match"),
    "vqamed": ("exact_match", "bleu", "recall", "f1"),
    "lfqa": ("rouge1", "rouge2", "rougeL", "bleu", "bertscore", "hallucination", "comprehensiveness", "no_answer"),
}
MAX_GEN_TOKS: dict[Kind, int] = {"mcq": 4096, "vqa_closed": 1024, "vqa_open": 1024, "vqamed": 1024, "lfqa": 512}


@dataclass(frozen=True)
class Task:
    name: str
    kind: Kind
    data: DataSpec  # what it reads (the loader, the preflight and the provenance record all go by it)
    size: int | None = None  # published number of questions, when the benchmark has one
    prompt: Callable[[Doc], str] = mcq_prompt  # the same prompt function every harness uses

    def load(self, data_dir: str | os.PathLike | None = None) -> list[Doc]:
        """Normalised docs (``data_dir`` None: ``MEDXPERT_DATA_DIR``, else the hub)."""
        from .data import load_docs, load_medlfqa_docs, load_vqa_docs

        d = self.data
        if d.kind == "mcq":
            return load_docs(d.bench, data_dir)
        if d.kind == "vqa":
            return load_vqa_docs(str(d.name), data_dir, answer_type=d.answer_type)
        return load_medlfqa_docs(str(d.name), data_dir)

    @property
    def images(self) -> bool:
        return self.data.kind == "vqa" or (self.data.bench is not None and self.data.bench.key == "medxpertqa_mm")

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS[self.kind]

    @property
    def max_gen_toks(self) -> int:
        return MAX_GEN_TOKS[self.kind]


def _mcq(key: str, *, question_type: str | None = None, sampled: str | None = None) -> DataSpec:
    return DataSpec("mcq", bench=Benchmark(key, key, question_type=question_type, sampled=sampled))


def _vqa(name: str, answer_type: str | None = None) -> DataSpec:
    return DataSpec("vqa", name=name, answer_type=answer_type)


def _lfqa(subset: str) -> DataSpec:
    return DataSpec("lfqa", name=subset)


def _registry() -> dict[str, Task]:
    tasks = [
        Task("medxpert_text_reasoning", "mcq", _mcq("medxpertqa_text", question_type="Reasoning"), 1861),
        Task("medxpert_text_understanding", "mcq", _mcq("medxpertqa_text", question_type="Understanding"), 589),
        Task("medxpert_mm_reasoning", "mcq", _mcq("medxpertqa_mm", question_type="Reasoning"), 1446),
        Task("medxpert_mm_understanding", "mcq", _mcq("medxpertqa_mm", question_type="Understanding"), 554),
        Task("medxpert_text_sampled", "mcq", _mcq("medxpertqa_text", sampled="text_sampled"), 244),
        Task("medxpert_mm_sampled", "mcq", _mcq("medxpertqa_mm", sampled="mm_sampled"), 199),
        Task("medbench_medqa", "mcq", _mcq("medqa"), 1273),
        Task("medbench_medmcqa", "mcq", _mcq("medmcqa"), 4183),
        Task("medbench_mmlu_medical", "mcq", _mcq("mmlu_medical"), 1089),
        Task("medvqa_pmcvqa", "mcq", _vqa("pmcvqa"), prompt=vqa_prompt),
        Task("medvqa_omnimedvqa", "mcq", _vqa("omnimedvqa"), prompt=vqa_prompt),
        Task("medvqa_vqamed2021", "vqamed", _vqa("vqamed2021"), prompt=vqa_prompt),
    ]
    for name in ("vqarad", "slake", "pathvqa", "quiltvqa"):
        tasks += [Task(f"medvqa_{name}_closed", "vqa_closed", _vqa(name, "closed"), prompt=vqa_prompt),
                  Task(f"medvqa_{name}_open", "vqa_open", _vqa(name, "open"), prompt=vqa_prompt)]  # fmt: skip
    for subset, size in (("kqa_golden", 201), ("kqa_silver", 904), ("live_qa", 100), ("medication_qa", 666),
                         ("healthsearch_qa", 3077)):  # fmt: skip
        tasks.append(Task(f"medlfqa_{subset}", "lfqa", _lfqa(subset), size, prompt=lfqa_prompt))
    return {t.name: t for t in tasks}


TASKS: dict[str, Task] = _registry()

# Judge variants: the task whose docs they judge (MedXpertQA judges whole Text / MM; open VQA its open questions).
JUDGE_OF: dict[str, str] = {
    "medxpert_text_judge": "medxpert_text",
    "medxpert_mm_judge": "medxpert_mm",
    "medxpert_text_sampled_judge": "medxpert_text_sampled",
    "medxpert_mm_sampled_judge": "medxpert_mm_sampled",
    **{f"medbench_{n}_judge": f"medbench_{n}" for n in ("medqa", "medmcqa", "mmlu_medical")},
    **{f"medvqa_{n}_judge": f"medvqa_{n}_open" for n in ("vqarad", "slake", "pathvqa", "quiltvqa")},
    "medvqa_vqamed2021_judge": "medvqa_vqamed2021",
    **{f"medlfqa_{n}_judge": f"medlfqa_{n}" for n in ("kqa_golden", "kqa_silver", "live_qa", "medication_qa",
                                                       "healthsearch_qa")},  # fmt: skip
}
TASKS["medxpert_text"] = Task("medxpert_text", "mcq", _mcq("medxpertqa_text"), 2450)
TASKS["medxpert_mm"] = Task("medxpert_mm", "mcq", _mcq("medxpertqa_mm"), 2000)

# Groups: size-weighted means of their tasks' metrics (the paper's Avg columns for MedXpertQA).
GROUPS: dict[str, tuple[str, ...]] = {
    "medxpert_text": ("medxpert_text_reasoning", "medxpert_text_understanding"),
    "medxpert_mm": ("medxpert_mm_reasoning", "medxpert_mm_understanding"),
    "medxpert": ("medxpert_text_reasoning", "medxpert_text_understanding", "medxpert_mm_reasoning",
                 "medxpert_mm_understanding"),  # fmt: skip
    "medbench": ("medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical"),
}


def task(name: str) -> Task:
    """The task of a canonical name; an unknown name is an error listing the close ones."""
    import difflib

    if name in TASKS:
        return TASKS[name]
    close = difflib.get_close_matches(name, list(TASKS), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown task {name!r}{hint}")
