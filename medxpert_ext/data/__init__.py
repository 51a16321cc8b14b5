"""The one data loader behind every task and harness adapter.

Every benchmark is read either from the Hugging Face hub at a pinned revision (the default) or from a local
data root in the canonical layout (``MEDXPERT_DATA_DIR`` or lm-eval ``--metadata '{"data_dir": ...}'``)::

    <root>/medxpertqa/text_test.jsonl       full Text test (2,450)   | text_sampled.jsonl (244)
    <root>/medxpertqa/mm_test.jsonl         full MM test (2,000)     | mm_sampled.jsonl (199)
    <root>/medxpertqa/images/<file>         MM images (images.zip from the hub, unpacked)
    <root>/medbench/medqa_test.jsonl        MedQA-USMLE 4-option test (1,273)
    <root>/medbench/medmcqa_dev.jsonl       MedMCQA validation (4,183)
    <root>/medbench/mmlu_medical_test.jsonl six MMLU medical subjects (1,089)
    <root>/vqa/<name>/test.jsonl + images/ + SHA256SUMS   medical VQA (``medxpert data prepare``)
    <root>/medlfqa/<subset>.jsonl           MedLFQA long-form subsets

Both record shapes are accepted (hub: ``options`` dict + plain ``label`` letter; local files: ``options`` list of
``{letter, content}`` + one-element ``label`` list; medbench files carry the choices only inside the question).
Whatever the source, every record comes out as one normalised multiple-choice doc (see :func:`mcq_doc`), so the
prompt, extractor and metrics never see the difference.

A local root is never silently mixed with the hub: when a data root is given, a missing file is an error that
names the file and how to obtain it.
"""

from ..errors import DataError
from .files import DATA_DIR_ENV, cache_root, iter_jsonl, read_jsonl, resolve_data_dir
from .lfqa import (
    MEDLFQA_REPO,
    MEDLFQA_REVISION,
    MEDLFQA_SUBSETS,
    load_medlfqa_docs,
    medlfqa_doc,
)
from .mcq import (
    HUB,
    IMAGES_DIR,
    LOCAL_FILES,
    MEDXPERTQA_REPO,
    MEDXPERTQA_REVISION,
    MMLU_MEDICAL_SUBJECTS,
    Benchmark,
    HubSource,
    doc_options,
    hub_row_to_local,
    image_path,
    load_docs,
    mcq_doc,
    normalize_medical_task,
)
from .provenance import DataSpec, file_sha256, provenance
from .vqa import VQA_ANSWER_TYPES, VQA_DIR, load_vqa_docs, vqa_doc, vqa_folder

__all__ = [
    "DATA_DIR_ENV", "HUB", "IMAGES_DIR", "LOCAL_FILES", "MEDLFQA_REPO", "MEDLFQA_REVISION", "MEDLFQA_SUBSETS",
    "MEDXPERTQA_REPO", "MEDXPERTQA_REVISION", "MMLU_MEDICAL_SUBJECTS", "VQA_ANSWER_TYPES", "VQA_DIR", "Benchmark",
    "DataError", "DataSpec", "HubSource", "file_sha256", "provenance", "cache_root", "doc_options", "hub_row_to_local", "image_path", "iter_jsonl",
    "load_docs", "load_medlfqa_docs", "load_vqa_docs", "mcq_doc", "medlfqa_doc", "normalize_medical_task",
    "read_jsonl", "resolve_data_dir", "vqa_doc", "vqa_folder",
]
