"""MedXpertQA scored by the LLM judge (HLE-style exact mode), for OpenCompass. Abbrs, prompts and cache keys are
those of the lm-eval ``*_judge`` tasks, so a verdict bought in one harness is free in the other. The judge is set
by the same environment as everywhere: ``MEDXPERT_JUDGE_BASE_URL``, ``MEDXPERT_JUDGE_MODEL``, the key in
``MEDXPERT_JUDGE_API_KEY`` (or ``OPENAI_API_KEY``), cache ``MEDXPERT_JUDGE_CACHE``."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import McqJudgeEvaluator, MedxpertDataset

with read_base():
    from ._common import image_infer_cfg, image_reader_cfg, text_infer_cfg, text_reader_cfg

medxpert_judge_datasets = [
    dict(abbr=abbr, type=MedxpertDataset, task=task, reader_cfg=text_reader_cfg, infer_cfg=text_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqJudgeEvaluator, task=abbr)))
    for abbr, task in (("medxpert_text_judge", "medxpert_text"), ("medxpert_text_sampled_judge", "medxpert_text_sampled"))
] + [
    dict(abbr=abbr, type=MedxpertDataset, task=task, reader_cfg=image_reader_cfg, infer_cfg=image_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqJudgeEvaluator, task=abbr)))
    for abbr, task in (("medxpert_mm_judge", "medxpert_mm"), ("medxpert_mm_sampled_judge", "medxpert_mm_sampled"))
]
