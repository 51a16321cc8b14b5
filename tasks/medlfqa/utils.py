"""MedLFQA task glue: one data loader per task; everything else comes from medxpert_ext.harness.lmeval (the lm-eval adapter)."""

from medxpert_ext.harness.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    LfqaJudge,
    LfqaScores,
    judged_mean,
    lfqa_loader,
    process_results_lfqa,
    process_results_lfqa_judge,
    total,
)
from medxpert_ext.prompts import lfqa_prompt as doc_to_text  # noqa: F401

kqa_golden, kqa_silver = lfqa_loader("kqa_golden"), lfqa_loader("kqa_silver")
live_qa, medication_qa = lfqa_loader("live_qa"), lfqa_loader("medication_qa")
healthsearch_qa = lfqa_loader("healthsearch_qa")

# factuality by the LLM judge
kqa_golden_judge, kqa_silver_judge = lfqa_loader("kqa_golden", judge=True), lfqa_loader("kqa_silver", judge=True)
live_qa_judge, medication_qa_judge = lfqa_loader("live_qa", judge=True), lfqa_loader("medication_qa", judge=True)
healthsearch_qa_judge = lfqa_loader("healthsearch_qa", judge=True)
