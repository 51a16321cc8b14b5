"""lm-eval adapter: the glue the task YAMLs point at. Thin by design: loading, prompts, extraction and per-sample
scoring live in the core (``data``, ``prompts``, ``extract``, ``metrics``) and are shared with the OpenCompass
adapter, so the same output gets the same score in both harnesses.

Run-level settings reach the tasks through lm-eval's metadata (``--metadata '{"data_dir": ..., "think_end":
...}'``; lm-eval also passes every model arg), which lm-eval hands to ``custom_dataset`` only. Filters see
nothing but responses and docs, so the settings a filter needs (``think_end``; the judge endpoint of the
``*_judge`` variants and of ``"rescue": "judge"``, never its key) are stored on each doc, where
``--log_samples`` also records them. So is ``max_image_edge`` (docs with images only, when set), which
``doc_to_image`` reads: images are sent as they are unless it asks for them to be shrunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lm_eval.api.filter import Filter

from ..benchmarks import task as get_task
from ..data import provenance
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
    max_edge = _max_image_edge(meta.get("max_image_edge"))
    for doc in docs:
        doc |= {"think_end": think_end or None, **(extra or {})}
        if max_edge and doc.get("images"):
            doc["max_image_edge"] = max_edge
        if judge:
            doc["judge"] = judge_settings
    return {"test": datasets.Dataset.from_list(docs)}


def _max_image_edge(value: Any) -> int | None:
    from ..data import DataError

    if value in (None, "", "None"):
        return None
    try:
        edge = int(value)
    except (TypeError, ValueError):
        edge = 0
    if edge < 1 or isinstance(value, (bool, float)):
        raise DataError(f"--metadata max_image_edge={value!r}: expected a positive number of pixels")
    return edge


RESCUE_MODES = ("none", "judge")


def task_loader(name: str, *, judge: bool = False) -> Callable[..., dict[str, Any]]:
    """A ``custom_dataset`` callable for one pack task by canonical name (lm-eval calls it with metadata + model
    args); ``judge`` adds the judge settings the ``*_judge`` filters read.

    ``--metadata '{"rescue": "judge"}'`` on multiple-choice tasks: the judge reads what the rules could not
    (``ExtractChoice``)."""
    spec = get_task(name)

    def load(data_dir: str | None = None, think_end: str | None = None, rescue: str | None = None,
             **meta: Any) -> dict[str, Any]:  # fmt: skip
        docs = spec.load(data_dir)
        record_provenance(name, data_dir)
        mode = _rescue_mode(rescue, meta, judge=judge) if spec.kind == "mcq" else "none"
        return _as_dataset(docs, think_end, meta, judge=judge or mode == "judge", extra={"rescue": mode})

    load.__name__ = f"load_{name}"
    return load


def record_provenance(task: str, data_dir: str | None) -> dict[str, Any] | None:
    """Store where the data came from in the calling task's ``config.metadata`` (key ``medxpert_data``).

    lm-eval writes every task's config, metadata included, into the results file (``configs.<task>.metadata``)
    after the run, but hands ``custom_dataset`` only a copy of the metadata. The loader is called from
    ``Task.download``, so the task is found on the call stack; if a future lm-eval calls it otherwise, nothing
    is recorded (and ``medxpert lm-eval`` still adds it to the results file, see ``lmeval_run``).
    """
    import sys

    from ..preflight import task_needs

    record = provenance(task_needs(task).data, data_dir)
    frame = sys._getframe(1)
    for _ in range(8):
        frame = frame.f_back
        if frame is None:
            break
        owner = frame.f_locals.get("self")
        meta = getattr(getattr(owner, "config", None), "metadata", None)
        if isinstance(meta, dict) and getattr(owner.config, "custom_dataset", None) is not None:
            meta["medxpert_data"] = record
            break
    return record


doc_to_text = mcq_prompt


def doc_to_target(doc: dict) -> str:
    return doc["answer"]


def doc_to_image(doc: dict) -> list:
    from ..images import LazyImage

    return [LazyImage(p, max_edge=doc.get("max_image_edge")) for p in doc["images"]]


class ExtractChoice(Filter):
    """Response -> committed option letter, or ``[no answer: <reason>]`` (kept readable in --log_samples).

    With ``"rescue": "judge"`` the first response of each doc becomes a JSON record instead: the rule letter
    and reason, and the letter the judge read where the rules read none (``medxpert_ext.judge.rescue``)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        resps = list(resps)
        out, firsts = [], []
        for responses, doc in zip(resps, docs):
            picked = []
            for response in responses:
                got = extract_for_doc(doc, response)
                picked.append(got.letter if got.letter else f"{NO_ANSWER_PREFIX}{got.reason}]")
                if len(picked) == 1:
                    firsts.append((response, got))
            if not responses:
                firsts.append((None, extract_for_doc(doc, None)))
            out.append(picked)
        if docs and docs[0].get("rescue") == "judge":
            out = _rescued(firsts, docs, out)
        return out


def _rescue_mode(rescue: Any, meta: dict[str, Any], *, judge: bool) -> str:
    """``--metadata rescue``: "none" (default) or "judge"; the judge endpoint is checked before generation."""
    from ..data import DataError

    mode = str(rescue or "none")
    if mode not in RESCUE_MODES:
        raise DataError(f"--metadata rescue={rescue!r}: expected one of {RESCUE_MODES}")
    if mode == "judge" and not judge:
        _judge_settings_from(meta)  # a missing endpoint fails here, before any generation
        return mode
    return "none"


def _judge_settings_from(overrides: dict[str, Any]):
    from ..judge.settings import JudgeSettings

    judge = {field: _str_or_none(overrides.get(key)) for key, field in JUDGE_METADATA.items()}
    return JudgeSettings.from_env(**{k: v for k, v in judge.items() if v is not None})


def _rescued(firsts: list[tuple[str | None, Any]], docs: list[dict], picked: list[list[str]]) -> list[list[str]]:
    """The judge rescue over the whole task at once (its requests run concurrently), as JSON records."""
    import json
    import logging

    from ..judge.rescue import rescue_letters
    from ..judge.settings import JudgeSettings

    overrides = {k: v for k, v in (docs[0].get("judge") or {}).items() if v is not None}
    settings = JudgeSettings.from_env(**overrides)
    rules = [got for _, got in firsts]
    result = rescue_letters(docs, [response for response, _ in firsts], rules, settings)
    log = logging.getLogger("medxpert_ext.judge")
    log.info("rescue %s: %d of %d samples unread by the rules, %d rescued, %d still unread (%d judge errors); "
             "%d requests, %d cached", settings.model, result.sent, len(docs), result.n_rescued,
             sum(x is None for x in result.letters), result.errors, result.requests, result.cached)  # fmt: skip
    if result.errors:
        log.warning("%d samples could not be read by the judge (judge_error, left unread); rerun the same command "
                    "to retry them - verdicts already received are cached", result.errors)  # fmt: skip
    out = []
    for i, (rule, verdict) in enumerate(zip(rules, result.verdicts)):
        record = {"letter": rule.letter, "reason": rule.reason, "rescued_letter": result.letters[i],
                  "rescued": result.rescued[i], "judge_status": verdict.status if verdict else None,
                  "judge_error": verdict.error if verdict else None}  # fmt: skip
        out.append([json.dumps(record, ensure_ascii=False), *picked[i][1:]])
    return out


def is_answer(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 1


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """``acc``: extracted letter == gold (no answer counts as wrong); ``extract_fail``: no answer was read.
    With the judge rescue also ``acc_rescued`` (rescued letters where the rules read none) and ``rescued``
    (share of samples whose letter came from the judge); ``acc`` stays the rules-only number."""
    pred = results[0]
    if isinstance(pred, str) and pred.startswith("{"):
        import json

        from ..judge.rescue import rescue_scores

        record = json.loads(pred)
        rescued = rescue_scores(doc["answer"], record["letter"], record["rescued_letter"], record["rescued"])
        return mcq_scores(doc, record["letter"]) | rescued
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
def lfqa_loader(subset: str, *, judge: bool = False) -> Callable[..., dict[str, Any]]:
    """``custom_dataset`` for one MedLFQA subset. Metadata: ``factuality`` ("similarity" = OLAPH's BioBERT-NLI
    rule, default; "none" = lexical only), ``nli_model`` and ``bertscore_model`` (local folders or hub ids)."""

    def load(data_dir: str | None = None, think_end: str | None = None, factuality: str = "similarity",
             nli_model: str | None = None, bertscore_model: str | None = None, **meta: Any) -> dict[str, Any]:  # fmt: skip
        from ..metrics.lfqa_task import check_factuality, nli_scorer

        check_factuality(factuality)
        if factuality == "similarity" and not judge:
            nli_scorer(_str_or_none(nli_model))  # a missing model fails here, before any generation
        extra = {"factuality": factuality, "nli_model": _str_or_none(nli_model),
                 "bertscore_model": _str_or_none(bertscore_model)}  # fmt: skip
        docs = get_task(f"medlfqa_{subset}").load(data_dir)
        record_provenance(f"medlfqa_{subset}", data_dir)
        return _as_dataset(docs, think_end, meta, judge=judge, extra=extra)

    load.__name__ = f"load_medlfqa_{subset}"
    return load


class LfqaScores(Filter):
    """Response -> JSON record with the final answer and OLAPH's model-based scores (whole task at once)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        import json

        from ..metrics.lfqa_task import score_answers

        if not docs:
            return list(resps)
        records = score_answers(docs, [r[0] for r in resps], factuality=docs[0]["factuality"],
                                nli_model=docs[0]["nli_model"], bertscore_model=docs[0]["bertscore_model"])  # fmt: skip
        return [[json.dumps(rec, ensure_ascii=False)] for rec in records]


def process_results_lfqa(doc: dict, results: list[str]) -> dict[str, float]:
    import json

    from ..metrics.lfqa_task import sample_scores

    return sample_scores(doc, json.loads(results[0]))


class LfqaJudge(Filter):
    """Response -> JSON record of the judge's statement check (one request per answer, all statements at once)."""

    def apply(self, resps: Iterable[list[str]], docs: list[dict]) -> list[list[str]]:
        import json

        from ..judge.settings import JudgeSettings
        from ..judge.statements import judge_statement_records
        from ..metrics.lfqa_task import final_answers

        if not docs:
            return list(resps)
        answers = [(a or "").strip() for a in final_answers([r[0] for r in resps], docs)]
        overrides = {k: v for k, v in (docs[0].get("judge") or {}).items() if v is not None}
        records = judge_statement_records(docs, answers, JudgeSettings.from_env(**overrides))
        return [[json.dumps(rec, ensure_ascii=False)] for rec in records]


def process_results_lfqa_judge(doc: dict, results: list[str]) -> dict[str, Any]:
    import json

    from ..judge.statements import statement_metrics

    return statement_metrics(doc, json.loads(results[0]))
