"""MCQ-suite task glue: one data loader per task; everything else comes from medxpert_ext.lmeval."""

from medxpert_ext.data import Benchmark
from medxpert_ext.lmeval import (  # noqa: F401  (referenced by the YAMLs)
    ExtractChoice,
    dataset_loader,
    doc_to_target,
    doc_to_text,
    process_results,
)

medqa = dataset_loader(Benchmark("medqa", "medqa"))
medmcqa = dataset_loader(Benchmark("medmcqa", "medmcqa"))
mmlu_medical = dataset_loader(Benchmark("mmlu_medical", "mmlu_medical"))
