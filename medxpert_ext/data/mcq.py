"""Multiple-choice benchmarks (MedXpertQA Text/MM, MedQA, MedMCQA, MMLU-medical): pinned hub sources, the local
files of the canonical layout, and the one normalised MCQ doc every prompt, extractor and metric sees.

Both record shapes are accepted (hub: ``options`` dict + plain ``label`` letter; local files: ``options`` list of
``{letter, content}`` + one-element ``label`` list; medbench files carry the choices only inside the question).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import string
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..extract import options_from_question
from ..resources import sampled_ids
from .files import read_jsonl_numbered, resolve_data_dir


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

# Published test sizes (MedXpertQA paper; the MedXpertQA repo's medbench files). A local file of another size is
# loaded, with a loud warning: its scores are not comparable with the papers'.
EXPECTED_ROWS = {
    "medxpertqa_text": 2450,
    "medxpertqa_mm": 2000,
    "medqa": 1273,
    "medmcqa": 4183,
    "mmlu_medical": 1089,
}
EXPECTED_BY_TYPE = {  # question_type split of the full sets
    ("medxpertqa_text", "Reasoning"): 1861,
    ("medxpertqa_text", "Understanding"): 589,
    ("medxpertqa_mm", "Reasoning"): 1446,
    ("medxpertqa_mm", "Understanding"): 554,
}
QUESTION_TYPES = ("Reasoning", "Understanding")
log = logging.getLogger("medxpert_ext.data")

OBTAIN_HINT = {
    "medxpertqa": f"download it from the hub ({MEDXPERTQA_REPO}, files Text/MM test jsonl and images.zip) "
    "or from the MedXpertQA GitHub repo (eval/data/medxpertqa/input/)",
    "medbench": "copy it from the MedXpertQA GitHub repo (eval/data/{medqa,medmcqa,mmlu_medical}/input/)",
}


def _local_file(root: Path, key: str) -> Path:
    path = root / LOCAL_FILES[key]
    if not path.is_file():
        family = "medbench" if path.parent.name == "medbench" else "medxpertqa"
        raise DataError(f"missing data file {path} (data root {root}); {OBTAIN_HINT[family]}")
    return path


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


def _question_type(value: Any) -> Any:
    """"reasoning" / " Understanding " name the official subsets too; anything else is left as is (and refused
    by the MedXpertQA loader, which must place every record in exactly one subset)."""
    if isinstance(value, str):
        for name in QUESTION_TYPES:
            if value.strip().lower() == name.lower():
                return name
    return value


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
    if row.get("options") is not None:  # choices written twice: both copies must agree, or what is scored is unclear
        written = "".join(sorted(options_from_question(row["question"])))
        if written and written != letters:
            raise DataError(f"{where}: 'options' has the letters {letters} but the question lists the choices "
                            f"{written}; fix the record so both agree")  # fmt: skip
    return {
        "id": str(row.get("id") or fallback_id),
        "source": source,
        "question": row["question"].strip(),
        "options": [{"letter": k, "content": options[k]} for k in letters],
        "letters": letters,
        "answer": answer,
        "question_type": _question_type(row.get("question_type")),
        "medical_task": normalize_medical_task(row.get("medical_task")),
        "body_system": row.get("body_system"),
        "subject": row.get("subject") or row.get("subject_name"),
        "images": _image_names(row, where),
    }


def doc_options(doc: Mapping[str, Any]) -> dict[str, str]:
    """Letter -> option text of a normalised MCQ doc."""
    return {o["letter"]: o["content"] for o in doc.get("options") or []}


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


_CONTROL = re.compile(r"[\x00-\x1f]")


def image_path(images_dir: Path, name: str, *, where: str, real_dir: str | None = None) -> str:
    """Resolve a record's image name inside the images folder to an absolute path; a name that escapes it is
    refused.

    ``real_dir``: ``str(images_dir.resolve())``, when the caller resolves many names in one folder: then a plain
    file name costs one ``lstat`` on a joined string: MedXpertQA MM resolves 2,852 names per run, and building
    ``Path`` objects for them cost more than the rest of loading a cached subset."""
    if _CONTROL.search(name):
        raise DataError(f"{where}: image path {name!r} contains a control character (NUL, newline...)")
    if os.path.isabs(name) or "\\" in name:
        raise DataError(f"{where}: image path {name!r} must be a file name relative to {images_dir}")
    if real_dir is not None and "/" not in name and name not in (".", ".."):
        candidate = os.path.join(real_dir, name)
        try:
            if stat.S_ISREG(os.lstat(candidate).st_mode):  # a regular file, not a symlink: resolves to itself
                return candidate
        except OSError:
            pass  # missing: the full check below says so
    path = (images_dir / name).resolve()
    if not path.is_relative_to(images_dir.resolve()):
        raise DataError(f"{where}: image path {name!r} escapes the images folder {images_dir}")
    if not path.is_file():
        raise DataError(
            f"{where}: missing image {path}; unpack images.zip from the hub ({MEDXPERTQA_REPO}) into {images_dir}"
        )
    return str(path)


@dataclass(frozen=True)
class Benchmark:
    """What a task asks the loader for: one benchmark file, optionally narrowed."""

    key: str  # a LOCAL_FILES / HUB key, e.g. "medxpertqa_mm", "medqa"
    source: str  # label stored in each doc, e.g. "medxpertqa_mm"
    question_type: str | None = None  # "Reasoning" / "Understanding"
    sampled: str | None = None  # "text_sampled" / "mm_sampled": the official random subset


Rows = list[tuple[str, dict]]  # (where: "file:LINE" or "hub ... (record N)", raw record)


def _file_rows(path: Path) -> Rows:
    return [(f"{path}:{lineno}", row) for lineno, row in read_jsonl_numbered(path)]


def _raw_rows(bench: Benchmark, root: Path | None) -> tuple[Rows, str]:
    if bench.sampled is None:
        if root is None:
            src = HUB[bench.key]
            where = f"hub {src.repo}@{src.revision[:8]}"
            return [(f"{where} (record {i + 1})", r) for i, r in enumerate(_hub_rows(bench.key))], where
        path = _local_file(root, bench.key)
        return _file_rows(path), str(path)
    # Sampled subsets: the official file when the root has it, else the full set filtered by the shipped ids.
    ids = sampled_ids(bench.sampled)
    if root is not None and (root / LOCAL_FILES[f"medxpertqa_{bench.sampled}"]).is_file():
        path = root / LOCAL_FILES[f"medxpertqa_{bench.sampled}"]
        rows = _file_rows(path)
        got = [str(r.get("id")) for _, r in rows]
        if sorted(got) != sorted(ids):
            raise DataError(
                f"{path}: ids differ from the official {bench.sampled} subset "
                f"({len(set(got) - set(ids))} unexpected, {len(set(ids) - set(got))} missing)"
            )
        return rows, str(path)
    full, where = _raw_rows(Benchmark(bench.key, bench.source), root)
    wanted = set(ids)
    rows = [(w, r) for w, r in full if str(r.get("id")) in wanted]
    if len(rows) != len(ids):
        raise DataError(f"{where}: only {len(rows)} of the {len(ids)} {bench.sampled} ids were found")
    return rows, f"{where} (filtered to {bench.sampled})"


def size_warning(key: str, n: int, where: str, question_type: str | None = None) -> str | None:
    """The loud warning for a full benchmark whose size differs from the published one, else None."""
    expected = EXPECTED_BY_TYPE.get((key, question_type)) if question_type else EXPECTED_ROWS.get(key)
    if expected is None or n == expected:
        return None
    what = f"{key} {question_type}" if question_type else key
    return (f"{where}: {n} {what} records, the official test has {expected}: scores on this file are not "
            "comparable with published ones")


@dataclass(frozen=True)
class _Checked:
    """A whole benchmark file, every record validated and normalised (before any subset is taken)."""

    rows: tuple[tuple[str, dict[str, Any]], ...]  # (where, doc); shared: never handed out without a copy
    where: str
    by_type: Mapping[str, int]


def _stamp(bench: Benchmark, root: Path | None) -> tuple:
    """What the parsed benchmark depends on besides the code: each file's path, size and mtime (hub: pinned)."""
    if root is None:
        return ()
    key = f"medxpertqa_{bench.sampled}" if bench.sampled else bench.key
    paths = [root / LOCAL_FILES[key]]
    if bench.sampled and not paths[0].is_file():
        paths = [root / LOCAL_FILES[bench.key]]  # filtered from the full set
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            return ()  # missing: _raw_rows says so; nothing is cached for it
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)


@lru_cache(maxsize=16)
def _checked(bench: Benchmark, root: Path | None, stamp: tuple) -> _Checked:
    """Validate and normalise every record of one benchmark file, once per file version and process.

    The subset tasks of one run (Reasoning and Understanding), and the preflight before them, read the same file:
    they share this work (150 ms per pass over MedXpertQA MM's 2,000 records) instead of each redoing it. A bad
    record raises, and exceptions are not cached, so every caller sees the same file:LINE error.
    """
    rows, where = _raw_rows(bench, root)
    prefix = bench.key if bench.key != "medxpertqa_mm" else "MM"
    medxpert = bench.key.startswith("medxpertqa")
    out = []
    seen: dict[str, str] = {}
    by_type: dict[str, int] = {}
    for i, (at, row) in enumerate(rows):
        doc = mcq_doc(row, source=bench.source, where=at, fallback_id=f"{prefix}-{i}")
        if doc["id"] in seen:
            raise DataError(f"{at}: duplicate id {doc['id']!r} (first at {seen[doc['id']]})")
        seen[doc["id"]] = at
        if medxpert:
            if doc["question_type"] not in QUESTION_TYPES:
                raise DataError(f"{at}: sample {doc['id']}: question_type {row.get('question_type')!r} is "
                                f"neither {' nor '.join(QUESTION_TYPES)}; the record would fall in no subset")
            by_type[doc["question_type"]] = by_type.get(doc["question_type"], 0) + 1
            if bench.key == "medxpertqa_mm" and not doc["images"]:
                raise DataError(f"{at}: sample {doc['id']}: an MM question without images (it would be asked "
                                "text-only)")  # fmt: skip
        out.append((at, doc))
    return _Checked(tuple(out), where, by_type)


def load_docs(bench: Benchmark, data_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Normalised docs of one benchmark; image names are resolved to checked absolute paths.

    Strict on purpose, because each of these once changed a score without a word: a MedXpertQA record whose
    question_type is neither Reasoning nor Understanding (any case) is an error, not dropped; an MM record
    without images is an error, not asked text-only; a duplicate id is an error; a full set whose size
    differs from the published one is loaded with a loud warning. The whole file is checked even when one
    subset is asked for (once per file version, see :func:`_checked`); images are checked on every call, since
    they can go missing between runs.
    """
    root = resolve_data_dir(data_dir)
    whole = Benchmark(bench.key, bench.source, None, bench.sampled)
    checked = _checked(whole, root, _stamp(whole, root))
    docs = []
    images_dir: Path | None = None
    real_dir: str | None = None
    for at, shared in checked.rows:
        if bench.question_type and shared["question_type"] != bench.question_type:
            continue
        # callers add fields to their docs: never to the cached ones
        doc = dict(shared, options=[dict(o) for o in shared["options"]], images=list(shared["images"]))
        if doc["images"]:
            if images_dir is None:
                images_dir = (root / IMAGES_DIR) if root is not None else _hub_images_dir()
                real_dir = str(images_dir.resolve())
            sample = f"{at}, sample {doc['id']}"
            doc["images"] = [image_path(images_dir, n, where=sample, real_dir=real_dir) for n in doc["images"]]
        docs.append(doc)
    if bench.sampled is None:
        warning = size_warning(bench.key, len(checked.rows), checked.where)
        if warning is None and bench.question_type:
            n = checked.by_type.get(bench.question_type, 0)
            warning = size_warning(bench.key, n, checked.where, bench.question_type)
        if warning:
            log.warning("medxpert: WARNING: %s", warning)
    if not docs:
        raise DataError(f"{checked.where}: no records for {bench}")
    return docs
