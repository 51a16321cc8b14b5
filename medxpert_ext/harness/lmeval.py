"""lm-eval adapter: the glue the task YAMLs point at. Thin by design: loading, prompts, extraction and per-sample
scoring live in the core (``data``, ``prompts``, ``extract``, ``metrics``) and are shared with the OpenCompass
adapter, so the same output gets the same score in both harnesses.

Run-level settings reach the tasks through lm-eval's metadata (``--metadata '{"data_dir": ..., "think_end":
...}'``; lm-eval also passes every model arg), which lm-eval hands to ``custom_dataset`` only. Filters see
nothing but responses and docs, so the settings a filter needs (``think_end``; the judge endpoint of the
``*_judge`` variants, never its key) are stored on each doc, where ``--log_samples`` also records them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from lm_eval.api.filter import Filter

from ..data import Benchmark, DataSpec, load_docs, provenance
from ..metrics.aggregate import calibration, judged_mean, total  # noqa: F401  (aggregations named by the YAMLs)
from ..metrics.mcq import extract_for_doc, mcq_scores
from ..prompts import mcq_prompt
from .lmeval_compat import patch_generation_budget, patch_mixed_modalities

patch_mixed_modalities()
patch_generation_budget()

NO_ANSWER_PREFIX = "[no answer: "


# --metadata keys of the judge variants -> JudgeSettings fields (env vars MEDXPERT_JUDGE_* fill the rest)
JUDGE_METADATA = {
    "judge_base_url": "base_url",
    "judge_model": "model",
    "judge_api_key_env": "api_key_env",
    "judge_concurrency": "concurrency",
    "judge_timeout": "timeout",
    "judge_max_retries": "max_retries",
    "judge_token_budget": "token_budget",
}


def _as_dataset(docs: list[dict], think_end: str | None, meta: dict[str, Any], *, judge: bool,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Docs + the run settings filters need (see the module docstring) -> lm-eval's ``{split: Dataset}``."""
    import datasets

    patch_mixed_modalities()  # lm-eval loads data after the model: the backend's module is imported by now
    patch_generation_budget()
    judge_settings = {field: _str_or_none(meta.get(key)) for key, field in JUDGE_METADATA.items()}
    for doc in docs:
        doc |= {"think_end": think_end or None, **(extra or {})}
        if judge:
            doc["judge"] = judge_settings
    return {"test": datasets.Dataset.from_list(docs)}


def dataset_loader(bench: Benchmark, *, judge: bool = False) -> Callable[..., dict[str, Any]]:
    """A ``custom_dataset`` callable for one benchmark (lm-eval calls it with metadata + model args)."""

    def load(data_dir: str | None = None, think_end: str | None = None, **meta: Any) -> dict[str, Any]:
        docs = load_docs(bench, data_dir)
        record_provenance(DataSpec("mcq", bench=bench), data_dir)
        return _as_dataset(docs, think_end, meta, judge=judge)

    load.__name__ = f"load_{bench.source}"
    return load


def record_provenance(spec: DataSpec, data_dir: str | None) -> dict[str, Any] | None:
    """Store where the data came from in the calling task's ``config.metadata`` (key ``medxpert_data``).

    lm-eval writes every task's config, metadata included, into the results file (``configs.<task>.metadata``)
    after the run, but hands ``custom_dataset`` only a copy of the metadata. The loader is called from
    ``Task.download``, so the task is found on the call stack; if a future lm-eval calls it otherwise, nothing
    is recorded (and ``medxpert lm-eval`` still adds it to the results file, see ``lmeval_run``).
    """
    import sys

    record = provenance(spec, data_dir)
    frame = sys._getframe(1)
    for _ in range(8):
        frame = frame.f_back
        if frame is None:
            break
        task = frame.f_locals.get("self")
        meta = getattr(getattr(task, "config", None), "metadata", None)
        if isinstance(meta, dict) and getattr(task.config, "custom_dataset", None) is not None:
            meta["medxpert_data"] = record
            break
    return record


doc_to_text = mcq_prompt


def doc_to_target(doc: dict) -> str:
    return doc["answer"]


def doc_to_image(doc: dict) -> list:
    from ..images import LazyImage

    return [LazyImage(p) for p in doc["images"]]


class ExtractChoice(Filter):
    """Response -> committed option letter, or ``[no answer: <reason>]`` (kept readable in --log_samples)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        out = []
        for responses, doc in zip(resps, docs):
            picked = []
            for response in responses:
                got = extract_for_doc(doc, response)
                picked.append(got.letter if got.letter else f"{NO_ANSWER_PREFIX}{got.reason}]")
            out.append(picked)
        return out


def is_answer(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 1


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """``acc``: extracted letter == gold (no answer counts as wrong); ``extract_fail``: no answer was read."""
    pred = results[0]
    return mcq_scores(doc, pred if is_answer(pred) else None)


# ----------------------------------------------------------------------------------------- judge variants
def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class JudgeFilter(Filter):
    """Response -> the LLM judge's verdict record (sees every doc of the task, so requests run concurrently).

    The record is a JSON string: lm-eval writes filtered responses with ``str()``, and JSON keeps
    ``--log_samples`` machine-readable.
    """

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        import json
        import logging

        from ..judge.samples import judge_responses, sample_record
        from ..judge.settings import JudgeSettings

        resps = list(resps)
        if not docs:
            return resps
        overrides = {k: v for k, v in (docs[0].get("judge") or {}).items() if v is not None}
        settings = JudgeSettings.from_env(**overrides)
        verdicts, report = judge_responses(docs, [r[0] for r in resps], settings)
        log = logging.getLogger("medxpert_ext.judge")
        log.info(
            "judge %s: %d verdicts (%d cached), %d requests, %d errors, tokens %d prompt + %d completion",
            settings.model, len(verdicts), report.cached, report.requests_sent, report.errors,
            report.usage_total.prompt_tokens, report.usage_total.completion_tokens,
        )  # fmt: skip
        records = [sample_record(doc, r[0], v) for doc, r, v in zip(docs, resps, verdicts)]
        disagree = [doc["id"] for doc, rec in zip(docs, records) if rec["agreement"] is False]
        if disagree:
            log.info("judge and rule extractor disagree on %d samples: %s", len(disagree), ", ".join(disagree))
        if report.errors:
            log.warning("%d samples have no verdict (judge_error, not scored); rerun the same command to retry them "
                        "- verdicts already received are cached", report.errors)  # fmt: skip
        return [[json.dumps(rec, ensure_ascii=False)] for rec in records]


def process_results_judge(doc: dict, results: list[str]) -> dict[str, Any]:
    import json

    from ..judge.samples import sample_metrics

    return sample_metrics(json.loads(results[0]))



# -------------------------------------------------------------------------------------------- medical VQA
def vqa_loader(name: str, answer_type: str | None = None, *, judge: bool = False) -> Callable[..., dict[str, Any]]:
    """``custom_dataset`` for one VQA dataset (all questions, or only its closed / open ones)."""

    def load(data_dir: str | None = None, think_end: str | None = None, **meta: Any) -> dict[str, Any]:
        from ..data import load_vqa_docs

        docs = load_vqa_docs(name, data_dir, answer_type=answer_type)
        record_provenance(DataSpec("vqa", name=name, answer_type=answer_type), data_dir)
        return _as_dataset(docs, think_end, meta, judge=judge)

    load.__name__ = f"load_vqa_{name}_{answer_type or 'all'}"
    return load


class StripReasoning(Filter):
    """Response -> the text after the model's reasoning, or ``[no answer: unterminated_think]``.

    vllm-vlm and hf-multimodal return reasoning models' <think> blocks verbatim; short-answer metrics must see
    only the answer, and a reasoning block cut off by the token limit holds no answer at all.
    """

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        from ..extract import strip_reasoning

        out = []
        for responses, doc in zip(resps, docs):
            kept = []
            for response in responses:
                final = strip_reasoning(response or "", think_end=doc.get("think_end"))
                kept.append(f"{NO_ANSWER_PREFIX}unterminated_think]" if final is None else final.strip())
            out.append(kept)
        return out


def _answer_text(value: str) -> str | None:
    return None if value.startswith(NO_ANSWER_PREFIX) else value


def process_results_closed(doc: dict, results: list[str]) -> dict[str, float]:
    """Yes/no questions: ``closed_acc`` (no committed yes/no counts as wrong) and ``closed_unreadable``."""
    from ..metrics.vqa import closed_scores

    return closed_scores(doc, _answer_text(results[0]))


def process_results_open(doc: dict, results: list[str]) -> dict[str, float]:
    """Open questions: LLaVA-Med recall, token F1, normalised exact match (best over reference answers)."""
    from ..metrics.vqa import open_scores

    return open_scores(doc, _answer_text(results[0]))


def process_results_vqamed(doc: dict, results: list[str]) -> dict[str, Any]:
    """VQA-Med-2021: the open metrics plus (prediction, references) pairs for its BLEU."""
    from ..metrics.vqa import references

    pred = _answer_text(results[0]) or ""
    return process_results_open(doc, results) | {"bleu": (pred, references(doc))}


def vqa_bleu(items: list[tuple[str, list[str]]]) -> float:
    """VQA-Med-2021's BLEU (its evaluator's per-question sentence BLEU, best reference, averaged)."""
    from ..metrics.vqa import bleu

    return bleu([p for p, _ in items], [refs for _, refs in items])


# ------------------------------------------------------------------------------------------------ MedLFQA
FACTUALITY_METHODS = ("similarity", "none")


def lfqa_loader(subset: str, *, judge: bool = False) -> Callable[..., dict[str, Any]]:
    """``custom_dataset`` for one MedLFQA subset. Metadata: ``factuality`` ("similarity" = OLAPH's BioBERT-NLI
    rule, default; "none" = lexical only), ``nli_model`` and ``bertscore_model`` (local folders or hub ids)."""

    def load(data_dir: str | None = None, think_end: str | None = None, factuality: str = "similarity",
             nli_model: str | None = None, bertscore_model: str | None = None, **meta: Any) -> dict[str, Any]:  # fmt: skip
        from ..data import DataError, load_medlfqa_docs

        if factuality not in FACTUALITY_METHODS:
            raise DataError(f"--metadata factuality={factuality!r}: expected one of {FACTUALITY_METHODS}")
        if factuality == "similarity" and not judge:
            _nli_scorer(_str_or_none(nli_model))  # a missing model fails here, before any generation
        extra = {"factuality": factuality, "nli_model": _str_or_none(nli_model),
                 "bertscore_model": _str_or_none(bertscore_model)}  # fmt: skip
        docs = load_medlfqa_docs(subset, data_dir)
        record_provenance(DataSpec("lfqa", name=subset), data_dir)
        return _as_dataset(docs, think_end, meta, judge=judge, extra=extra)

    load.__name__ = f"load_medlfqa_{subset}"
    return load


def _final_answers(resps: Iterable[list[str]], docs: list[dict]) -> list[str | None]:
    """The text after each response's reasoning; None when a reasoning block never closed."""
    from ..extract import strip_reasoning

    return [strip_reasoning(r[0] or "", think_end=d.get("think_end")) for r, d in zip(resps, docs)]


@functools.lru_cache(maxsize=2)
def _nli_scorer(model_path: str | None):
    from ..metrics.lfqa import NLIScorer

    return NLIScorer(model_path)


class LfqaScores(Filter):
    """Response -> JSON record with the final answer and OLAPH's model-based scores, computed for the whole task
    at once (the BioBERT encoder and BERTScore batch far better than per-sample calls)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        import json
        import logging

        from ..metrics.lfqa import MetricUnavailable, bertscore

        log = logging.getLogger("medxpert_ext.lfqa")
        answers = _final_answers(resps, docs)
        records = [{"answer": (a or "").strip(), "no_answer": not (a or "").strip()} for a in answers]
        if docs and docs[0]["factuality"] == "similarity":
            scorer = _nli_scorer(docs[0]["nli_model"])
            for rec, doc in zip(records, docs):
                rec |= scorer.factuality(rec["answer"], doc["must_have"], doc["nice_to_have"])
        elif docs:
            log.warning("factuality=none: hallucination/comprehensiveness not computed (reported as NaN)")
        bert_model = docs[0]["bertscore_model"] if docs else None
        try:
            scores = bertscore([r["answer"] for r in records], [d["answer"] for d in docs], model_path=bert_model)
        except MetricUnavailable as exc:
            log.warning("BERTScore skipped (reported as NaN): %s", exc)
            scores = [None] * len(records)
        for rec, score in zip(records, scores):
            rec["bertscore"] = score
        return [[json.dumps(rec, ensure_ascii=False)] for rec in records]


def process_results_lfqa(doc: dict, results: list[str]) -> dict[str, float]:
    """ROUGE-1/2/L F1 and BLEU against the reference answer (0-1); OLAPH's hallucination and
    comprehensiveness (0-100); BERTScore F1; ``no_answer`` = empty or cut-off responses."""
    import json

    from ..metrics.lfqa import lexical_scores

    rec = json.loads(results[0])
    nan = float("nan")
    return lexical_scores(rec["answer"], doc["answer"]) | {
        "bertscore": nan if rec["bertscore"] is None else rec["bertscore"],
        "hallucination": rec.get("hallucination", nan),
        "comprehensiveness": rec.get("comprehensiveness", nan),
        "no_answer": float(rec["no_answer"]),
    }


class LfqaJudge(Filter):
    """Response -> JSON record of the judge's statement check (one request per answer, all statements at once)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        import json

        from ..judge.runner import judge_items
        from ..judge.settings import JudgeSettings
        from ..judge.types import JudgeItem

        if not docs:
            return list(resps)
        answers = [(a or "").strip() for a in _final_answers(resps, docs)]
        overrides = {k: v for k, v in (docs[0].get("judge") or {}).items() if v is not None}
        settings = JudgeSettings.from_env(**overrides)
        # Nothing to send for an empty answer (every statement is "not mentioned") or a row without statements.
        todo = [i for i, (a, d) in enumerate(zip(answers, docs)) if a and (d["must_have"] or d["nice_to_have"])]
        items = [JudgeItem(task=docs[i]["source"], sample_id=docs[i]["id"], mode="statements",
                           question=docs[i]["question"], response=answers[i],
                           statements=tuple(docs[i]["must_have"] + docs[i]["nice_to_have"])) for i in todo]  # fmt: skip
        report = judge_items(items, settings)
        verdicts = dict(zip(todo, report.verdicts))
        out = []
        for i, doc in enumerate(docs):
            n = len(doc["must_have"]) + len(doc["nice_to_have"])
            v = verdicts.get(i)
            rec = {
                "answer": answers[i],
                "status": v.status if v else "local",
                "labels": list(v.labels) if v else ["not_mentioned"] * n,
                "error": v.error if v else None,
                "prompt_tokens": v.usage.prompt_tokens if v and not v.cached else 0,
                "completion_tokens": v.usage.completion_tokens if v and not v.cached else 0,
            }
            out.append([json.dumps(rec, ensure_ascii=False)])
        return out


def process_results_lfqa_judge(doc: dict, results: list[str]) -> dict[str, Any]:
    """OLAPH's hallucination / comprehensiveness from the judge's labels; a sample without a verdict is
    ``judge_error`` and left out of both (``judged_mean``)."""
    import json

    from ..metrics.lfqa import factuality_from_labels

    rec = json.loads(results[0])
    failed = rec["status"] == "judge_error"
    scores = {} if failed else factuality_from_labels(rec["labels"], len(doc["must_have"]))
    return {
        "hallucination_judge": scores.get("hallucination"),
        "comprehensiveness_judge": scores.get("comprehensiveness"),
        "judge_error": float(failed),
        "judge_prompt_tokens": rec["prompt_tokens"],
        "judge_completion_tokens": rec["completion_tokens"],
    }
