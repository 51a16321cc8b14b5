"""The 6,545-question MCQ suite for OpenCompass: MedQA (1,273), MedMCQA (4,183), MMLU-medical (1,089), generative
(the MedXpertQA / baseline protocol), scored by the pack's extractor."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import McqEvaluator, MedxpertDataset

with read_base():
    from ._common import text_infer_cfg, text_reader_cfg

medbench_datasets = [
    dict(abbr=name, type=MedxpertDataset, task=name, reader_cfg=text_reader_cfg, infer_cfg=text_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=McqEvaluator, task=name)))
    for name in ("medbench_medqa", "medbench_medmcqa", "medbench_mmlu_medical")
]
