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

from __future__ import annotations

import json
import os
import string
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import DataError
from .extract import Extraction, extract, options_from_question
from .resources import sampled_ids

DATA_DIR_ENV = "MEDXPERT_DATA_DIR"


# --------------------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class HubSource:
    repo: str
    revision: str
    config: str | None
    split: str


# Revisions are the hub commits the local files were checked against; bump them deliberately, never float.
MEDXPERTQA_REPO = "TsinghuaC3I/MedXpertQA"
MEDXPERTQA_REVISION = "7e7c465a68eb2b866926bfa59c8c9d17a8daba65"
HUB = {
    "medxpertqa_text": HubSource(MEDXPERTQA_REPO, MEDXPERTQA_REVISION, "Text", "test"),
    "medxpertqa_mm": HubSource(MEDXPERTQA_REPO, MEDXPERTQA_REVISION, "MM", "test"),
    "medqa": HubSource("GBaker/MedQA-USMLE-4-options", "0fb93dd23a7339b6dcd27e241cb9b5eca62d4d18", None, "test"),
    "medmcqa": HubSource("openlifescienceai/medmcqa", "91c6572c454088bf71b679ad90aa8dffcd0d5868", None, "validation"),
    "mmlu_medical": HubSource("cais/mmlu", "c30699e8356da336a370243923dbaf21066bb9fe", None, "test"),
}
# Subject order of the MedXpertQA repo's mmlu_medical file, so hub and local ids agree.
MMLU_MEDICAL_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)

LOCAL_FILES = {
    "medxpertqa_text": "medxpertqa/text_test.jsonl",
    "medxpertqa_mm": "medxpertqa/mm_test.jsonl",
    "medxpertqa_text_sampled": "medxpertqa/text_sampled.jsonl",
    "medxpertqa_mm_sampled": "medxpertqa/mm_sampled.jsonl",
    "medqa": "medbench/medqa_test.jsonl",
    "medmcqa": "medbench/medmcqa_dev.jsonl",
    "mmlu_medical": "medbench/mmlu_medical_test.jsonl",
}
IMAGES_DIR = "medxpertqa/images"

OBTAIN_HINT = {
    "medxpertqa": f"download it from the hub ({MEDXPERTQA_REPO}, files Text/MM test jsonl and images.zip) "
    "or from the MedXpertQA GitHub repo (eval/data/medxpertqa/input/)",
    "medbench": "copy it from the MedXpertQA GitHub repo (eval/data/{medqa,medmcqa,mmlu_medical}/input/)",
}


# ------------------------------------------------------------------------------------------------ data root
def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data root in force: an explicit value (lm-eval metadata) wins over the environment.

    ``None`` means "read from the hub". A root that does not exist is an error, not a fallback.
    """
    value = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV) or None
    if value is None:
        return None
    root = Path(value).expanduser()
    if not root.is_absolute():
        root = Path.cwd() / root
    if not root.is_dir():
        raise DataError(f"data root {root} (from {'data_dir' if data_dir else DATA_DIR_ENV}) is not a directory")
    return root.resolve()


def _local_file(root: Path, key: str) -> Path:
    path = root / LOCAL_FILES[key]
    if not path.is_file():
        family = "medbench" if path.parent.name == "medbench" else "medxpertqa"
        raise DataError(f"missing data file {path} (data root {root}); {OBTAIN_HINT[family]}")
    return path


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line; bad JSON or a non-object is a DataError naming file:line.
    Every JSONL reader of the pack (benchmark files, lm-eval samples files) goes through here."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


@lru_cache(maxsize=16)
def _read_jsonl_cached(path: str, mtime_ns: int) -> tuple[dict, ...]:
    return tuple(row for _, row in iter_jsonl(path))


def read_jsonl(path: Path) -> tuple[dict, ...]:
    """Parsed rows of a JSONL file, cached by path and mtime (Reasoning and Understanding share one read)."""
    return _read_jsonl_cached(str(path), path.stat().st_mtime_ns)


# ------------------------------------------------------------------------------------------- normalisation
def normalize_medical_task(value: str | None) -> str | None:
    """The dataset card says "Basic Medicine", the released files say "Basic Science": one name for both."""
    if value is None:
        return None
    return "Basic Science" if value.strip().lower() in {"basic science", "basic medicine"} else value.strip()


def _options(row: Mapping[str, Any], where: str) -> dict[str, str]:
    """Letter -> option text from any of the accepted shapes."""
    raw = row.get("options")
    if raw is None:
        opts = options_from_question(str(row.get("question", "")))
        if not opts:
            raise DataError(f"{where}: no 'options' field and no 'Answer Choices: (A) ...' in the question")
        return opts
    if isinstance(raw, Mapping):
        return {str(k).strip(): str(v) for k, v in raw.items() if v is not None}
    if isinstance(raw, list):
        out = {}
        for item in raw:
            if not isinstance(item, Mapping) or "letter" not in item or "content" not in item:
                raise DataError(f"{where}: 'options' entries must be {{letter, content}} objects, got {item!r}")
            out[str(item["letter"]).strip()] = str(item["content"])
        return out
    raise DataError(f"{where}: 'options' must be a dict or a list of {{letter, content}}, got {type(raw).__name__}")


def _label(row: Mapping[str, Any], where: str) -> str:
    raw = row.get("label")
    if isinstance(raw, list):
        if len(raw) != 1:
            raise DataError(f"{where}: 'label' must hold exactly one letter, got {raw!r}")
        raw = raw[0]
    if not isinstance(raw, str) or not raw.strip():
        raise DataError(f"{where}: missing or empty 'label'")
    return raw.strip().upper()


def _image_names(row: Mapping[str, Any], where: str) -> list[str]:
    raw = row.get("images") or []
    names = []
    for item in raw:
        name = item.get("image_path") if isinstance(item, Mapping) else item
        if not isinstance(name, str) or not name:
            raise DataError(f"{where}: bad 'images' entry {item!r} (expected a file name or {{image_path}})")
        names.append(name)
    return names


def mcq_doc(row: Mapping[str, Any], *, source: str, where: str, fallback_id: str) -> dict[str, Any]:
    """One normalised multiple-choice doc: the only shape prompts, extractor and metrics ever see."""
    if not isinstance(row.get("question"), str) or not row["question"].strip():
        raise DataError(f"{where}: missing or empty 'question'")
    options = _options(row, where)
    letters = "".join(sorted(options))
    if letters != string.ascii_uppercase[: len(letters)]:
        raise DataError(f"{where}: option letters must run A, B, C... without gaps, got {letters!r}")
    answer = _label(row, where)
    if answer not in options:
        raise DataError(f"{where}: label {answer!r} is not one of the options {letters}")
    return {
        "id": str(row.get("id") or fallback_id),
        "source": source,
        "question": row["question"].strip(),
        "options": [{"letter": k, "content": options[k]} for k in letters],
        "letters": letters,
        "answer": answer,
        "question_type": row.get("question_type"),
        "medical_task": normalize_medical_task(row.get("medical_task")),
        "body_system": row.get("body_system"),
        "subject": row.get("subject") or row.get("subject_name"),
        "images": _image_names(row, where),
    }


def doc_options(doc: Mapping[str, Any]) -> dict[str, str]:
    """Letter -> option text of a normalised MCQ doc."""
    return {o["letter"]: o["content"] for o in doc.get("options") or []}


def extract_for_doc(doc: Mapping[str, Any], response: str | None) -> Extraction:
    """The rule extractor applied to a response to one MCQ doc (its letters, options and think_end)."""
    return extract(response, doc["letters"], doc_options(doc), think_end=doc.get("think_end"))


def _with_choices(question: str, options: Mapping[str, str]) -> str:
    """Hub MedQA/MedMCQA/MMLU rows -> the 'Answer Choices:' question text the MedXpertQA evaluation uses."""
    choices = " ".join(f"({k}) {v}" for k, v in options.items())
    return f"{question.strip()}\nAnswer Choices: {choices}"


def hub_row_to_local(name: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a raw hub row of the MCQ suite into the local-file shape (question with choices + label)."""
    if name == "medqa":  # GBaker/MedQA-USMLE-4-options: options dict, answer_idx letter
        opts = dict(sorted(row["options"].items()))
        return {"question": _with_choices(row["question"], opts), "label": [row["answer_idx"]]}
    if name == "medmcqa":  # opa..opd + cop (0-3)
        opts = dict(zip("ABCD", (row["opa"], row["opb"], row["opc"], row["opd"])))
        return {
            "id": row["id"],
            "question": _with_choices(row["question"], opts),
            "label": ["ABCD"[int(row["cop"])]],
            "subject_name": row.get("subject_name"),
        }
    if name == "mmlu_medical":  # cais/mmlu: choices list + answer index
        opts = dict(zip(string.ascii_uppercase, row["choices"]))
        return {
            "question": _with_choices(row["question"], opts),
            "label": [string.ascii_uppercase[int(row["answer"])]],
            "subject": row["subject"],
        }
    raise ValueError(f"no hub conversion for {name!r}")


# ------------------------------------------------------------------------------------------------- loaders
def _hub_rows(key: str) -> Iterator[dict]:
    import datasets

    src = HUB[key]
    if key == "mmlu_medical":
        for subject in MMLU_MEDICAL_SUBJECTS:
            for row in datasets.load_dataset(src.repo, subject, split=src.split, revision=src.revision):
                yield hub_row_to_local(key, row)
        return
    ds = datasets.load_dataset(src.repo, src.config, split=src.split, revision=src.revision)
    for i, row in enumerate(ds):
        if key == "medqa":  # the hub copy has no ids; the MedXpertQA repo numbers the test rows
            yield {"id": f"test-{i:05d}", **hub_row_to_local(key, row)}
        elif key == "medmcqa":
            yield hub_row_to_local(key, row)
        else:
            yield dict(row)


def _hub_images_dir() -> Path:
    """Download and unpack the MedXpertQA images archive once (the hub keeps images outside the parquet)."""
    from huggingface_hub import hf_hub_download

    archive = Path(
        hf_hub_download(MEDXPERTQA_REPO, "images.zip", repo_type="dataset", revision=MEDXPERTQA_REVISION)
    )
    target = archive.parent / "images_unpacked"
    if not (target / ".complete").exists():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
        (target / ".complete").touch()
    nested = target / "images"
    return nested if nested.is_dir() else target


def image_path(images_dir: Path, name: str, *, where: str) -> Path:
    """Resolve a record's image name inside the images folder; a name that escapes it is refused."""
    if os.path.isabs(name) or "\\" in name:
        raise DataError(f"{where}: image path {name!r} must be a file name relative to {images_dir}")
    path = (images_dir / name).resolve()
    if not path.is_relative_to(images_dir.resolve()):
        raise DataError(f"{where}: image path {name!r} escapes the images folder {images_dir}")
    if not path.is_file():
        raise DataError(
            f"{where}: missing image {path}; unpack images.zip from the hub ({MEDXPERTQA_REPO}) into {images_dir}"
        )
    return path


@dataclass(frozen=True)
class Benchmark:
    """What a task asks the loader for: one benchmark file, optionally narrowed."""

    key: str  # a LOCAL_FILES / HUB key, e.g. "medxpertqa_mm", "medqa"
    source: str  # label stored in each doc, e.g. "medxpertqa_mm"
    question_type: str | None = None  # "Reasoning" / "Understanding"
    sampled: str | None = None  # "text_sampled" / "mm_sampled": the official random subset


def _raw_rows(bench: Benchmark, root: Path | None) -> tuple[Iterable[dict], str]:
    if bench.sampled is None:
        if root is None:
            return list(_hub_rows(bench.key)), f"hub {HUB[bench.key].repo}@{HUB[bench.key].revision[:8]}"
        path = _local_file(root, bench.key)
        return read_jsonl(path), str(path)
    # Sampled subsets: the official file when the root has it, else the full set filtered by the shipped ids.
    ids = sampled_ids(bench.sampled)
    if root is not None and (root / LOCAL_FILES[f"medxpertqa_{bench.sampled}"]).is_file():
        path = root / LOCAL_FILES[f"medxpertqa_{bench.sampled}"]
        rows = read_jsonl(path)
        got = [str(r.get("id")) for r in rows]
        if sorted(got) != sorted(ids):
            raise DataError(
                f"{path}: ids differ from the official {bench.sampled} subset "
                f"({len(set(got) - set(ids))} unexpected, {len(set(ids) - set(got))} missing)"
            )
        return rows, str(path)
    full, where = _raw_rows(Benchmark(bench.key, bench.source), root)
    wanted = set(ids)
    rows = [r for r in full if str(r.get("id")) in wanted]
    if len(rows) != len(ids):
        raise DataError(f"{where}: only {len(rows)} of the {len(ids)} {bench.sampled} ids were found")
    return rows, f"{where} (filtered to {bench.sampled})"


def load_docs(bench: Benchmark, data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Normalised docs of one benchmark; image names are resolved to checked absolute paths."""
    root = resolve_data_dir(data_dir)
    rows, where = _raw_rows(bench, root)
    prefix = bench.key if bench.key != "medxpertqa_mm" else "MM"
    docs = []
    images_dir: Path | None = None
    for i, row in enumerate(rows):
        doc = mcq_doc(row, source=bench.source, where=f"{where} (row {i + 1})", fallback_id=f"{prefix}-{i}")
        if bench.question_type and doc["question_type"] != bench.question_type:
            continue
        if doc["images"]:
            if images_dir is None:
                images_dir = (root / IMAGES_DIR) if root is not None else _hub_images_dir()
            sample = f"{where}, sample {doc['id']}"
            doc["images"] = [str(image_path(images_dir, n, where=sample)) for n in doc["images"]]
        docs.append(doc)
    if not docs:
        raise DataError(f"{where}: no records for {bench}")
    return docs


# --------------------------------------------------------------------------------------------- medical VQA
VQA_DIR = "vqa"
VQA_ANSWER_TYPES = ("closed", "open")


def _cache_root() -> Path:
    """Where hub downloads are converted to the local layout when no data root is given."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "medxpert-ext" / "data"


def vqa_folder(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The prepared, checksum-verified folder of one VQA dataset (downloaded from the hub when no root is set)."""
    from .vqa_prepare import SOURCES, download_and_prepare, verify

    if name not in SOURCES:
        raise DataError(f"unknown VQA dataset {name!r}; known: {', '.join(sorted(SOURCES))}")
    root = resolve_data_dir(data_dir)
    if root is None:
        folder = _cache_root() / VQA_DIR / name
        if not (folder / "test.jsonl").is_file():
            download_and_prepare(name, _cache_root())
    else:
        folder = root / VQA_DIR / name
        if not (folder / "test.jsonl").is_file():
            raise DataError(
                f"missing {folder / 'test.jsonl'} (data root {root}); convert the downloaded dataset with "
                f"`medxpert data prepare {name} <snapshot folder or archive> --root {root}`"
            )
    verify(folder)
    return folder


def vqa_doc(row: Mapping[str, Any], *, source: str, mcq: bool, images_dir: Path, where: str, fallback_id: str):
    """One normalised VQA doc. Multiple-choice sets become ordinary MCQ docs (one image)."""
    image = row.get("image")
    if not isinstance(image, str) or not image:
        raise DataError(f"{where}: missing 'image' (a file name under {images_dir})")
    if mcq:
        doc = mcq_doc({**row, "images": [image]}, source=source, where=where, fallback_id=fallback_id)
    else:
        question, answer, kind = row.get("question"), row.get("answer"), row.get("answer_type")
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"{where}: missing or empty 'question'")
        if not isinstance(answer, str) or not answer.strip():
            raise DataError(f"{where}: missing or empty 'answer'")
        if kind not in VQA_ANSWER_TYPES:
            raise DataError(f"{where}: 'answer_type' must be one of {VQA_ANSWER_TYPES}, got {kind!r}")
        answers = row.get("answers") or [answer]
        doc = {
            "id": str(row.get("id") or fallback_id),
            "source": source,
            "question": question.strip(),
            "answer": answer.strip(),
            "answers": [str(a) for a in answers],
            "answer_type": kind,
            "images": [image],
        }
    doc["images"] = [str(image_path(images_dir, image, where=f"{where}, sample {doc['id']}"))]
    return doc


def load_vqa_docs(name: str, data_dir: str | os.PathLike | None = None, *, answer_type: str | None = None):
    """Normalised docs of one VQA dataset, optionally only its closed or open questions."""
    from .vqa_prepare import SOURCES

    folder = vqa_folder(name, data_dir)
    path = folder / "test.jsonl"
    docs = []
    for i, row in enumerate(read_jsonl(path)):
        doc = vqa_doc(row, source=f"vqa_{name}", mcq=SOURCES[name].mcq, images_dir=folder / "images",
                      where=f"{path} (row {i + 1})", fallback_id=f"{name}-{i}")  # fmt: skip
        if answer_type is None or doc.get("answer_type") == answer_type:
            docs.append(doc)
    if not docs:
        raise DataError(f"{path}: no {answer_type or ''} questions".replace("  ", " "))
    return docs


# ------------------------------------------------------------------------------------------------ MedLFQA
MEDLFQA_REPO = "dmis-lab/MedLFQA"
# 51a064d ("remove original", May 2024) holds the files OLAPH's GitHub ships, byte-identical in size to
# ../shared/data; later hub commits re-uploaded kqa_golden/kqa_silver with different content.
MEDLFQA_REVISION = "51a064dd1676206e010f72a24c72c245f94ad049"
MEDLFQA_SUBSETS = {  # subset -> (file name on the hub / in OLAPH's repo, rows)
    "kqa_golden": ("kqa_golden_test_MedLFQA.jsonl", 201),
    "kqa_silver": ("kqa_silver_wogold_test_MedLFQA.jsonl", 904),
    "live_qa": ("live_qa_test_MedLFQA.jsonl", 100),
    "medication_qa": ("medication_qa_test_MedLFQA.jsonl", 666),
    "healthsearch_qa": ("healthsearch_qa_test_MedLFQA.jsonl", 3077),
}


def _statements(row: Mapping[str, Any], field: str, where: str) -> list[str]:
    value = row.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise DataError(f"{where}: '{field}' must be a list of statements (strings)")
    return [s.strip() for s in value if s.strip()]


def medlfqa_doc(row: Mapping[str, Any], *, subset: str, where: str, index: int) -> dict[str, Any]:
    question, answer = row.get("Question"), row.get("Free_form_answer")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: missing or empty 'Question'")
    if not isinstance(answer, str):
        raise DataError(f"{where}: missing 'Free_form_answer' (the questions-only HealthSearchQA file has no "
                        "references; use healthsearch_qa_test_MedLFQA.jsonl)")  # fmt: skip
    # live_qa row 71 has an empty reference but real statements: kept (every row, no sampling); its lexical
    # scores are undefined and left out of the means, its factuality scores count.
    # Some real rows have no must-have statements (4 in kqa_silver): kept; their comprehensiveness is undefined
    # and left out of the mean, never scored 0.
    must, nice = _statements(row, "Must_have", where), _statements(row, "Nice_to_have", where)
    return {
        "id": f"{subset}-{index}",
        "source": f"medlfqa_{subset}",
        "question": question.strip(),
        "answer": answer.strip(),
        "must_have": must,
        "nice_to_have": nice,
    }


def load_medlfqa_docs(subset: str, data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every row of one MedLFQA subset (no sampling), from ``<root>/medlfqa/<subset>.jsonl`` or the hub."""
    if subset not in MEDLFQA_SUBSETS:
        raise DataError(f"unknown MedLFQA subset {subset!r}; known: {', '.join(MEDLFQA_SUBSETS)}")
    hub_file, _ = MEDLFQA_SUBSETS[subset]
    root = resolve_data_dir(data_dir)
    if root is None:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(MEDLFQA_REPO, hub_file, repo_type="dataset", revision=MEDLFQA_REVISION))
    else:
        path = root / "medlfqa" / f"{subset}.jsonl"
        if not path.is_file():
            raise DataError(f"missing data file {path} (data root {root}); download {hub_file} from the hub "
                            f"({MEDLFQA_REPO}) or OLAPH's GitHub (MedLFQA/) and save it as {path.name}")  # fmt: skip
    return [medlfqa_doc(row, subset=subset, where=f"{path} (row {i + 1})", index=i) for i, row in enumerate(read_jsonl(path))]
