"""MCQ-suite task glue: one data loader per task; everything else comes from medxpert_ext.harness.lmeval (the lm-eval adapter)."""

from medxpert_ext.data import Benchmark
from medxpert_ext.harness.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    ExtractChoice,
    JudgeFilter,
    calibration,
    dataset_loader,
    doc_to_target,
    doc_to_text,
    judged_mean,
    process_results,
    process_results_judge,
    total,
)

medqa = dataset_loader(Benchmark("medqa", "medqa"))
medmcqa = dataset_loader(Benchmark("medmcqa", "medmcqa"))
mmlu_medical = dataset_loader(Benchmark("mmlu_medical", "mmlu_medical"))

# LLM-judge variants
medqa_judge = dataset_loader(Benchmark("medqa", "medqa"), judge=True)
medmcqa_judge = dataset_loader(Benchmark("medmcqa", "medmcqa"), judge=True)
mmlu_medical_judge = dataset_loader(Benchmark("mmlu_medical", "mmlu_medical"), judge=True)
