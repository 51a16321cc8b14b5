"""ImageCLEF VQA-Med 2021 Task 1 test: ``|``-separated questions and reference answers, images by id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import PurePosixPath

from ...errors import DataError
from ..images import _IMAGE_SUFFIXES, _file_image, _sanitize
from ..trees import _find_one, _Tree
from .common import Item, _text

# One logger for the whole package, under the name it had as a single module (users and tests filter on it).
log = logging.getLogger("medxpert_ext.vqa_prepare")


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

