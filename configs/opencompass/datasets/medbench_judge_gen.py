"""The MCQ suite scored by the LLM judge, for OpenCompass (settings and cache: see medxpert_judge_gen)."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import McqJudgeEvaluator, MedxpertDataset

with read_base():
    from ._common import text_infer_cfg, text_reader_cfg

medbench_judge_datasets = [
    dict(abbr=f"{name}_judge", type=MedxpertDataset, task=name, reader_cfg=text_reader_cfg,
         infer_cfg=text_infer_cfg, eval_cfg=dict(evaluator=dict(type=McqJudgeEvaluator, task=f"{name}_judge")))
    for name in ("medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical")
]
