"""The VQA sources: where each benchmark comes from, what is known about it, and what a download fetches."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError


@dataclass(frozen=True)
class VqaSource:
    """Where a benchmark comes from and what is known about it (shown by the CLI, used by download/prepare)."""

    name: str
    title: str
    repo: str | None  # Hugging Face dataset repo; None = no hub source (official archive only)
    revision: str | None  # pinned hub commit; None = not pinned (see notes)
    split: str
    expected_rows: int | None  # documented test size after filtering; a mismatch only warns
    licence: str
    gated: bool
    mcq: bool
    notes: str


SOURCES: dict[str, VqaSource] = {
    "vqarad": VqaSource(
        name="vqarad",
        title="VQA-RAD (radiology)",
        repo="flaviagiammarino/vqa-rad",
        revision="bcf91e7654fb9d51c8ab6a5b82cacf3fafd2fae9",  # main head (README commit of 2023-06-03)
        split="test",
        expected_rows=451,
        licence="CC0-1.0",
        gated=False,
        mcq=False,
        notes="Hub parquet data/test-*.parquet with columns image (struct bytes/path), question, answer. The hub "
        "copy has no question ids, so ids are vqarad-<row>. answer_type is closed iff the answer is yes/no. "
        "Identical images shared by several questions are written once (named after their first row).",
    ),
    "slake": VqaSource(
        name="slake",
        title="SLAKE (English test questions)",
        repo="BoKelvin/SLAKE",
        revision="a9083ce6c34ac3ffb17671a605962924d8a8f9e9",  # main head, also pinned by public SLAKE loaders
        split="test",
        expected_rows=1061,
        licence="CC-BY-4.0",
        gated=False,
        mcq=False,
        notes="test.json (2,094 rows: 1,061 en + 1,033 zh) plus imgs.zip (or the official Slake1.0 folder/zip with "
        "imgs/). Only q_lang == 'en' rows are kept. ids are SLAKE's qid. answer_type is SLAKE's own OPEN/CLOSED, "
        "lower-cased: SLAKE's CLOSED also covers non-yes/no closed questions ('Which is bigger, A or B?'), kept as "
        "is for comparability with published numbers. img_name 'xmlab102/source.jpg' becomes 'xmlab102_source.jpg'.",
    ),
    "pathvqa": VqaSource(
        name="pathvqa",
        title="PathVQA (pathology)",
        repo="flaviagiammarino/path-vqa",
        # The README at this commit is identical to main's (dataset_info lists test = 6,719), so the data files
        # were present; the exact data file names at this commit were not seen.
        revision="cf69efe406aece2f8b2c514e37c7e98cb353e79e",
        split="test",
        expected_rows=6719,
        licence="MIT (dataset card; image copyrights stay with the textbook publishers and PEIR)",
        gated=False,
        mcq=False,
        notes="Same shape as vqarad: hub parquet test split with image, question, answer; ids pathvqa-<row>; "
        "closed iff the answer is yes/no (the card's 'binary yes/no questions').",
    ),
    "pmcvqa": VqaSource(
        name="pmcvqa",
        title="PMC-VQA test-clean (4-option MCQ)",
        repo="xmcmic/PMC-VQA",
        revision="b56ae594f794867893143b337b4118a835794647",  # main head (2024-07-02)
        split="test_clean",
        expected_rows=2000,
        licence="CC-BY-SA (dataset card; no version given)",
        gated=False,
        mcq=True,
        notes="test_clean.csv (v1 schema: Figure_path, Question, Answer, Choice A..D with 'A:' prefixes, "
        "Answer_label) plus images.zip (images/<Figure_path>; 18.9 GB for all of PMC-VQA, read in place: only the "
        "test-clean figures are copied). The prefixes are stripped; ids are pmcvqa-<row> (the CSV has no id).",
    ),
    "vqamed2021": VqaSource(
        name="vqamed2021",
        title="ImageCLEF VQA-Med 2021 Task 1 test (abnormality)",
        repo=None,
        revision=None,
        split="test",
        expected_rows=500,
        licence="ImageCLEF VQA-Med 2021 terms (research use; cite the overview paper)",
        gated=False,
        mcq=False,
        notes="Official archive Task1-VQA-2021-TestSet-w-GroundTruth(.zip): Task1-VQA-2021-TestSet-Questions.txt "
        "(<image id>|<question>), Task1-VQA-2021-TestSet-ReferenceAnswers.txt (<image id>|<answer>[|<answer>...], up "
        "to 3 references) and VQA-500-Images/<image id>.jpg (possibly inside a nested image zip). Every record keeps "
        "all references in 'answers' and 'answer' = the first; CSV-quoted references (\"...\"\"x\"\"...\") are "
        "unquoted as in the organisers' MS-COCO-format file. All questions are open; id = the image id.",
    ),
    "quiltvqa": VqaSource(
        name="quiltvqa",
        title="Quilt-VQA (histopathology, gated)",
        repo="wisdomik/Quilt_VQA",
        revision=None,
        split="train",
        expected_rows=None,
        licence="CC-BY-NC-ND-3.0",
        gated=True,
        mcq=False,
        notes="Gated: accept the terms on the hub and set HF_TOKEN. Reads the hub parquet (data/*.parquet: image, "
        "question, answer, answer_type, context); the hub exposes it as its only split, named 'train', although it "
        "is the evaluation set. answer_type is the dataset's CLOSED/OPEN ('other' counts as open); for closed rows a "
        "'yes_no_answer' column, when present, becomes the answer and the long answer is kept as 'explanation'. "
        "No revision is pinned (none found in public code) and the row count is unverified: the paper reports "
        "1,283 QA pairs on 985 images (the official quiltvqa_test_w_ans.json + quilt_vqa.zip, not read here).",
    ),
    "omnimedvqa": VqaSource(
        name="omnimedvqa",
        title="OmniMedVQA open-access part (MCQ)",
        repo="foreverbeliever/OmniMedVQA",
        revision="1ba51c28fc0773bdf7efb8396e5bcfd4227e22da",  # main head (2024-04-30)
        split="open_access",
        expected_rows=88996,
        licence="per source dataset (see the OmniMedVQA card; each of the 42 open-access sets keeps its licence)",
        gated=False,
        mcq=True,
        notes="experimental: converter written from the documented format, not verified on the real archive. "
        "OmniMedVQA.zip (10.7 GB) -> QA_information/Open-access/<dataset>.json (lists of question_id, question, "
        "gt_answer, option_A..option_D, image_path relative to the archive root, question_type, modality_type) and "
        "Images/. label = the option equal to gt_answer; rows whose gt_answer matches no option (or several) are "
        "skipped with a warning. Keeps dataset/question_type/modality_type for breakdowns. Restricted-access "
        "files are ignored (their images are not distributed).",
    ),
}

# What download_and_prepare fetches of each repo: only the files prepare reads.
_ALLOW_PATTERNS: dict[str, list[str]] = {
    "vqarad": ["data/test-*.parquet", "README.md"],
    "pathvqa": ["data/test-*.parquet", "README.md"],
    "slake": ["test.json", "imgs.zip", "README.md"],
    "pmcvqa": ["test_clean.csv", "images.zip", "README.md"],
    "quiltvqa": ["data/*.parquet", "README.md"],
    "omnimedvqa": ["OmniMedVQA.zip", "README.md"],
}

VQAMED2021_HINT = (
    "VQA-Med 2021 has no Hugging Face source: download the official Task 1 test set with ground truth "
    "(Task1-VQA-2021-TestSet-w-GroundTruth.zip, from the ImageCLEF 2021 VQA-Med task: "
    "https://www.imageclef.org/2021/medical/vqa, also published at https://github.com/abachaa/VQA-Med-2021), "
    "then run `medxpert data prepare vqamed2021 <archive or extracted folder>`"
)


def _source(name: str) -> VqaSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise DataError(f"unknown VQA dataset {name!r}; known: {', '.join(SOURCES)}") from None
