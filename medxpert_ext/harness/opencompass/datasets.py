"""``MedxpertDataset``: one pack task as an OpenCompass dataset.

The docs come from the shared loader (:mod:`medxpert_ext.benchmarks` -> :mod:`medxpert_ext.data`), so the
questions, ids, data sources (hub at pinned revisions, or the local root from ``MEDXPERT_DATA_DIR`` /
``data_dir``) and errors are those of the lm-eval tasks. Two columns are added for the prompt template:

- ``prompt``: the shared prompt text (``PromptTemplate`` with ``{prompt}``; text tasks, any model);
- ``messages``: for image tasks, one OpenAI-style user message whose content is the image parts (file paths,
  sent by ``OpenAISDK`` as the files' own bytes) followed by the prompt text (``RawPromptTemplate``).
  The ``<image>`` placeholders lm-eval's local backends need are left out: an API takes the images as parts.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Dataset

from opencompass.datasets.base import BaseDataset

from ...benchmarks import task as get_task


def _row(doc: dict[str, Any], prompt: str) -> dict[str, Any]:
    row = dict(doc)
    row["prompt"] = prompt
    # Nested fields keep one Arrow type across rows (options differ in shape between benchmarks).
    row["options"] = json.dumps(doc.get("options") or [], ensure_ascii=False)
    if doc.get("images"):
        parts = [{"type": "image", "image_url": path, "text": None} for path in doc["images"]]
        row["messages"] = [{"role": "user", "content": [*parts, {"type": "text", "image_url": None, "text": prompt}]}]
    return row


def row_to_doc(row: dict[str, Any]) -> dict[str, Any]:
    """A dataset row back to the core's doc shape (what the scorers and the judge take)."""
    doc = dict(row)
    doc["options"] = json.loads(row.get("options") or "[]")
    return doc


class MedxpertDataset(BaseDataset):
    @staticmethod
    def load(task: str, data_dir: str | None = None, **_: Any) -> Dataset:
        """Docs of ``task`` (a canonical task name) with their prompts. Reasoning is stripped before scoring by
        the model's ``pred_postprocessor`` (:mod:`.postprocess`), so docs carry no ``think_end``."""
        spec = get_task(task)
        return Dataset.from_list([_row(doc, spec.prompt({**doc, "images": []})) for doc in spec.load(data_dir)])
