"""MedLFQA (OLAPH's long-form medical QA): every row of each subset, with its must-have / nice-to-have statements."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError
from .files import read_jsonl_numbered, resolve_data_dir

MEDLFQA_REPO = "dmis-lab/MedLFQA"
# 51a064d ("remove original", May 2024) holds the files OLAPH's GitHub ships, byte-identical in size to
# ../shared/data; later hub commits re-uploaded kqa_golden/kqa_silver with different content.
MEDLFQA_REVISION = "51a064dd1676206e010f72a24c72c245f94ad049"
MEDLFQA_SUBSETS = {  # subset -> (file name on the hub / in OLAPH's repo, rows)
    "kqa_golden": ("kqa_golden_test_MedLFQA.jsonl", 201),
    "kqa_silver": ("kqa_silver_wogold_test_MedLFQA.jsonl", 904),
    "live_qa": ("live_qa_test_MedLFQA.jsonl", 100),
    "medication_qa": ("medication_qa_test_MedLFQA.jsonl", 666),
    "healthsearch_qa": ("healthsearch_qa_test_MedLFQA.jsonl", 3077),
}


def _statements(row: Mapping[str, Any], field: str, where: str) -> list[str]:
    value = row.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise DataError(f"{where}: '{field}' must be a list of statements (strings)")
    return [s.strip() for s in value if s.strip()]


def medlfqa_doc(row: Mapping[str, Any], *, subset: str, where: str, index: int) -> dict[str, Any]:
    question, answer = row.get("Question"), row.get("Free_form_answer")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: missing or empty 'Question'")
    if not isinstance(answer, str):
        raise DataError(f"{where}: missing 'Free_form_answer' (the questions-only HealthSearchQA file has no "
                        "references; use healthsearch_qa_test_MedLFQA.jsonl)")  # fmt: skip
    # live_qa row 71 has an empty reference but real statements: kept (every row, no sampling); its lexical
    # scores are undefined and left out of the means, its factuality scores count.
    # Some real rows have no must-have statements (4 in kqa_silver): kept; their comprehensiveness is undefined
    # and left out of the mean, never scored 0.
    must, nice = _statements(row, "Must_have", where), _statements(row, "Nice_to_have", where)
    return {
        "id": f"{subset}-{index}",
        "source": f"medlfqa_{subset}",
        "question": question.strip(),
        "answer": answer.strip(),
        "must_have": must,
        "nice_to_have": nice,
    }


def load_medlfqa_docs(subset: str, data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every row of one MedLFQA subset (no sampling), from ``<root>/medlfqa/<subset>.jsonl`` or the hub."""
    if subset not in MEDLFQA_SUBSETS:
        raise DataError(f"unknown MedLFQA subset {subset!r}; known: {', '.join(MEDLFQA_SUBSETS)}")
    hub_file, _ = MEDLFQA_SUBSETS[subset]
    root = resolve_data_dir(data_dir)
    if root is None:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(MEDLFQA_REPO, hub_file, repo_type="dataset", revision=MEDLFQA_REVISION))
    else:
        path = root / "medlfqa" / f"{subset}.jsonl"
        if not path.is_file():
            raise DataError(f"missing data file {path} (data root {root}); download {hub_file} from the hub "
                            f"({MEDLFQA_REPO}) or OLAPH's GitHub (MedLFQA/) and save it as {path.name}")  # fmt: skip
    rows = read_jsonl_numbered(path)
    return [medlfqa_doc(row, subset=subset, where=f"{path}:{lineno}", index=i) for i, (lineno, row) in enumerate(rows)]
