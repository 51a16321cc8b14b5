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
    total,
    vqa_bleu,
    vqa_loader,
)
from medxpert_ext.prompts import vqa_prompt as doc_to_text  # noqa: F401

vqarad_closed, vqarad_open = vqa_loader("vqarad", "closed"), vqa_loader("vqarad", "open")
slake_closed, slake_open = vqa_loader("slake", "closed"), vqa_loader("slake", "open")
pathvqa_closed, pathvqa_open = vqa_loader("pathvqa", "closed"), vqa_loader("pathvqa", "open")
quiltvqa_closed, quiltvqa_open = vqa_loader("quiltvqa", "closed"), vqa_loader("quiltvqa", "open")
vqamed2021 = vqa_loader("vqamed2021")
pmcvqa = vqa_loader("pmcvqa")
omnimedvqa = vqa_loader("omnimedvqa")

# LLM-judge variants (open questions)
vqarad_judge = vqa_loader("vqarad", "open", judge=True)
slake_judge = vqa_loader("slake", "open", judge=True)
pathvqa_judge = vqa_loader("pathvqa", "open", judge=True)
quiltvqa_judge = vqa_loader("quiltvqa", "open", judge=True)
vqamed2021_judge = vqa_loader("vqamed2021", judge=True)
