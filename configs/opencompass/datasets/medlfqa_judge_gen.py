"""MedLFQA factuality by the LLM judge (one request per answer checks all statements), for OpenCompass (see
medxpert_judge_gen for the judge settings)."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import LfqaJudgeEvaluator, MedxpertDataset

with read_base():
    from ._common import text_infer_cfg, text_reader_cfg

medlfqa_judge_datasets = [
    dict(abbr=f"medlfqa_{subset}_judge", type=MedxpertDataset, task=f"medlfqa_{subset}", reader_cfg=text_reader_cfg,
         infer_cfg=text_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=LfqaJudgeEvaluator, task=f"medlfqa_{subset}_judge")))
    for subset in ("kqa_golden", "kqa_silver", "live_qa", "medication_qa", "healthsearch_qa")
]
