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

How the package is laid out (one stage per module, data flows left to right)::

    source tree  ->  converter  ->  writer  ->  checksums

* :mod:`.sources` declares every dataset (:class:`VqaSource`, :data:`SOURCES`) and what a download fetches;
* :mod:`.trees` reads a source in place: a folder or a zip (nested zips included) behind one ``_Tree`` interface;
* :mod:`.images` names output images, sniffs embedded image formats and describes the image a record needs;
* :mod:`.convert` holds one converter per source family (``hub_yes_no`` for vqarad/pathvqa, ``slake``, ``quilt``,
  ``pmcvqa``, ``vqamed2021``, ``omnimedvqa``) and the registry mapping dataset names to them; each converter
  yields ``(record, image)`` pairs in a deterministic order;
* :mod:`.store` writes the records and images, the SHA256SUMS manifest, verifies a prepared folder and swaps a
  finished folder in by rename;
* :mod:`.pipeline` ties them together: :func:`prepare` and :func:`download_and_prepare`.
"""

from __future__ import annotations

from .convert.common import YES_NO
from .pipeline import download_and_prepare, prepare
from .sources import SOURCES, VQAMED2021_HINT, VqaSource
from .store import CHECKSUMS, IMAGES, RECORDS, verify, write_checksums

__all__ = [
    "CHECKSUMS",
    "IMAGES",
    "RECORDS",
    "SOURCES",
    "VQAMED2021_HINT",
    "YES_NO",
    "VqaSource",
    "download_and_prepare",
    "prepare",
    "verify",
    "write_checksums",
]
