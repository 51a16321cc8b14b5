"""Convert downloaded medical VQA releases into the pack's one canonical local layout.

Every medical VQA benchmark ships in its own shape (hub parquet with embedded images, a JSON file next to an image
zip, a CSV next to an 18.9 GB zip, ``|``-separated text files from a challenge archive, ...). The pack reads only
one layout, so the evaluation code never learns about any of them::

    <root>/vqa/<name>/test.jsonl      one JSON object per question
    <root>/vqa/<name>/images/<file>   the images the records name (flat folder, source bytes, never re-encoded)
    <root>/vqa/<name>/SHA256SUMS      ``sha256sum -c``-compatible manifest of test.jsonl and every image

Records are ``{"id", "question", "answer", "answer_type": "closed"|"open", "image"}``; the multiple-choice sets
(PMC-VQA, OmniMedVQA) are ``{"id", "question", "options": {"A": ...}, "label", "image"}`` with the choices kept out
of the question. A few sets add fields readers may use and may ignore: vqamed2021 ``answers`` (every reference
answer; ``answer`` is the first), quiltvqa ``explanation`` (the long answer of a closed question whose yes/no answer
became ``answer``), omnimedvqa ``dataset``/``question_type``/``modality_type`` (for per-subset breakdowns).

``closed`` means a yes/no question, except for SLAKE and Quilt-VQA, whose own ``CLOSED`` label is kept (SLAKE's also
covers "Which is bigger, A or B?"-style questions) so scores stay comparable with published numbers.

:func:`prepare` converts a local copy (a hub snapshot folder, an official archive, or its extracted folder);
:func:`download_and_prepare` fetches the hub copy at the pinned revision first. The loader calls :func:`verify` before
it reads a prepared folder, so a changed or missing file is caught instead of silently changing a score.

Design rules, each with its reason:

* A source is read in place (folder or zip, nested zips included): the PMC-VQA image zip is 18.9 GB and only
  ~2,000 of its images are needed, so nothing is unpacked wholesale.
* Output is a pure function of the source: ids, file names and record order are deterministic, so re-running
  ``prepare`` gives a byte-identical folder (and identical SHA256SUMS). The folder is built in a temporary sibling and
  swapped in by rename, so an interrupted run never leaves a half-written benchmark behind.
* A source path that is absolute or contains ``..`` is refused (:class:`DataError`); output names are sanitised flat
  file names, so nothing can be written outside ``images/``.
* A row count that differs from the documented one is logged as a warning, not an error: mirrors and later dataset
  revisions legitimately differ, and the count is visible in the log.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import DataError

log = logging.getLogger(__name__)

CHECKSUMS = "SHA256SUMS"
RECORDS = "test.jsonl"
IMAGES = "images"
YES_NO = frozenset({"yes", "no"})


# --------------------------------------------------------------------------------------------------- sources
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


# ------------------------------------------------------------------------------------------- reading sources
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
_MEMORY_ZIP_LIMIT = 1 << 30  # nested zips up to 1 GiB are read into memory (random access); larger ones stream


def _is_junk(name: str) -> bool:
    """macOS archive litter that is never data."""
    parts = name.split("/")
    return "__MACOSX" in parts or parts[-1].startswith("._") or parts[-1] == ".DS_Store"


class _Tree:
    """A read-only file tree (a folder or a zip archive) addressed by posix relative paths.

    One interface for folders and archives lets each converter accept a hub snapshot, an official zip or its
    extracted copy without caring which.
    """

    label: str

    @property
    def names(self) -> list[str]:  # sorted, files only, junk removed
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        raise NotImplementedError

    def open_zip(self, name: str, stack: ExitStack) -> _ZipTree:
        raise NotImplementedError

    def where(self, name: str) -> str:
        """How messages name a file of this tree."""
        raise NotImplementedError

    @cached_property
    def name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    @cached_property
    def _by_basename(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for name in self.names:
            index[name.rsplit("/", 1)[-1]].append(name)
        return index

    def with_basename(self, basename: str) -> list[str]:
        """Files called ``basename`` (case-insensitive), shallowest first."""
        wanted = basename.lower()
        hits = [n for b, ns in self._by_basename.items() if b.lower() == wanted for n in ns]
        return sorted(hits, key=lambda n: (n.count("/"), n))

    def resolve(self, relpath: str) -> str | None:
        """The file whose path is ``relpath`` or ends with ``/relpath`` (the shallowest one); None if absent.

        Archives wrap files in one or more folders (``imgs/``, ``Slake1.0/imgs/``, ``images/``...), so a record's
        relative path is matched as a path suffix rather than at a fixed prefix.
        """
        same_name = self._by_basename.get(relpath.rsplit("/", 1)[-1], [])
        candidates = [n for n in same_name if n == relpath or n.endswith("/" + relpath)]
        if not candidates:
            return None
        candidates.sort(key=lambda n: (n.count("/"), n))
        if len(candidates) > 1 and candidates[0].count("/") == candidates[1].count("/"):
            raise DataError(
                f"{self.label}: {relpath!r} matches several files ({', '.join(candidates[:3])}); point SOURCE at a "
                "folder or archive that holds only one copy of the images"
            )
        return candidates[0]


class _DirTree(_Tree):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    @cached_property
    def names(self) -> list[str]:
        out = []
        for dirpath, _dirs, files in os.walk(self.root):
            for f in files:
                rel = (Path(dirpath) / f).relative_to(self.root).as_posix()
                if not _is_junk(rel):
                    out.append(rel)
        return sorted(out)

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def open_zip(self, name: str, stack: ExitStack) -> _ZipTree:
        return _ZipTree(stack.enter_context(_open_zipfile(self.root / name)), str(self.root / name))

    def where(self, name: str) -> str:
        return str(self.root / name)


class _ZipTree(_Tree):
    def __init__(self, zf: zipfile.ZipFile, label: str) -> None:
        self.zf = zf
        self.label = label
        # Archives made on Windows may store "dir\\file"; members are addressed with "/" like everything else.
        self._members = {i.filename.replace("\\", "/"): i.filename for i in zf.infolist() if not i.is_dir()}

    @cached_property
    def names(self) -> list[str]:
        return sorted(n for n in self._members if not _is_junk(n))

    def read(self, name: str) -> bytes:
        return self.zf.read(self._members[name])

    def open_zip(self, name: str, stack: ExitStack) -> _ZipTree:
        label = f"{self.label}!/{name}"
        member = self._members[name]
        if self.zf.getinfo(member).file_size <= _MEMORY_ZIP_LIMIT:
            handle: Any = io.BytesIO(self.zf.read(member))
        else:  # seekable member stream: slower, but a multi-GB nested archive is not loaded into memory
            handle = stack.enter_context(self.zf.open(member))
        return _ZipTree(stack.enter_context(_open_zipfile(handle, label=label)), label)

    def where(self, name: str) -> str:
        return f"{self.label}!/{name}"


def _open_zipfile(file: Any, label: str | None = None) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{label or file}: not a readable zip archive ({exc}); download it again") from None


def _open_source(source: Path, stack: ExitStack) -> _Tree:
    if source.is_dir():
        return _DirTree(source)
    if source.is_file() and zipfile.is_zipfile(source):
        return _ZipTree(stack.enter_context(_open_zipfile(source)), str(source))
    if source.exists():
        raise DataError(f"{source}: SOURCE must be a folder (hub snapshot or extracted archive) or a .zip archive")
    raise DataError(f"{source}: no such file or folder")


def _find_one(tree: _Tree, basename: str, what: str) -> str:
    """The shallowest file called ``basename``; a clear error naming what was found otherwise."""
    hits = tree.with_basename(basename)
    if not hits:
        sample = ", ".join(tree.names[:8]) or "nothing"
        raise DataError(f"{tree.label}: expected {what} ({basename}) but found {sample}")
    if len(hits) > 1 and hits[0].count("/") == hits[1].count("/"):
        raise DataError(f"{tree.label}: several {basename} files ({', '.join(hits[:3])}); point SOURCE at one copy")
    return hits[0]


def _image_tree(tree: _Tree, zip_name: str, stack: ExitStack) -> _Tree:
    """Where a dataset's images live: its image zip when the source has one, else the source itself."""
    hits = tree.with_basename(zip_name)
    return tree.open_zip(hits[0], stack) if hits else tree


def _safe_relpath(value: Any, where: str) -> str:
    """A source-relative image path, normalised; absolute paths and ``..`` are refused (they could escape)."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: missing or empty image path")
    text = value.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise DataError(f"{where}: image path {value!r} is absolute; only paths relative to the dataset are allowed")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts or not parts:
        raise DataError(f"{where}: image path {value!r} escapes the dataset folder ('..' is not allowed)")
    return "/".join(parts)


# ----------------------------------------------------------------------------------------------- image naming
def _sanitize(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return "_" + clean[1:] if clean.startswith(".") else clean


def _file_names(paths: Iterable[str], dataset: str) -> dict[str, str]:
    """Output file names for source-relative image paths: the file's own name when unique, else its flattened path.

    ``xmlab102/source.jpg`` (every SLAKE image is ``source.jpg``) becomes ``xmlab102_source.jpg``; a name that
    still collides falls back to ``<dataset>-<index><suffix>``. Deterministic for a given list of paths.
    """
    unique = list(dict.fromkeys(paths))
    base = {p: _sanitize(p.rsplit("/", 1)[-1]) for p in unique}
    counts = Counter(base.values())
    names = {p: base[p] if counts[base[p]] == 1 else _sanitize(p.replace("/", "_")) for p in unique}
    clashes = Counter(names.values())
    for i, p in enumerate(unique):
        if clashes[names[p]] > 1:
            names[p] = f"{dataset}-{i}{PurePosixPath(p).suffix}"
    return names


def _sniff_suffix(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:2] == b"BM":
        return ".bmp"
    return None


@dataclass
class _Image:
    """One image a record needs: ``key`` identifies the source bytes (shared images are written once)."""

    key: str
    name: str | None  # output file name; None = ``<dataset>-<row>.<sniffed suffix>`` (embedded images)
    read: Callable[[], bytes]
    hint: str = ""  # source path, used only for the suffix of embedded images when sniffing fails


def _file_image(tree: _Tree, path: str, name: str) -> _Image:
    return _Image(key=f"file:{tree.where(path)}", name=name, read=lambda: tree.read(path))


def _embedded_image(data: bytes, hint: str | None) -> _Image:
    return _Image(key="sha256:" + hashlib.sha256(data).hexdigest(), name=None, read=lambda: data, hint=hint or "")


# ------------------------------------------------------------------------------------------------ converters
# Each converter yields (record without "image", image) in a deterministic order.
Item = tuple[dict[str, Any], _Image]


def _closed_if_yes_no(answer: str) -> str:
    return "closed" if answer.strip().lower() in YES_NO else "open"


def _text(value: Any, where: str, field: str) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None / NaN
        raise DataError(f"{where}: missing {field!r}")
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: empty {field!r}")
    return text


def _parquet_files(tree: _Tree, split: str) -> list[str]:
    """Parquet shards of one split: ``data/<split>-*.parquet`` (hub) or ``<split>/*.parquet`` (parquet-converter)."""
    parquet = [n for n in tree.names if n.endswith(".parquet")]
    files = [
        n for n in parquet if n.rsplit("/", 1)[-1].startswith((f"{split}-", f"{split}.")) or f"/{split}/" in f"/{n}"
    ]
    if not files:
        found = ", ".join(parquet[:8]) or "no parquet files at all"
        raise DataError(
            f"{tree.label}: expected parquet files of split {split!r} (data/{split}-*.parquet) but found {found}"
        )
    return files


def _parquet_rows(tree: _Tree, split: str, required: tuple[str, ...]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(where, row index across shards, row) for every row of a split; columns are checked before reading."""
    import pyarrow.parquet as pq

    index = 0
    for name in _parquet_files(tree, split):
        where = tree.where(name)
        pf = pq.ParquetFile(str(tree.root / name) if isinstance(tree, _DirTree) else io.BytesIO(tree.read(name)))
        columns = pf.schema_arrow.names
        missing = [c for c in required if c not in columns]
        if missing:
            raise DataError(f"{where}: expected columns {', '.join(required)} but found {', '.join(columns)} "
                            f"(missing {', '.join(missing)}); is this the right dataset?")
        for batch in pf.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield where, index, row
                index += 1


def _parquet_image(row: Mapping[str, Any], where: str) -> _Image:
    value = row.get("image")
    if isinstance(value, Mapping) and value.get("bytes"):
        return _embedded_image(bytes(value["bytes"]), value.get("path"))
    if isinstance(value, (bytes, bytearray)) and value:
        return _embedded_image(bytes(value), None)
    raise DataError(f"{where}: 'image' holds no embedded bytes (got {type(value).__name__}); use the hub parquet files")


def _convert_hub_yes_no(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """VQA-RAD / PathVQA hub parquet: image, question, answer; closed iff the answer is yes/no."""
    for where, i, row in _parquet_rows(tree, SOURCES[name].split, ("image", "question", "answer")):
        at = f"{where} (row {i})"
        answer = _text(row.get("answer"), at, "answer")
        record = {
            "id": f"{name}-{i}",
            "question": _text(row.get("question"), at, "question"),
            "answer": answer,
            "answer_type": _closed_if_yes_no(answer),
        }
        yield record, _parquet_image(row, at)


def _convert_quilt(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """Quilt-VQA hub parquet: the dataset's own CLOSED/OPEN; a yes/no short answer wins for closed rows."""
    for where, i, row in _parquet_rows(tree, SOURCES[name].split, ("image", "question", "answer", "answer_type")):
        at = f"{where} (row {i})"
        kind = _text(row.get("answer_type"), at, "answer_type").lower()
        if kind not in ("closed", "open", "other"):
            raise DataError(f"{at}: answer_type {row.get('answer_type')!r} is not CLOSED/OPEN")
        kind = "closed" if kind == "closed" else "open"
        answer = _text(row.get("answer"), at, "answer")
        record: dict[str, Any] = {"id": str(row.get("id") or row.get("question_id") or f"{name}-{i}")}
        record["question"] = _text(row.get("question"), at, "question")
        short = str(row.get("yes_no_answer") or "").strip()
        if kind == "closed" and short.lower() in YES_NO:
            record.update(answer=short, answer_type=kind, explanation=answer)
        else:
            record.update(answer=answer, answer_type=kind)
        yield record, _parquet_image(row, at)


def _convert_slake(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """SLAKE test.json + imgs.zip: English rows only, SLAKE's own answer_type, id = qid."""
    json_name = _find_one(tree, "test.json", "the SLAKE test questions")
    where = tree.where(json_name)
    try:
        rows = json.loads(tree.read(json_name).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(rows, list):
        raise DataError(f"{where}: expected a JSON list of questions, got {type(rows).__name__}")
    required = ("img_name", "question", "answer", "answer_type", "q_lang")
    kept: list[tuple[int, dict[str, Any], str]] = []
    for i, row in enumerate(rows):
        at = f"{where} (item {i})"
        if not isinstance(row, dict) or any(k not in row for k in required):
            found = ", ".join(row) if isinstance(row, dict) else type(row).__name__
            raise DataError(f"{at}: expected fields {', '.join(required)} but found {found}")
        if row["q_lang"] == "en":
            kept.append((i, row, _safe_relpath(row["img_name"], at)))
    images = _image_tree(tree, "imgs.zip", stack)
    names = _file_names((p for _, _, p in kept), name)
    for i, row, path in kept:
        at = f"{where} (item {i}, qid {row.get('qid')})"
        kind = _text(row["answer_type"], at, "answer_type").lower()
        if kind not in ("open", "closed"):
            raise DataError(f"{at}: answer_type {row['answer_type']!r} is not OPEN/CLOSED")
        located = images.resolve(path)
        if located is None:
            raise DataError(f"{at}: image {path!r} not found in {images.label}; SLAKE images come in imgs.zip")
        record = {
            "id": str(row["qid"]) if row.get("qid") is not None else f"{name}-{i}",
            "question": _text(row["question"], at, "question"),
            "answer": _text(row["answer"], at, "answer"),
            "answer_type": kind,
        }
        yield record, _file_image(images, located, names[path])


_CHOICE_PREFIX = re.compile(r"^\s*([A-Z])\s*[:.)]\s*")


def _choice(value: Any, letter: str) -> str:
    """PMC-VQA writes choices as 'A:Diffuse uptake' (sometimes ' A: ...'); the prefix is not part of the option."""
    text = "" if value is None else str(value).strip()
    m = _CHOICE_PREFIX.match(text)
    return text[m.end():].strip() if m and m.group(1) == letter else text


def _options(values: Mapping[str, str], where: str) -> dict[str, str]:
    """Non-empty options in letter order; a gap (A, B, D) is an error, trailing empty options are dropped."""
    letters = [k for k in sorted(values) if values[k]]
    if len(letters) < 2 or "".join(letters) != "ABCDEFGHIJ"[: len(letters)]:
        raise DataError(f"{where}: options must run A, B, ... without gaps, got {', '.join(letters) or 'none'}")
    return {k: values[k] for k in letters}


def _convert_pmcvqa(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """PMC-VQA test_clean.csv + images.zip: 4-option MCQ, question without the choices."""
    csv_name = _find_one(tree, "test_clean.csv", "the PMC-VQA test-clean metafile")
    where = tree.where(csv_name)
    reader = csv.DictReader(io.StringIO(tree.read(csv_name).decode("utf-8-sig"), newline=""))
    required = ("Figure_path", "Question", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label")
    columns = [c for c in (reader.fieldnames or []) if c]
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{where}: expected columns {', '.join(required)} but found {', '.join(columns) or 'none'} "
                        f"(missing {', '.join(missing)}); use test_clean.csv from {SOURCES[name].repo}")
    rows = [(i, row, _safe_relpath(row["Figure_path"], f"{where} (row {i})")) for i, row in enumerate(reader)]
    images = _image_tree(tree, "images.zip", stack)
    names = _file_names((p for _, _, p in rows), name)
    for i, row, path in rows:
        at = f"{where} (row {i})"
        options = _options({k: _choice(row.get(f"Choice {k}"), k) for k in "ABCD"}, at)
        label = str(row.get("Answer_label") or "").strip().upper()
        if label not in options:
            raise DataError(f"{at}: Answer_label {row.get('Answer_label')!r} is not one of {', '.join(options)}")
        located = images.resolve(path)
        if located is None:
            raise DataError(f"{at}: figure {path!r} not found in {images.label}; PMC-VQA figures come in images.zip")
        record = {
            "id": str(row.get("index") or "").strip() or f"{name}-{i}",
            "question": _text(row.get("Question"), at, "Question"),
            "options": options,
            "label": label,
        }
        yield record, _file_image(images, located, names[path])


def _unquote(field: str) -> str:
    """A CSV-quoted reference ('"a ""drowned"" lobe"') as the organisers' MS-COCO file has it ('a "drowned" lobe')."""
    field = field.strip()
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"').strip()
    return field


def _text_lines(tree: _Tree, name: str) -> list[tuple[int, str]]:
    data = tree.read(name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8; reading it as cp1252", tree.where(name))
        text = data.decode("cp1252", errors="replace")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _vqamed_images(tree: _Tree, stack: ExitStack) -> dict[str, tuple[_Tree, str]]:
    """Image id -> (tree, path): loose images first, else the images inside nested zips (the archive nests one)."""
    def index(t: _Tree) -> dict[str, tuple[_Tree, str]]:
        out: dict[str, tuple[_Tree, str]] = {}
        for n in sorted(t.names, key=lambda n: (n.count("/"), n)):
            p = PurePosixPath(n)
            if p.suffix.lower() in _IMAGE_SUFFIXES:
                out.setdefault(p.stem, (t, n))
        return out

    found = index(tree)
    if not found:
        for zname in (n for n in tree.names if n.lower().endswith(".zip")):
            for key, value in index(tree.open_zip(zname, stack)).items():
                found.setdefault(key, value)
    return found


def _convert_vqamed2021(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """ImageCLEF VQA-Med 2021 test: questions and reference answers in ``|``-separated files, images by id."""
    q_name = _find_one(tree, "Task1-VQA-2021-TestSet-Questions.txt", "the VQA-Med 2021 test questions")
    a_name = _find_one(tree, "Task1-VQA-2021-TestSet-ReferenceAnswers.txt", "the VQA-Med 2021 reference answers")
    questions: list[tuple[str, str, str]] = []
    for n, line in _text_lines(tree, q_name):
        at = f"{tree.where(q_name)}:{n}"
        if "|" not in line:
            raise DataError(f"{at}: expected '<image id>|<question>', got {line[:80]!r}")
        image_id, question = (s.strip() for s in line.split("|", 1))
        questions.append((at, _text(image_id, at, "image id"), _text(question, at, "question")))
    answers: dict[str, list[str]] = {}
    for n, line in _text_lines(tree, a_name):
        at = f"{tree.where(a_name)}:{n}"
        image_id, *refs = line.split("|")
        refs = [r for r in (_unquote(r) for r in refs) if r]
        if not refs:
            raise DataError(f"{at}: expected '<image id>|<answer>[|<answer>...]', got {line[:80]!r}")
        answers[image_id.strip()] = refs
    unanswered = [q[1] for q in questions if q[1] not in answers]
    if unanswered:
        raise DataError(f"{tree.where(a_name)}: no reference answer for {len(unanswered)} question(s) "
                        f"({', '.join(unanswered[:5])}); use the test set *with ground truth*")
    extra = set(answers) - {q[1] for q in questions}
    if extra:
        log.warning("%s: %d reference answer(s) without a question are ignored", tree.where(a_name), len(extra))
    images = _vqamed_images(tree, stack)
    seen: set[str] = set()
    for at, image_id, question in questions:
        if image_id in seen:
            raise DataError(f"{at}: image id {image_id!r} appears twice in the questions file")
        seen.add(image_id)
        if image_id not in images:
            raise DataError(f"{at}: no image {image_id}.jpg in {tree.label} (expected VQA-500-Images/{image_id}.jpg)")
        itree, path = images[image_id]
        refs = answers[image_id]
        record = {"id": image_id, "question": question, "answer": refs[0], "answers": refs, "answer_type": "open"}
        yield record, _file_image(itree, path, _sanitize(path.rsplit("/", 1)[-1]))


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _convert_omnimedvqa(name: str, tree: _Tree, stack: ExitStack) -> Iterator[Item]:
    """OmniMedVQA open-access QA json files: label = the option that equals gt_answer (experimental)."""
    marker = "QA_information/Open-access/"
    if not any(marker in n for n in tree.names):
        archive = tree.with_basename("OmniMedVQA.zip")
        if archive:
            tree = tree.open_zip(archive[0], stack)
    files = [n for n in tree.names if marker in f"/{n}" and n.lower().endswith(".json")]
    if not files:
        raise DataError(f"{tree.label}: expected OmniMedVQA's QA_information/Open-access/*.json (inside "
                        f"OmniMedVQA.zip) but found {', '.join(tree.names[:8]) or 'nothing'}")
    required = ("question", "gt_answer", "option_A", "option_B", "image_path")
    kept: list[tuple[str, str, dict[str, Any], dict[str, str], str, str]] = []  # where, root, row, options, label, path
    skipped: Counter[str] = Counter()
    for fname in files:
        where = tree.where(fname)
        prefix = f"/{fname}".split("/" + marker)[0].lstrip("/")  # the archive root the image paths are relative to
        try:
            rows = json.loads(tree.read(fname).decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(rows, list):
            raise DataError(f"{where}: expected a JSON list of questions, got {type(rows).__name__}")
        for j, row in enumerate(rows):
            at = f"{where} (item {j})"
            if not isinstance(row, dict) or any(k not in row for k in required):
                found = ", ".join(row) if isinstance(row, dict) else type(row).__name__
                raise DataError(f"{at}: expected fields {', '.join(required)} but found {found}")
            options = _options({k: str(row.get(f"option_{k}") or "").strip() for k in "ABCD"}, at)
            gt = _norm(str(row["gt_answer"]))
            labels = [k for k, v in options.items() if _norm(v) == gt]
            if len(labels) != 1:
                skipped[f"{Path(fname).stem}: gt_answer matches {len(labels)} options"] += 1
                continue
            kept.append((at, prefix, row, options, labels[0], _safe_relpath(row["image_path"], at)))
    for reason, count in sorted(skipped.items()):
        log.warning("omnimedvqa: skipped %d question(s) (%s)", count, reason)
    names = _file_names((p for *_, p in kept), name)
    missing: list[str] = []
    for i, (at, prefix, row, options, label, path) in enumerate(kept):
        rooted = f"{prefix}/{path}" if prefix else path
        located = next((c for c in (rooted, f"{prefix}/Images/{path}".lstrip("/")) if c in tree.name_set), None)
        if located is None:
            missing.append(f"{path} ({at})")
            continue
        record: dict[str, Any] = {
            "id": str(row.get("question_id") or f"{name}-{i}"),
            "question": _text(row["question"], at, "question"),
            "options": options,
            "label": label,
        }
        for key in ("dataset", "question_type", "modality_type"):
            if row.get(key) is not None:
                record[key] = row[key]
        yield record, _file_image(tree, located, names[path])
    if missing:
        raise DataError(f"{tree.label}: {len(missing)} image(s) named by the QA files are missing, e.g. "
                        f"{'; '.join(missing[:3])}; use the complete OmniMedVQA.zip")


_CONVERTERS: dict[str, Callable[[str, _Tree, ExitStack], Iterator[Item]]] = {
    "vqarad": _convert_hub_yes_no,
    "pathvqa": _convert_hub_yes_no,
    "slake": _convert_slake,
    "pmcvqa": _convert_pmcvqa,
    "vqamed2021": _convert_vqamed2021,
    "quiltvqa": _convert_quilt,
    "omnimedvqa": _convert_omnimedvqa,
}


# ---------------------------------------------------------------------------------------------------- writing
class _Writer:
    """Writes each distinct image once, under a unique flat name, and collects the records."""

    def __init__(self, folder: Path, dataset: str) -> None:
        self.images = folder / IMAGES
        self.images.mkdir(parents=True)
        self.dataset = dataset
        self.by_key: dict[str, str] = {}
        self.used: set[str] = set()
        self.records: list[dict[str, Any]] = []
        self.ids: Counter[str] = Counter()

    def add(self, record: dict[str, Any], image: _Image) -> None:
        row = len(self.records)
        name = self.by_key.get(image.key)
        if name is None:
            data = image.read()
            name = image.name
            if name is None:  # embedded bytes: <dataset>-<row>.<suffix from the bytes>
                suffix = _sniff_suffix(data) or PurePosixPath(image.hint).suffix.lower()
                if suffix not in _IMAGE_SUFFIXES:
                    raise DataError(f"{self.dataset} record {record['id']}: image bytes are not a known image format")
                name = f"{self.dataset}-{row}{suffix}"
            if name in self.used or "/" in name or name in ("", ".", ".."):
                name = f"{self.dataset}-{row}{PurePosixPath(name).suffix}"
            (self.images / name).write_bytes(data)
            self.by_key[image.key] = name
            self.used.add(name)
        self.ids[record["id"]] += 1
        if self.ids[record["id"]] > 1:  # keep ids unique and deterministic even if a source repeats one
            log.warning("%s: duplicate source id %r renamed", self.dataset, record["id"])
            record["id"] = f"{record['id']}-{self.ids[record['id']]}"
        self.records.append({**record, "image": name})

    def finish(self, folder: Path) -> None:
        with open(folder / RECORDS, "w", encoding="utf-8", newline="\n") as fh:
            for record in self.records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_files(folder: Path) -> list[str]:
    images = folder / IMAGES
    names = sorted(p.name for p in images.iterdir() if p.is_file()) if images.is_dir() else []
    return [RECORDS] + [f"{IMAGES}/{n}" for n in names]


def write_checksums(folder: Path) -> Path:
    """Write ``folder/SHA256SUMS`` for test.jsonl and every file in images/ (``sha256sum -c`` reads it)."""
    folder = Path(folder)
    if not (folder / RECORDS).is_file():
        raise DataError(f"{folder}: no {RECORDS} to checksum")
    lines = [f"{_sha256(folder / rel)}  {rel}\n" for rel in _manifest_files(folder)]
    out = folder / CHECKSUMS
    out.write_text("".join(lines), encoding="utf-8", newline="\n")
    return out


def _read_checksums(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line)
        if not m or ".." in m.group(2).split("/") or m.group(2).startswith("/"):
            raise DataError(f"{path}:{n}: not a sha256sum line ({line[:80]!r}); re-run `medxpert data prepare`")
        entries[m.group(2)] = m.group(1).lower()
    return entries


def verify(folder: str | os.PathLike[str]) -> None:
    """Check a prepared folder against its SHA256SUMS; raise :class:`DataError` naming missing/changed files.

    Run by the loader before it reads a folder: a hand-edited record or a replaced image would otherwise change
    scores silently.
    """
    folder = Path(folder)
    name = folder.name
    fix = f"re-run `medxpert data prepare {name} <source>` to rebuild it"
    if not folder.is_dir():
        raise DataError(f"prepared VQA folder {folder} does not exist; {fix}")
    manifest = folder / CHECKSUMS
    if not manifest.is_file():
        raise DataError(f"{folder}: no {CHECKSUMS} (the folder was not written by `medxpert data prepare`); {fix}")
    entries = _read_checksums(manifest)
    if RECORDS not in entries:
        raise DataError(f"{manifest}: does not list {RECORDS}; {fix}")
    missing, changed = [], []
    for rel, digest in sorted(entries.items()):
        path = folder / rel
        if not path.is_file():
            missing.append(rel)
        elif _sha256(path) != digest:
            changed.append(rel)
    if missing or changed:
        parts = []
        for label, files in (("missing", missing), ("changed", changed)):
            if files:
                more = f" (+{len(files) - 5} more)" if len(files) > 5 else ""
                parts.append(f"{label}: {', '.join(files[:5])}{more}")
        raise DataError(f"{folder}: {len(missing) + len(changed)} file(s) fail the {CHECKSUMS} check "
                        f"({'; '.join(parts)}); the prepared data was modified or is incomplete; {fix}")
    _check_images_listed(folder, entries, fix)
    listed = set(entries)
    extra = [rel for rel in _manifest_files(folder) if rel not in listed]
    if extra:
        log.warning("%s: %d file(s) not in %s are ignored (e.g. %s)", folder, len(extra), CHECKSUMS, extra[0])


def _check_images_listed(folder: Path, entries: Mapping[str, str], fix: str) -> None:
    """Every image a record names must be covered by the manifest (else a checksum could not protect it)."""
    with open(folder / RECORDS, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                image = json.loads(line).get("image")
            except (json.JSONDecodeError, AttributeError):
                raise DataError(f"{folder / RECORDS}:{lineno}: not a JSON object; {fix}") from None
            if not isinstance(image, str) or f"{IMAGES}/{image}" not in entries:
                raise DataError(f"{folder / RECORDS}:{lineno}: image {image!r} is not listed in {CHECKSUMS}; {fix}")


# ------------------------------------------------------------------------------------------------ public API
def prepare(name: str, source: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    """Convert ``source`` (hub snapshot folder, official archive or its extracted folder) to ``<root>/vqa/<name>``.

    Idempotent: the folder is rebuilt in a temporary sibling and swapped in by rename, so re-running replaces it
    and an interrupted run leaves the previous folder untouched.
    """
    spec = _source(name)
    source = Path(source).expanduser()
    target = Path(root).expanduser() / "vqa" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the prepared folder gets normal permissions
    try:
        with ExitStack() as stack:
            tree = _open_source(source, stack)
            writer = _Writer(tmp, name)
            for record, image in _CONVERTERS[name](name, tree, stack):
                writer.add(record, image)
        if not writer.records:
            raise DataError(f"{source}: no {spec.title} questions found")
        writer.finish(tmp)
        write_checksums(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    count = len(writer.records)
    if spec.expected_rows is not None and count != spec.expected_rows:
        log.warning("%s: %d questions, the documented test set has %d (a different mirror or revision?)",
                    name, count, spec.expected_rows)
    log.info("%s: wrote %d questions and %d images to %s", name, count, len(writer.used), target)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new`` with renames (the old folder is removed only once the new one is in place)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _gated_message(spec: VqaSource, detail: str) -> str:
    return (f"{spec.title} ({spec.repo}) is gated on the Hugging Face hub and {detail}: log in at "
            f"https://huggingface.co/datasets/{spec.repo}, accept the dataset terms, create a read token "
            f"(https://huggingface.co/settings/tokens) and set HF_TOKEN=<token> (or run `hf auth login`), "
            f"then retry; or download it yourself and run `medxpert data prepare {spec.name} <folder>`")


def download_and_prepare(name: str, root: str | os.PathLike[str]) -> Path:
    """Download the pinned hub snapshot of ``name`` (only the files prepare reads), then :func:`prepare` it."""
    spec = _source(name)
    if spec.repo is None:
        raise DataError(VQAMED2021_HINT if name == "vqamed2021" else f"{spec.title} has no hub source")
    import huggingface_hub

    try:
        from huggingface_hub import errors as hf_errors
    except ImportError:  # huggingface_hub < 0.24 exports the same classes from utils
        from huggingface_hub import utils as hf_errors  # type: ignore[no-redef]

    if spec.gated and not huggingface_hub.get_token():
        raise DataError(_gated_message(spec, "no Hugging Face token was found"))
    try:
        path = huggingface_hub.snapshot_download(
            spec.repo, revision=spec.revision, repo_type="dataset", allow_patterns=_ALLOW_PATTERNS.get(name)
        )
    except hf_errors.GatedRepoError:
        raise DataError(_gated_message(spec, "your token has no access to it yet")) from None
    except hf_errors.RevisionNotFoundError:
        raise DataError(f"{spec.repo}: pinned revision {spec.revision} not found on the hub; download the "
                        f"dataset yourself and run `medxpert data prepare {name} <folder>`") from None
    except hf_errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if spec.gated and (status in (401, 403) or isinstance(exc, hf_errors.RepositoryNotFoundError)):
            raise DataError(_gated_message(spec, f"the hub refused the download (HTTP {status})")) from None
        raise DataError(f"{spec.repo}: download failed ({exc}); check HF_TOKEN and the network, or download "
                        f"it yourself and run `medxpert data prepare {name} <folder>`") from None
    except Exception as exc:  # offline, LocalEntryNotFoundError, connection errors of whichever HTTP client
        raise DataError(f"{spec.repo}: could not download ({exc}); without network access, copy the dataset "
                        f"here and run `medxpert data prepare {name} <folder>`") from None
    return prepare(name, Path(str(path)), root)
