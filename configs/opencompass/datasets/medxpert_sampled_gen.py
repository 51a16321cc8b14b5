"""The official MedXpertQA random subsets (Text 244, MM 199) the authors used for o1, for OpenCompass."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import McqEvaluator, MedxpertDataset

with read_base():
    from ._common import image_infer_cfg, image_reader_cfg, text_infer_cfg, text_reader_cfg

medxpert_sampled_datasets = [
    dict(abbr="medxpert_text_sampled", type=MedxpertDataset, task="medxpert_text_sampled",
         reader_cfg=text_reader_cfg, infer_cfg=text_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqEvaluator, task="medxpert_text_sampled"))),
    dict(abbr="medxpert_mm_sampled", type=MedxpertDataset, task="medxpert_mm_sampled",
         reader_cfg=image_reader_cfg, infer_cfg=image_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqEvaluator, task="medxpert_mm_sampled"))),
]
