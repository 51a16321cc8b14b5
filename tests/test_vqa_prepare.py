"""medxpert_ext.vqa_prepare on tiny synthetic copies of each dataset's real source format.

The hub is not reachable from tests, so every source is built here in the shape the real release has (hub parquet
with an image struct of PNG bytes, SLAKE's test.json + imgs.zip, PMC-VQA's CSV + images.zip, the VQA-Med 2021 text
files in their archive, OmniMedVQA's QA json files + Images/), then converted, and the canonical output is checked
exactly: records, image bytes, SHA256SUMS, idempotency and verify().
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medxpert_ext.data import DataError
from medxpert_ext.vqa_prepare import SOURCES, download_and_prepare, prepare, verify, write_checksums

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
Image = pytest.importorskip("PIL.Image")


# ---------------------------------------------------------------------------------------------------- helpers
def png(colour: tuple[int, int, int], size: tuple[int, int] = (5, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (6, 6), colour).save(buf, format="JPEG")
    return buf.getvalue()


RED, GREEN, BLUE, GREY = png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255)), png((90, 90, 90))
JPG1, JPG2, JPG3 = jpeg((200, 10, 10)), jpeg((10, 200, 10)), jpeg((10, 10, 200))


def write_parquet(path: Path, rows: list[dict[str, Any]], columns: dict[str, Any] | None = None) -> Path:
    """A hub-style parquet: ``image`` is the datasets Image struct {bytes, path}."""
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = {"image": image_type, "question": pa.string(), "answer": pa.string(), **(columns or {})}
    table = pa.table({k: pa.array([r.get(k) for r in rows], type=t) for k, t in fields.items() if k in rows[0]})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def read_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "test.jsonl").read_text(encoding="utf-8").splitlines()]


def expected_sums(folder: Path, images: dict[str, bytes]) -> str:
    def h(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    lines = [f"{h((folder / 'test.jsonl').read_bytes())}  test.jsonl"]
    lines += [f"{h(images[name])}  images/{name}" for name in sorted(images)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ synthetic sources + truth
Case = tuple[Path, list[dict[str, Any]], dict[str, bytes]]


def vqarad_source(tmp: Path) -> Case:
    snap = tmp / "vqarad-snapshot"
    write_parquet(
        snap / "data" / "test-00000-of-00001-e5bc3d208bb4deeb.parquet",
        [
            {"image": {"bytes": RED, "path": None}, "question": "is there a fracture?", "answer": "yes"},
            {"image": {"bytes": GREEN, "path": "synpic1.png"}, "question": "what organ is shown?", "answer": "liver"},
            {"image": {"bytes": RED, "path": None}, "question": "is this normal?", "answer": " No "},
        ],
    )
    write_parquet(snap / "data" / "train-00000-of-00001-x.parquet",
                  [{"image": {"bytes": BLUE, "path": None}, "question": "train?", "answer": "yes"}])
    records = [
        {"id": "vqarad-0", "question": "is there a fracture?", "answer": "yes", "answer_type": "closed",
         "image": "vqarad-0.png"},
        {"id": "vqarad-1", "question": "what organ is shown?", "answer": "liver", "answer_type": "open",
         "image": "vqarad-1.png"},
        # the same bytes as row 0: written once, named after its first row
        {"id": "vqarad-2", "question": "is this normal?", "answer": "No", "answer_type": "closed",
         "image": "vqarad-0.png"},
    ]
    return snap, records, {"vqarad-0.png": RED, "vqarad-1.png": GREEN}


def pathvqa_source(tmp: Path) -> Case:
    snap = tmp / "pathvqa-snapshot"  # two shards: row ids continue across them
    write_parquet(snap / "data" / "test-00000-of-00002-aa.parquet",
                  [{"image": {"bytes": JPG1, "path": None}, "question": "where are liver stem cells located?",
                    "answer": "in the canals of hering"}])
    write_parquet(snap / "data" / "test-00001-of-00002-bb.parquet",
                  [{"image": {"bytes": JPG2, "path": None}, "question": "is this a carcinoma?", "answer": "no"}])
    write_parquet(snap / "data" / "validation-00000-of-00001-cc.parquet",
                  [{"image": {"bytes": JPG3, "path": None}, "question": "validation?", "answer": "yes"}])
    records = [
        {"id": "pathvqa-0", "question": "where are liver stem cells located?", "answer": "in the canals of hering",
         "answer_type": "open", "image": "pathvqa-0.jpg"},
        {"id": "pathvqa-1", "question": "is this a carcinoma?", "answer": "no", "answer_type": "closed",
         "image": "pathvqa-1.jpg"},
    ]
    return snap, records, {"pathvqa-0.jpg": JPG1, "pathvqa-1.jpg": JPG2}


SLAKE_ROWS = [
    {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "What modality is used to take this image?",
     "answer": "MRI", "q_lang": "en", "location": "Abdomen", "modality": "MRI", "answer_type": "OPEN",
     "base_type": "vqa", "content_type": "Modality", "triple": ["vhead", "_", "_"], "qid": 10},
    {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "这张图片的成像方式是什么?", "answer": "MRI",
     "q_lang": "zh", "location": "腹部", "modality": "MRI", "answer_type": "OPEN", "base_type": "vqa",
     "content_type": "Modality", "triple": ["vhead", "_", "_"], "qid": 11},
    {"img_id": 2, "img_name": "xmlab2/source.jpg", "question": "Which is bigger in this image, liver or spleen?",
     "answer": "Liver", "q_lang": "en", "location": "Abdomen", "modality": "CT", "answer_type": "CLOSED",
     "base_type": "vqa", "content_type": "Size", "triple": ["vhead", "_", "_"], "qid": 12},
    {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "Does the picture contain liver?", "answer": "Yes",
     "q_lang": "en", "location": "Abdomen", "modality": "MRI", "answer_type": "CLOSED", "base_type": "vqa",
     "content_type": "Organ", "triple": ["vhead", "_", "_"], "qid": 13},
]
SLAKE_RECORDS = [
    {"id": "10", "question": "What modality is used to take this image?", "answer": "MRI", "answer_type": "open",
     "image": "xmlab1_source.jpg"},
    {"id": "12", "question": "Which is bigger in this image, liver or spleen?", "answer": "Liver",
     "answer_type": "closed", "image": "xmlab2_source.jpg"},
    {"id": "13", "question": "Does the picture contain liver?", "answer": "Yes", "answer_type": "closed",
     "image": "xmlab1_source.jpg"},
]


def slake_source(tmp: Path) -> Case:
    snap = tmp / "slake-snapshot"
    snap.mkdir(parents=True)
    (snap / "test.json").write_text(json.dumps(SLAKE_ROWS, ensure_ascii=False), encoding="utf-8")
    (snap / "train.json").write_text(json.dumps([{**SLAKE_ROWS[0], "qid": 99}]), encoding="utf-8")
    write_zip(snap / "imgs.zip", {
        "imgs/xmlab1/source.jpg": JPG1,
        "imgs/xmlab1/mask.png": GREY,
        "imgs/xmlab1/detection.json": b"[]",
        "imgs/xmlab2/source.jpg": JPG2,
        "__MACOSX/imgs/xmlab1/._source.jpg": b"junk",
    })
    return snap, SLAKE_RECORDS, {"xmlab1_source.jpg": JPG1, "xmlab2_source.jpg": JPG2}


PMC_HEADER = ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label"]


def pmc_csv(rows: list[list[str]], header: list[str] = PMC_HEADER) -> str:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def pmcvqa_source(tmp: Path) -> Case:
    snap = tmp / "pmcvqa-snapshot"
    snap.mkdir(parents=True)
    (snap / "test_clean.csv").write_text(pmc_csv([
        ["PMC1064097_F1.jpg", "What is the uptake pattern in the breast?", "Focal uptake pattern",
         "A:Diffuse uptake pattern", " B:Focal uptake pattern ", "C:No uptake pattern",
         "D:Cannot determine from the information given", "B"],
        ["PMC2000000_F2.jpg", "Which imaging modality was used?", "CT", "A: MRI", "B: Ultrasound", "C: X-ray",
         "D: CT", " D"],
    ]), encoding="utf-8")
    (snap / "test.csv").write_text(pmc_csv([["PMC9_F9.jpg", "full test?", "x", "A:a", "B:b", "C:c", "D:d", "A"]]))
    write_zip(snap / "images.zip", {
        "images/PMC1064097_F1.jpg": JPG1,
        "images/PMC2000000_F2.jpg": JPG2,
        "images/PMC9_F9.jpg": JPG3,
    })
    records = [
        {"id": "pmcvqa-0", "question": "What is the uptake pattern in the breast?",
         "options": {"A": "Diffuse uptake pattern", "B": "Focal uptake pattern", "C": "No uptake pattern",
                     "D": "Cannot determine from the information given"},
         "label": "B", "image": "PMC1064097_F1.jpg"},
        {"id": "pmcvqa-1", "question": "Which imaging modality was used?",
         "options": {"A": "MRI", "B": "Ultrasound", "C": "X-ray", "D": "CT"}, "label": "D",
         "image": "PMC2000000_F2.jpg"},
    ]
    return snap, records, {"PMC1064097_F1.jpg": JPG1, "PMC2000000_F2.jpg": JPG2}


VQAMED_QUESTIONS = (
    "synpic42072|what abnormality is seen in the image?\n"
    "synpic37231|what is the primary abnormality in this image?\n"
    "synpic48161|what is most alarming about this ct scan?\n"
)
VQAMED_ANSWERS = (
    "synpic42072|avascular necrosis|extensive degenerative changes on the bilateral femoral heads and acetabula."
    "|Avascular Necrosis of femoral heads bilaterally with associated osteoarthritic changes\n"
    "synpic37231|pulmonary embolism\n"
    'synpic48161|"the appearance is consistent with a ""drowned"" right lower lobe"\n'
)


def vqamed2021_source(tmp: Path) -> Case:
    """The official archive: text files in a top folder plus a nested image zip."""
    top = "Task1-VQA-2021-TestSet-w-GroundTruth"
    inner = zip_bytes({
        "VQA-500-Images/synpic42072.jpg": JPG1,
        "VQA-500-Images/synpic37231.jpg": JPG2,
        "VQA-500-Images/synpic48161.jpg": JPG3,
    })
    archive = write_zip(tmp / f"{top}.zip", {
        f"{top}/Task1-VQA-2021-TestSet-Questions.txt": VQAMED_QUESTIONS.encode(),
        f"{top}/Task1-VQA-2021-TestSet-ReferenceAnswers.txt": VQAMED_ANSWERS.encode(),
        f"{top}/Task1-VQA-2021-TestSet-Images.zip": inner,
    })
    records = [
        {"id": "synpic42072", "question": "what abnormality is seen in the image?", "answer": "avascular necrosis",
         "answers": ["avascular necrosis",
                     "extensive degenerative changes on the bilateral femoral heads and acetabula.",
                     "Avascular Necrosis of femoral heads bilaterally with associated osteoarthritic changes"],
         "answer_type": "open", "image": "synpic42072.jpg"},
        {"id": "synpic37231", "question": "what is the primary abnormality in this image?",
         "answer": "pulmonary embolism", "answers": ["pulmonary embolism"], "answer_type": "open",
         "image": "synpic37231.jpg"},
        {"id": "synpic48161", "question": "what is most alarming about this ct scan?",
         "answer": 'the appearance is consistent with a "drowned" right lower lobe',
         "answers": ['the appearance is consistent with a "drowned" right lower lobe'], "answer_type": "open",
         "image": "synpic48161.jpg"},
    ]
    return archive, records, {"synpic42072.jpg": JPG1, "synpic37231.jpg": JPG2, "synpic48161.jpg": JPG3}


def quiltvqa_source(tmp: Path) -> Case:
    snap = tmp / "quilt-snapshot"
    write_parquet(
        snap / "data" / "train-00000-of-00001-0a1b.parquet",
        [
            {"image": {"bytes": RED, "path": "a.png"}, "question": "Is there evidence of necrosis?",
             "answer": "Yes, there are areas of necrosis in the center of the tumour.", "answer_type": "CLOSED",
             "context": "narration", "yes_no_answer": "yes"},
            {"image": {"bytes": GREEN, "path": "b.png"}, "question": "Are the nuclei atypical?",
             "answer": "The nuclei look bland.", "answer_type": "CLOSED", "context": "narration",
             "yes_no_answer": None},
            {"image": {"bytes": BLUE, "path": "c.png"}, "question": "What is the diagnosis?",
             "answer": "Nodular fasciitis", "answer_type": "OPEN", "context": "narration", "yes_no_answer": None},
        ],
        {"answer_type": pa.string(), "context": pa.string(), "yes_no_answer": pa.string()},
    )
    records = [
        {"id": "quiltvqa-0", "question": "Is there evidence of necrosis?", "answer": "yes", "answer_type": "closed",
         "explanation": "Yes, there are areas of necrosis in the center of the tumour.", "image": "quiltvqa-0.png"},
        {"id": "quiltvqa-1", "question": "Are the nuclei atypical?", "answer": "The nuclei look bland.",
         "answer_type": "closed", "image": "quiltvqa-1.png"},
        {"id": "quiltvqa-2", "question": "What is the diagnosis?", "answer": "Nodular fasciitis",
         "answer_type": "open", "image": "quiltvqa-2.png"},
    ]
    return snap, records, {"quiltvqa-0.png": RED, "quiltvqa-1.png": GREEN, "quiltvqa-2.png": BLUE}


OMNI_ACRIMA = [
    {"question_id": "ACRIMA_0001", "question": "What diagnosis is shown in this image?", "gt_answer": "Glaucoma",
     "option_A": "Normal", "option_B": "Glaucoma", "option_C": "Cataract", "option_D": "Diabetic retinopathy",
     "image_path": "Images/ACRIMA/Im002_ACRIMA.png", "dataset": "ACRIMA", "question_type": "Disease Diagnosis",
     "modality_type": "Fundus Photography"},
    {"question_id": "ACRIMA_0002", "question": "Is this eye healthy?", "gt_answer": "No, it's glaucoma.",
     "option_A": "No, it's glaucoma.", "option_B": "Yes, it's healthy.",
     "image_path": "Images/ACRIMA/Im003_ACRIMA.png", "dataset": "ACRIMA", "question_type": "Disease Diagnosis",
     "modality_type": "Fundus Photography"},
    {"question_id": "ACRIMA_0003", "question": "Broken row?", "gt_answer": "Nothing matches",
     "option_A": "a", "option_B": "b", "image_path": "Images/ACRIMA/Im003_ACRIMA.png", "dataset": "ACRIMA",
     "question_type": "Disease Diagnosis", "modality_type": "Fundus Photography"},
]
OMNI_CT = [
    {"question_id": "Chest CT Scan_0001", "question": "Which organ is shown?", "gt_answer": "lung",
     "option_A": "Lung", "option_B": "Liver", "option_C": "Heart", "option_D": None,
     "image_path": "Images/Chest CT Scan/test/adenocarcinoma/000108.png", "dataset": "Chest CT Scan",
     "question_type": "Anatomy Identification", "modality_type": "CT(Computed Tomography)"},
]
OMNI_RECORDS = [
    {"id": "ACRIMA_0001", "question": "What diagnosis is shown in this image?",
     "options": {"A": "Normal", "B": "Glaucoma", "C": "Cataract", "D": "Diabetic retinopathy"}, "label": "B",
     "dataset": "ACRIMA", "question_type": "Disease Diagnosis", "modality_type": "Fundus Photography",
     "image": "Im002_ACRIMA.png"},
    {"id": "ACRIMA_0002", "question": "Is this eye healthy?",
     "options": {"A": "No, it's glaucoma.", "B": "Yes, it's healthy."}, "label": "A", "dataset": "ACRIMA",
     "question_type": "Disease Diagnosis", "modality_type": "Fundus Photography", "image": "Im003_ACRIMA.png"},
    {"id": "Chest CT Scan_0001", "question": "Which organ is shown?",
     "options": {"A": "Lung", "B": "Liver", "C": "Heart"}, "label": "A", "dataset": "Chest CT Scan",
     "question_type": "Anatomy Identification", "modality_type": "CT(Computed Tomography)", "image": "000108.png"},
]


def omni_members(prefix: str = "OmniMedVQA/") -> dict[str, bytes]:
    return {
        f"{prefix}QA_information/Open-access/ACRIMA.json": json.dumps(OMNI_ACRIMA).encode(),
        f"{prefix}QA_information/Open-access/Chest CT Scan.json": json.dumps(OMNI_CT).encode(),
        f"{prefix}QA_information/Restricted-access/AIDA.json": json.dumps(
            [{**OMNI_CT[0], "question_id": "AIDA_1", "image_path": "AIDA/not/distributed.png"}]).encode(),
        f"{prefix}Images/ACRIMA/Im002_ACRIMA.png": RED,
        f"{prefix}Images/ACRIMA/Im003_ACRIMA.png": GREEN,
        f"{prefix}Images/Chest CT Scan/test/adenocarcinoma/000108.png": BLUE,
    }


def omnimedvqa_source(tmp: Path) -> Case:
    """The extracted archive (a folder holding OmniMedVQA/QA_information and OmniMedVQA/Images)."""
    root = tmp / "omni-extracted"
    for name, data in omni_members().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root, OMNI_RECORDS, {"Im002_ACRIMA.png": RED, "Im003_ACRIMA.png": GREEN, "000108.png": BLUE}


BUILDERS: dict[str, Callable[[Path], Case]] = {
    "vqarad": vqarad_source,
    "slake": slake_source,
    "pathvqa": pathvqa_source,
    "pmcvqa": pmcvqa_source,
    "vqamed2021": vqamed2021_source,
    "quiltvqa": quiltvqa_source,
    "omnimedvqa": omnimedvqa_source,
}


# ------------------------------------------------------------------------------------------------- round trip
def test_every_source_has_a_synthetic_case():
    assert set(BUILDERS) == set(SOURCES)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_prepare_round_trip(name, tmp_path):
    source, records, images = BUILDERS[name](tmp_path / "src")
    root = tmp_path / "root"

    folder = prepare(name, source, root)

    assert folder == root / "vqa" / name
    assert read_records(folder) == records
    assert {p.name: p.read_bytes() for p in (folder / "images").iterdir()} == images  # source bytes, no re-encode
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    assert sums == expected_sums(folder, images)
    verify(folder)

    # idempotent: a second run replaces the folder with byte-identical content and leaves no temp folders
    again = prepare(name, source, root)
    assert again == folder
    assert (folder / "SHA256SUMS").read_text(encoding="utf-8") == sums
    assert sorted(p.name for p in (root / "vqa").iterdir()) == [name]
    verify(folder)

    # a changed image is named, then a deleted one
    victim = sorted(images)[0]
    (folder / "images" / victim).write_bytes(b"tampered")
    with pytest.raises(DataError, match=rf"changed: images/{victim}") as err:
        verify(folder)
    assert f"medxpert data prepare {name}" in str(err.value)
    (folder / "images" / victim).unlink()
    with pytest.raises(DataError, match=rf"missing: images/{victim}"):
        verify(folder)


def test_checksums_are_sha256sum_compatible(tmp_path):
    source, _, _ = slake_source(tmp_path / "src")
    folder = prepare("slake", source, tmp_path / "root")
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_verify_catches_edited_records_and_missing_manifest(tmp_path):
    source, _, _ = vqarad_source(tmp_path / "src")
    folder = prepare("vqarad", source, tmp_path / "root")
    with open(folder / "test.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "injected", "image": "vqarad-0.png"}\n')
    with pytest.raises(DataError, match="changed: test.jsonl"):
        verify(folder)
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match="no SHA256SUMS"):
        verify(folder)
    write_checksums(folder)  # re-sealing is possible on purpose (e.g. after a deliberate fix)
    verify(folder)
    with pytest.raises(DataError, match="does not exist"):
        verify(tmp_path / "root" / "vqa" / "pathvqa")


def test_verify_lists_only_the_first_few_files(tmp_path):
    source, _, _ = omnimedvqa_source(tmp_path / "src")
    folder = prepare("omnimedvqa", source, tmp_path / "root")
    for p in (folder / "images").iterdir():
        p.unlink()
    with pytest.raises(DataError, match=r"3 file\(s\) fail .*missing: images/000108.png, images/Im002_ACRIMA.png"):
        verify(folder)


def test_verify_truncates_long_lists_and_checks_record_images_are_listed(tmp_path):
    snap = tmp_path / "snap"
    colours = [png((i * 30, 0, 0)) for i in range(7)]
    write_parquet(snap / "data" / "test-00000-of-00001.parquet",
                  [{"image": {"bytes": c, "path": None}, "question": f"q{i}?", "answer": "yes"}
                   for i, c in enumerate(colours)])
    folder = prepare("vqarad", snap, tmp_path / "root")
    assert (folder.stat().st_mode & 0o777) == (0o777 & ~_current_umask())  # not mkdtemp's private 0o700
    for p in (folder / "images").iterdir():
        p.unlink()
    expected = r"7 file\(s\) fail .*missing: (images/vqarad-\d\.png, ){4}images/vqarad-\d\.png \(\+2 more\)"
    with pytest.raises(DataError, match=expected):
        verify(folder)

    folder = prepare("vqarad", snap, tmp_path / "root")
    sums = folder / "SHA256SUMS"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines() if "vqarad-3.png" not in line))
    with pytest.raises(DataError, match=r"test.jsonl:4: image 'vqarad-3.png' is not listed in SHA256SUMS"):
        verify(folder)


def _current_umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_parquet_written_by_datasets_is_read(tmp_path):
    """The hub files are written by the datasets library (Image feature + schema metadata); read one such file."""
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": RED, "path": None}, {"bytes": GREEN, "path": None}],
         "question": ["is it red?", "what colour is it?"], "answer": ["yes", "green"]},
        features=datasets.Features({"image": datasets.Image(), "question": datasets.Value("string"),
                                    "answer": datasets.Value("string")}),
    )
    snap = tmp_path / "snap"
    (snap / "data").mkdir(parents=True)
    ds.to_parquet(str(snap / "data" / "test-00000-of-00001.parquet"))
    folder = prepare("pathvqa", snap, tmp_path / "root")
    assert read_records(folder) == [
        {"id": "pathvqa-0", "question": "is it red?", "answer": "yes", "answer_type": "closed",
         "image": "pathvqa-0.png"},
        {"id": "pathvqa-1", "question": "what colour is it?", "answer": "green", "answer_type": "open",
         "image": "pathvqa-1.png"},
    ]
    assert (folder / "images" / "pathvqa-0.png").read_bytes() == RED


# ------------------------------------------------------------------------------------------ dataset specifics
def test_slake_keeps_only_english_and_its_own_closed_label(tmp_path):
    source, _, _ = slake_source(tmp_path / "src")
    rows = read_records(prepare("slake", source, tmp_path / "root"))
    assert [r["id"] for r in rows] == ["10", "12", "13"]  # qid 11 is the Chinese copy
    assert not any("图片" in r["question"] for r in rows)
    assert rows[1]["answer_type"] == "closed" and rows[1]["answer"] == "Liver"  # non-yes/no CLOSED kept as closed


def test_slake_official_zip_layout(tmp_path):
    """The official Slake.zip: Slake1.0/{test.json, imgs/...} in one archive, images not zipped again."""
    archive = write_zip(tmp_path / "Slake.zip", {
        "Slake1.0/test.json": json.dumps(SLAKE_ROWS).encode(),
        "Slake1.0/imgs/xmlab1/source.jpg": JPG1,
        "Slake1.0/imgs/xmlab2/source.jpg": JPG2,
    })
    assert read_records(prepare("slake", archive, tmp_path / "root")) == SLAKE_RECORDS


def test_vqamed2021_extracted_folder_with_loose_images(tmp_path):
    top = tmp_path / "Task1-VQA-2021-TestSet-w-GroundTruth"
    (top / "images" / "VQA-500-Images").mkdir(parents=True)
    (top / "Task1-VQA-2021-TestSet-Questions.txt").write_text(VQAMED_QUESTIONS, encoding="utf-8")
    (top / "Task1-VQA-2021-TestSet-ReferenceAnswers.txt").write_text(VQAMED_ANSWERS, encoding="utf-8")
    for image_id, data in (("synpic42072", JPG1), ("synpic37231", JPG2), ("synpic48161", JPG3)):
        (top / "images" / "VQA-500-Images" / f"{image_id}.jpg").write_bytes(data)
    _, records, _ = vqamed2021_source(tmp_path / "other")
    assert read_records(prepare("vqamed2021", top, tmp_path / "root")) == records


def test_vqamed2021_needs_the_ground_truth(tmp_path):
    top = tmp_path / "testset"
    top.mkdir()
    (top / "Task1-VQA-2021-TestSet-Questions.txt").write_text(VQAMED_QUESTIONS, encoding="utf-8")
    (top / "Task1-VQA-2021-TestSet-ReferenceAnswers.txt").write_text("synpic42072|avascular necrosis\n")
    with pytest.raises(DataError, match=r"no reference answer for 2 question\(s\) \(synpic37231, synpic48161\)"):
        prepare("vqamed2021", top, tmp_path / "root")


def test_omnimedvqa_from_the_hub_archive(tmp_path):
    """The hub snapshot holds OmniMedVQA.zip; it is read in place."""
    snap = tmp_path / "omni-snapshot"
    write_zip(snap / "OmniMedVQA.zip", omni_members())
    assert read_records(prepare("omnimedvqa", snap, tmp_path / "root")) == OMNI_RECORDS


def test_omnimedvqa_skips_unanswerable_rows_with_a_warning(tmp_path, caplog):
    source, _, _ = omnimedvqa_source(tmp_path / "src")
    with caplog.at_level(logging.WARNING, logger="medxpert_ext.vqa_prepare"):
        rows = read_records(prepare("omnimedvqa", source, tmp_path / "root"))
    assert "ACRIMA_0003" not in [r["id"] for r in rows]
    assert "skipped 1 question(s) (ACRIMA: gt_answer matches 0 options)" in caplog.text


def test_row_count_mismatch_only_warns(tmp_path, caplog):
    source, records, _ = vqarad_source(tmp_path / "src")
    with caplog.at_level(logging.WARNING, logger="medxpert_ext.vqa_prepare"):
        folder = prepare("vqarad", source, tmp_path / "root")
    assert len(read_records(folder)) == len(records)
    assert "vqarad: 3 questions, the documented test set has 451" in caplog.text


def test_duplicate_source_ids_stay_unique(tmp_path):
    rows = [{**SLAKE_ROWS[0]}, {**SLAKE_ROWS[3], "qid": 10}]
    snap = tmp_path / "slake"
    snap.mkdir()
    (snap / "test.json").write_text(json.dumps(rows), encoding="utf-8")
    write_zip(snap / "imgs.zip", {"imgs/xmlab1/source.jpg": JPG1})
    assert [r["id"] for r in read_records(prepare("slake", snap, tmp_path / "root"))] == ["10", "10-2"]


# ------------------------------------------------------------------------------------------------ bad sources
@pytest.mark.parametrize(
    ("bad_path", "message"),
    [("../../etc/passwd", "escapes the dataset folder"), ("/etc/passwd", "is absolute"),
     ("xmlab1/../../x.jpg", "escapes"), ("C:\\imgs\\x.jpg", "is absolute")],
)
def test_slake_path_escape_is_rejected(tmp_path, bad_path, message):
    snap = tmp_path / "slake"
    snap.mkdir()
    (snap / "test.json").write_text(json.dumps([{**SLAKE_ROWS[0], "img_name": bad_path}]), encoding="utf-8")
    write_zip(snap / "imgs.zip", {"imgs/xmlab1/source.jpg": JPG1})
    with pytest.raises(DataError, match=message):
        prepare("slake", snap, tmp_path / "root")
    assert not (tmp_path / "root" / "vqa" / "slake").exists()
    assert not list((tmp_path / "root" / "vqa").iterdir())  # the temp build folder is gone too


def test_pmcvqa_and_omnimedvqa_path_escape_is_rejected(tmp_path):
    snap = tmp_path / "pmc"
    snap.mkdir()
    (snap / "test_clean.csv").write_text(pmc_csv([["../secret.jpg", "q?", "x", "A:a", "B:b", "C:c", "D:d", "A"]]))
    write_zip(snap / "images.zip", {"images/x.jpg": JPG1})
    with pytest.raises(DataError, match=r"test_clean.csv \(row 0\): image path '../secret.jpg' escapes"):
        prepare("pmcvqa", snap, tmp_path / "root")

    omni = tmp_path / "omni" / "QA_information" / "Open-access"
    omni.mkdir(parents=True)
    (omni / "X.json").write_text(json.dumps([{**OMNI_CT[0], "image_path": "../../outside.png"}]))
    with pytest.raises(DataError, match="escapes"):
        prepare("omnimedvqa", tmp_path / "omni", tmp_path / "root")


def test_missing_parquet_column_names_expected_and_found(tmp_path):
    snap = tmp_path / "snap"
    write_parquet(snap / "data" / "test-00000-of-00001.parquet",
                  [{"image": {"bytes": RED, "path": None}, "question": "q?"}])
    with pytest.raises(DataError) as err:
        prepare("vqarad", snap, tmp_path / "root")
    text = str(err.value)
    assert "expected columns image, question, answer but found image, question (missing answer)" in text
    assert "test-00000-of-00001.parquet" in text


def test_missing_csv_column_names_expected_and_found(tmp_path):
    snap = tmp_path / "pmc"
    snap.mkdir()
    header = PMC_HEADER[:-1]  # no Answer_label
    (snap / "test_clean.csv").write_text(pmc_csv([["a.jpg", "q", "x", "A:a", "B:b", "C:c", "D:d"]], header))
    expected = r"expected columns .*Answer_label but found Figure_path, .*missing Answer_label"
    with pytest.raises(DataError, match=expected):
        prepare("pmcvqa", snap, tmp_path / "root")


def test_wrong_source_names_the_expected_file(tmp_path):
    source, _, _ = vqarad_source(tmp_path / "src")  # a VQA-RAD snapshot given as SLAKE
    with pytest.raises(DataError, match=r"expected the SLAKE test questions \(test.json\) but found data/test-"):
        prepare("slake", source, tmp_path / "root")
    slake_snapshot, _, _ = slake_source(tmp_path / "src2")  # a SLAKE snapshot given as PathVQA
    with pytest.raises(DataError, match=r"expected parquet files of split 'test' .* but found no parquet files"):
        prepare("pathvqa", slake_snapshot, tmp_path / "root")
    with pytest.raises(DataError, match="no such file or folder"):
        prepare("vqarad", tmp_path / "nope", tmp_path / "root")
    with pytest.raises(DataError, match="unknown VQA dataset 'vqa-rad'"):
        prepare("vqa-rad", source, tmp_path / "root")


def test_failed_rebuild_keeps_the_previous_folder(tmp_path):
    source, records, _ = vqarad_source(tmp_path / "src")
    root = tmp_path / "root"
    folder = prepare("vqarad", source, root)
    broken = tmp_path / "broken"
    write_parquet(broken / "data" / "test-0.parquet", [{"image": {"bytes": RED, "path": None}, "question": "q"}])
    with pytest.raises(DataError):
        prepare("vqarad", broken, root)
    assert read_records(folder) == records
    verify(folder)
    assert sorted(p.name for p in (root / "vqa").iterdir()) == ["vqarad"]


def test_missing_image_is_reported(tmp_path):
    snap = tmp_path / "slake"
    snap.mkdir()
    (snap / "test.json").write_text(json.dumps([SLAKE_ROWS[2]]), encoding="utf-8")
    write_zip(snap / "imgs.zip", {"imgs/xmlab1/source.jpg": JPG1})
    with pytest.raises(DataError, match=r"qid 12\): image 'xmlab2/source.jpg' not found"):
        prepare("slake", snap, tmp_path / "root")


# ------------------------------------------------------------------------------------------------- downloads
def _http_response(status: int):
    """A response object for huggingface_hub's HTTP errors (httpx2 in hub >= 1.x, httpx/requests before)."""
    for module in ("httpx2", "httpx"):
        try:
            http = __import__(module)
            return http.Response(status, request=http.Request("GET", "https://huggingface.co/api/datasets/x"))
        except ImportError:
            continue
    import requests

    response = requests.Response()
    response.status_code = status
    return response


def test_download_vqamed2021_explains_where_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        download_and_prepare("vqamed2021", tmp_path)
    text = str(err.value)
    assert "no Hugging Face source" in text
    assert "Task1-VQA-2021-TestSet-w-GroundTruth.zip" in text
    assert "medxpert data prepare vqamed2021 <archive" in text


def test_download_gated_without_token(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(DataError) as err:
        download_and_prepare("quiltvqa", tmp_path)
    text = str(err.value)
    assert "wisdomik/Quilt_VQA" in text and "gated" in text
    assert "accept the dataset terms" in text and "HF_TOKEN" in text


@pytest.mark.parametrize("error", ["gated", "401"])
def test_download_gated_with_a_token_that_has_no_access(tmp_path, monkeypatch, error):
    import huggingface_hub
    from huggingface_hub import errors

    def refuse(*args, **kwargs):
        if error == "gated":
            raise errors.GatedRepoError("Cannot access gated repo", response=_http_response(401))
        raise errors.HfHubHTTPError("401 Client Error: Unauthorized", response=_http_response(401))

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_invalid")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(DataError) as err:
        download_and_prepare("quiltvqa", tmp_path)
    assert "accept the dataset terms" in str(err.value) and "HF_TOKEN" in str(err.value)


def test_download_offline_gives_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("could not connect to huggingface.co")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(DataError, match=r"could not download .*medxpert data prepare slake <folder>"):
        download_and_prepare("slake", tmp_path)


def test_download_uses_the_pinned_revision_then_prepares(tmp_path, monkeypatch):
    import huggingface_hub

    snapshot, records, _ = vqarad_source(tmp_path / "hub")
    calls = []

    def fake_snapshot(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    folder = download_and_prepare("vqarad", tmp_path / "root")
    repo, kwargs = calls[0]
    assert repo == "flaviagiammarino/vqa-rad"
    assert kwargs["revision"] == SOURCES["vqarad"].revision and kwargs["repo_type"] == "dataset"
    assert "data/test-*.parquet" in kwargs["allow_patterns"]
    assert read_records(folder) == records
    verify(folder)


def test_sources_are_documented():
    for name, spec in SOURCES.items():
        assert spec.name == name and spec.title and spec.licence and spec.notes
        assert spec.revision is None or len(spec.revision) == 40
        if spec.revision is None:
            assert spec.repo is None or "revision" in spec.notes  # an unpinned hub source says so
    assert SOURCES["quiltvqa"].gated and not SOURCES["vqarad"].gated
    assert SOURCES["pmcvqa"].mcq and SOURCES["omnimedvqa"].mcq and not SOURCES["slake"].mcq
    assert SOURCES["omnimedvqa"].notes.startswith("experimental: converter written from the documented format")
