"""MCQ-suite task glue: one data loader per task; everything else comes from medxpert_ext.harness.lmeval (the lm-eval adapter)."""

from medxpert_ext.harness.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    ExtractChoice,
    JudgeFilter,
    calibration,
    doc_to_target,
    doc_to_text,
    judged_mean,
    process_results,
    process_results_judge,
    task_loader,
    total,
)

medqa = task_loader("medbench_medqa")
medmcqa = task_loader("medbench_medmcqa")
mmlu_medical = task_loader("medbench_mmlu_medical")

# LLM-judge variants
medqa_judge = task_loader("medbench_medqa", judge=True)
medmcqa_judge = task_loader("medbench_medmcqa", judge=True)
mmlu_medical_judge = task_loader("medbench_mmlu_medical", judge=True)
