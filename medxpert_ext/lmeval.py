"""lm-eval adapter: the glue the task YAMLs point at. Thin by design; the work lives in data/prompts/extract.

Run-level settings reach the tasks through lm-eval's metadata (``--metadata '{"data_dir": ..., "think_end":
...}'``; lm-eval also passes every model arg), which lm-eval hands to ``custom_dataset``. ``think_end`` is
stored on each doc because filters only see docs, and it is the one setting the extractor needs per response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lm_eval.api.filter import Filter

from .data import Benchmark, load_docs
from .extract import extract
from .lmeval_compat import patch_mixed_modalities
from .prompts import mcq_prompt

patch_mixed_modalities()

NO_ANSWER_PREFIX = "[no answer: "


def dataset_loader(bench: Benchmark) -> Callable[..., dict[str, Any]]:
    """A ``custom_dataset`` callable for one benchmark (lm-eval calls it with metadata + model args)."""

    def load(data_dir: str | None = None, think_end: str | None = None, **_ignored: Any) -> dict[str, Any]:
        import datasets

        docs = load_docs(bench, data_dir)
        for doc in docs:
            doc["think_end"] = think_end or None
        return {"test": datasets.Dataset.from_list(docs)}

    load.__name__ = f"load_{bench.source}"
    return load


doc_to_text = mcq_prompt


def doc_to_target(doc: dict) -> str:
    return doc["answer"]


def doc_to_image(doc: dict) -> list:
    from .images import LazyImage

    return [LazyImage(p) for p in doc["images"]]


def _options(doc: dict) -> dict[str, str]:
    return {o["letter"]: o["content"] for o in doc.get("options") or []}


class ExtractChoice(Filter):
    """Response -> committed option letter, or ``[no answer: <reason>]`` (kept readable in --log_samples)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        out = []
        for responses, doc in zip(resps, docs):
            picked = []
            for response in responses:
                got = extract(response, doc["letters"], _options(doc), think_end=doc.get("think_end"))
                picked.append(got.letter if got.letter else f"{NO_ANSWER_PREFIX}{got.reason}]")
            out.append(picked)
        return out


def is_answer(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 1


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """``acc``: extracted letter == gold (no answer counts as wrong); ``extract_fail``: no answer was read."""
    pred = results[0]
    return {
        "acc": float(is_answer(pred) and pred == doc["answer"]),
        "extract_fail": float(not is_answer(pred)),
    }
