"""OpenCompass evaluators: each one a loop over the core's per-sample scoring of (prediction, doc).

Per-sample values and aggregation are exactly lm-eval's (same functions); OpenCompass shows shares on a 0-100
scale (:func:`medxpert_ext.metrics.aggregate.as_percent`). ``details`` keeps, per sample, the doc id, what was read
and every per-sample value, so the leaderboard and the regression gate can pair samples across harnesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opencompass.openicl.icl_evaluator import BaseEvaluator

from ... import __version__
from ...metrics.aggregate import aggregate, as_percent
from .datasets import row_to_doc
from .postprocess import final_text

BREAKDOWN = ("question_type", "medical_task", "body_system", "answer_type")


class _Evaluator(BaseEvaluator):
    """Subclasses turn (docs, predictions) into one record per sample: ``scores`` (metric -> value) + extras."""

    def __init__(self, task: str | None = None, **judge: Any) -> None:
        super().__init__()
        self.task = task
        self.judge = {k: v for k, v in judge.items() if v is not None}  # judge settings overrides (never a key)

    def records(self, docs: list[dict], predictions: list[str | None]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def score(self, predictions: Sequence[str | None], references: Sequence[Any], test_set) -> dict[str, Any]:
        if len(predictions) != len(test_set):
            return {"error": f"{len(predictions)} predictions for {len(test_set)} samples"}
        docs = [row_to_doc(row) for row in test_set]
        records = self.records(docs, list(predictions))
        metrics = list(records[0]["scores"]) if records else []
        result: dict[str, Any] = {}
        for metric in metrics:
            value = aggregate(metric, [r["scores"][metric] for r in records])
            result[metric] = as_percent(metric, value)
        details = []
        for doc, rec in zip(docs, records):
            details.append({"id": doc["id"], **{k: doc.get(k) for k in BREAKDOWN if doc.get(k) is not None},
                            **{k: v for k, v in rec.items()}})  # fmt: skip
        result["details"] = details
        result["medxpert"] = {"harness": "opencompass", "scale": 100, "n": len(docs), "task": self.task,
                              "pack_version": __version__}  # fmt: skip
        return result

    def _settings(self):
        from ...judge.settings import JudgeSettings

        return JudgeSettings.from_env(**self.judge)


class McqEvaluator(_Evaluator):
    """``acc`` / ``extract_fail`` with the pack's extractor (MedXpertQA, the MCQ suite, PMC-VQA, OmniMedVQA).

    ``rescue="judge"``: the responses the rules could not read go to the judge in extraction-only mode (the same
    core and cache as lm-eval's ``--metadata '{"rescue": "judge"}'``); ``acc`` stays rules-only and
    ``acc_rescued`` / ``rescued`` are added."""

    def __init__(self, task: str | None = None, rescue: str = "none", **judge: Any) -> None:
        super().__init__(task, **judge)
        if rescue not in ("none", "judge"):
            raise ValueError(f"rescue={rescue!r}: expected 'none' or 'judge'")
        self.rescue = rescue

    def records(self, docs, predictions):
        from ...extract import Extraction
        from ...metrics.mcq import extract_for_doc, mcq_scores

        texts = [final_text(p) for p in predictions]
        # None: the model's reasoning never closed (postprocess.strip_think) -- no answer, as in lm-eval
        rules = [extract_for_doc(d, t) if t is not None else Extraction(None, "unterminated_think")
                 for d, t in zip(docs, texts)]  # fmt: skip
        out = [{"pred": r.letter, "reason": r.reason, "correct": r.letter == d["answer"],
                "scores": mcq_scores(d, r.letter)} for d, r in zip(docs, rules)]  # fmt: skip
        if self.rescue == "judge":
            from ...judge.rescue import rescue_letters, rescue_scores

            result = rescue_letters(docs, [t or "" for t in texts], rules, self._settings(), progress=False)
            for i, (doc, rec) in enumerate(zip(docs, out)):
                rec["scores"] |= rescue_scores(doc["answer"], rules[i].letter, result.letters[i], result.rescued[i])
                rec["rescued_pred"] = result.letters[i]
        return out


class VqaClosedEvaluator(_Evaluator):
    def records(self, docs, predictions):
        from ...metrics.vqa import closed_scores

        out = []
        for doc, pred in zip(docs, predictions):
            scores = closed_scores(doc, _stripped(pred))
            out.append({"pred": _stripped(pred), "correct": bool(scores["closed_acc"]), "scores": scores})
        return out


class VqaOpenEvaluator(_Evaluator):
    def records(self, docs, predictions):
        from ...metrics.vqa import open_scores

        return [{"pred": _stripped(p), "scores": open_scores(d, _stripped(p))} for d, p in zip(docs, predictions)]


class VqaMedEvaluator(_Evaluator):
    """VQA-Med-2021: the open metrics plus its evaluator's BLEU (a corpus-level number, not a per-sample mean)."""

    def records(self, docs, predictions):
        from ...metrics.vqa import open_scores

        return [{"pred": _stripped(p), "scores": open_scores(d, _stripped(p))} for d, p in zip(docs, predictions)]

    def score(self, predictions, references, test_set):
        from ...metrics.vqa import bleu
        from ...metrics.vqa import references as refs

        result = super().score(predictions, references, test_set)
        docs = [row_to_doc(row) for row in test_set]
        result["bleu"] = as_percent("bleu", bleu([_stripped(p) or "" for p in predictions], [refs(d) for d in docs]))
        return result


class LfqaEvaluator(_Evaluator):
    """MedLFQA: ROUGE / BLEU / BERTScore and OLAPH's factuality (``factuality``: "similarity" or "none")."""

    def __init__(self, task=None, factuality: str = "similarity", nli_model: str | None = None,
                 bertscore_model: str | None = None, **judge) -> None:  # fmt: skip
        super().__init__(task, **judge)
        self.factuality, self.nli_model, self.bertscore_model = factuality, nli_model, bertscore_model

    def records(self, docs, predictions):
        from ...metrics.lfqa_task import sample_scores, score_answers

        texts = [final_text(p) for p in predictions]
        recs = score_answers(docs, [t or "" for t in texts], factuality=self.factuality, nli_model=self.nli_model,
                             bertscore_model=self.bertscore_model)  # fmt: skip
        for rec, text in zip(recs, texts):
            rec["no_answer"] = rec["no_answer"] or text is None
        return [{"pred": r["answer"], "scores": sample_scores(d, r)} for d, r in zip(docs, recs)]


# ------------------------------------------------------------------------------------------------ judge
class McqJudgeEvaluator(_Evaluator):
    """The LLM judge (HLE-style exact mode for MCQ docs, open mode for open VQA): the same items and cache keys as
    the lm-eval ``*_judge`` tasks, so a verdict bought in one harness is free in the other."""

    def records(self, docs, predictions):
        from ...judge.samples import judge_responses, sample_metrics, sample_record

        responses = [_for_judge(p) for p in predictions]
        verdicts, _ = judge_responses(docs, responses, self._settings(), progress=False)
        out = []
        for doc, resp, verdict in zip(docs, responses, verdicts):
            rec = sample_record(doc, resp, verdict)
            out.append({"pred": rec["judge_extracted"], "verdict": rec["verdict"], "correct": rec["verdict"] == "correct",
                        "scores": sample_metrics(rec)})  # fmt: skip
        return out


VqaOpenJudgeEvaluator = McqJudgeEvaluator  # the judge picks its mode from the doc (options -> exact, else open)


class LfqaJudgeEvaluator(_Evaluator):
    """MedLFQA factuality by the judge (one request per answer checks all of its statements)."""

    def records(self, docs, predictions):
        from ...judge.statements import judge_statement_records, statement_metrics

        answers = [(final_text(p) or "").strip() for p in predictions]
        recs = judge_statement_records(docs, answers, self._settings())
        return [{"pred": r["answer"], "verdict": r["status"], "scores": statement_metrics(d, r)}
                for d, r in zip(docs, recs)]  # fmt: skip


def _stripped(prediction: str | None) -> str | None:
    """A short answer as the VQA metrics take it: the final text, stripped; None when there is none."""
    text = final_text(prediction)
    return None if text is None else text.strip()


def _for_judge(prediction: str | None) -> str | None:
    """What the judge is handed. It applies the think rule itself: a prediction the postprocessor marked as
    unterminated goes in as an open think block, which the judge scores incorrect without a request -- the verdict
    lm-eval's judge tasks give the same raw response."""
    return "<think>" if final_text(prediction) is None and prediction is not None else prediction
