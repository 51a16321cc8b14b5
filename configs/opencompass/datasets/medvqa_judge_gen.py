"""Open medical VQA answers scored by the LLM judge against the references, for OpenCompass (see
medxpert_judge_gen for the judge settings)."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import MedxpertDataset, VqaOpenJudgeEvaluator

with read_base():
    from ._common import image_infer_cfg, image_reader_cfg

medvqa_judge_datasets = [
    dict(abbr=f"medvqa_{name}_judge", type=MedxpertDataset, task=task, reader_cfg=image_reader_cfg,
         infer_cfg=image_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=VqaOpenJudgeEvaluator, task=f"medvqa_{name}_judge")))
    for name, task in (("vqarad", "medvqa_vqarad_open"), ("slake", "medvqa_slake_open"),
                       ("pathvqa", "medvqa_pathvqa_open"), ("quiltvqa", "medvqa_quiltvqa_open"),
                       ("vqamed2021", "medvqa_vqamed2021"))
]
