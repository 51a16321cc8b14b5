"""Medical VQA for OpenCompass (endpoint models: ``OpenAISDK`` sends the images). Closed (yes/no) and open splits
of VQA-RAD, SLAKE, PathVQA, Quilt-VQA; VQA-Med-2021; multiple-choice PMC-VQA and OmniMedVQA. Data: the prepared
folders of ``medxpert data prepare`` under ``MEDXPERT_DATA_DIR``."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import (
    McqEvaluator,
    MedxpertDataset,
    VqaClosedEvaluator,
    VqaMedEvaluator,
    VqaOpenEvaluator,
)

with read_base():
    from ._common import image_infer_cfg, image_reader_cfg

medvqa_datasets = [
    dict(abbr=f"medvqa_{name}_{split}", type=MedxpertDataset, task=f"medvqa_{name}_{split}",
         reader_cfg=image_reader_cfg, infer_cfg=image_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=VqaClosedEvaluator if split == "closed" else VqaOpenEvaluator,
                                      task=f"medvqa_{name}_{split}")))
    for name in ("vqarad", "slake", "pathvqa", "quiltvqa")
    for split in ("closed", "open")
] + [
    dict(abbr="medvqa_vqamed2021", type=MedxpertDataset, task="medvqa_vqamed2021", reader_cfg=image_reader_cfg,
         infer_cfg=image_infer_cfg, eval_cfg=dict(evaluator=dict(type=VqaMedEvaluator, task="medvqa_vqamed2021"))),
] + [
    dict(abbr=name, type=MedxpertDataset, task=name, reader_cfg=image_reader_cfg, infer_cfg=image_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqEvaluator, task=name)))
    for name in ("medvqa_pmcvqa", "medvqa_omnimedvqa")
]
