"""MedLFQA for OpenCompass: all five subsets, OLAPH's bare-question prompt, ROUGE / BLEU / BERTScore and OLAPH's
factuality (BioBERT-NLI similarity: ``MEDXPERT_NLI_MODEL``; lexical only: set each evaluator's
``factuality='none'``; BERTScore: ``MEDXPERT_BERTSCORE_MODEL``)."""

from mmengine.config import read_base

from medxpert_ext.harness.opencompass import LfqaEvaluator, MedxpertDataset

with read_base():
    from ._common import text_infer_cfg, text_reader_cfg

medlfqa_datasets = [
    dict(abbr=f"medlfqa_{subset}", type=MedxpertDataset, task=f"medlfqa_{subset}", reader_cfg=text_reader_cfg,
         infer_cfg=text_infer_cfg,
         eval_cfg=dict(evaluator=dict(type=LfqaEvaluator, task=f"medlfqa_{subset}", factuality="similarity")))
    for subset in ("kqa_golden", "kqa_silver", "live_qa", "medication_qa", "healthsearch_qa")
]
