"""MedXpertQA task glue: one data loader per task; everything else comes from medxpert_ext.harness.lmeval (the lm-eval adapter)."""

from medxpert_ext.data import Benchmark
from medxpert_ext.harness.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    ExtractChoice,
    JudgeFilter,
    calibration,
    dataset_loader,
    doc_to_image,
    doc_to_target,
    doc_to_text,
    judged_mean,
    process_results,
    process_results_judge,
    total,
)

text_reasoning = dataset_loader(Benchmark("medxpertqa_text", "medxpertqa_text", question_type="Reasoning"))
text_understanding = dataset_loader(Benchmark("medxpertqa_text", "medxpertqa_text", question_type="Understanding"))
mm_reasoning = dataset_loader(Benchmark("medxpertqa_mm", "medxpertqa_mm", question_type="Reasoning"))
mm_understanding = dataset_loader(Benchmark("medxpertqa_mm", "medxpertqa_mm", question_type="Understanding"))
text_sampled = dataset_loader(Benchmark("medxpertqa_text", "medxpertqa_text", sampled="text_sampled"))
mm_sampled = dataset_loader(Benchmark("medxpertqa_mm", "medxpertqa_mm", sampled="mm_sampled"))

# LLM-judge variants
text_judge = dataset_loader(Benchmark("medxpertqa_text", "medxpertqa_text"), judge=True)
mm_judge = dataset_loader(Benchmark("medxpertqa_mm", "medxpertqa_mm"), judge=True)
text_sampled_judge = dataset_loader(Benchmark("medxpertqa_text", "medxpertqa_text", sampled="text_sampled"), judge=True)
mm_sampled_judge = dataset_loader(Benchmark("medxpertqa_mm", "medxpertqa_mm", sampled="mm_sampled"), judge=True)
