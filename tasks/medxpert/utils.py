"""MedXpertQA task glue: one data loader per task; everything else comes from medxpert_ext.harness.lmeval (the lm-eval adapter)."""

from medxpert_ext.harness.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    ExtractChoice,
    JudgeFilter,
    calibration,
    doc_to_image,
    doc_to_target,
    doc_to_text,
    judged_mean,
    process_results,
    process_results_judge,
    task_loader,
    total,
)

text_reasoning = task_loader("medxpert_text_reasoning")
text_understanding = task_loader("medxpert_text_understanding")
mm_reasoning = task_loader("medxpert_mm_reasoning")
mm_understanding = task_loader("medxpert_mm_understanding")
text_sampled = task_loader("medxpert_text_sampled")
mm_sampled = task_loader("medxpert_mm_sampled")

# LLM-judge variants
text_judge = task_loader("medxpert_text", judge=True)
mm_judge = task_loader("medxpert_mm", judge=True)
text_sampled_judge = task_loader("medxpert_text_sampled", judge=True)
mm_sampled_judge = task_loader("medxpert_mm_sampled", judge=True)
