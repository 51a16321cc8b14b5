"""Medical VQA task glue: one data loader per task; everything else comes from medxpert_ext.harness.lmeval (the lm-eval adapter)."""

from medxpert_ext.harness.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    ExtractChoice,
    JudgeFilter,
    StripReasoning,
    doc_to_image,
    doc_to_target,
    judged_mean,
    process_results,
    process_results_closed,
    process_results_judge,
    process_results_open,
    process_results_vqamed,
    task_loader,
    total,
    vqa_bleu,
)
from medxpert_ext.prompts import vqa_prompt as doc_to_text  # noqa: F401

vqarad_closed, vqarad_open = task_loader("medvqa_vqarad_closed"), task_loader("medvqa_vqarad_open")
slake_closed, slake_open = task_loader("medvqa_slake_closed"), task_loader("medvqa_slake_open")
pathvqa_closed, pathvqa_open = task_loader("medvqa_pathvqa_closed"), task_loader("medvqa_pathvqa_open")
quiltvqa_closed, quiltvqa_open = task_loader("medvqa_quiltvqa_closed"), task_loader("medvqa_quiltvqa_open")
vqamed2021 = task_loader("medvqa_vqamed2021")
pmcvqa = task_loader("medvqa_pmcvqa")
omnimedvqa = task_loader("medvqa_omnimedvqa")

# LLM-judge variants (open questions)
vqarad_judge = task_loader("medvqa_vqarad_open", judge=True)
slake_judge = task_loader("medvqa_slake_open", judge=True)
pathvqa_judge = task_loader("medvqa_pathvqa_open", judge=True)
quiltvqa_judge = task_loader("medvqa_quiltvqa_open", judge=True)
vqamed2021_judge = task_loader("medvqa_vqamed2021", judge=True)
