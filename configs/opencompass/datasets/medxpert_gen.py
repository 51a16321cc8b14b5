"""MedXpertQA for OpenCompass: Text Reasoning / Understanding and MM Reasoning / Understanding (4,450 questions).

``with read_base(): from medxpert_ext.configs.opencompass.datasets.medxpert_gen import medxpert_datasets``.
Abbrs are the lm-eval task names; scores (``acc``, ``extract_fail``) come from the pack's extractor, the same as in
lm-eval. MM needs an endpoint model (``OpenAISDK``); the summarizer's groups give the paper's Avg columns.
Data: ``MEDXPERT_DATA_DIR`` (local root) or the hub at the pinned revision.
"""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import McqEvaluator, MedxpertDataset

with read_base():
    from ._common import image_infer_cfg, image_reader_cfg, text_infer_cfg, text_reader_cfg

medxpert_datasets = [
    dict(abbr=name, type=MedxpertDataset, task=name, reader_cfg=text_reader_cfg, infer_cfg=text_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqEvaluator, task=name)))
    for name in ("medxpert_text_reasoning", "medxpert_text_understanding")
] + [
    dict(abbr=name, type=MedxpertDataset, task=name, reader_cfg=image_reader_cfg, infer_cfg=image_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqEvaluator, task=name)))
    for name in ("medxpert_mm_reasoning", "medxpert_mm_understanding")
]
