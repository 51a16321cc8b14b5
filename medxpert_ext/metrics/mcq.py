"""Multiple-choice scoring: the one definition of ``acc`` and ``extract_fail``.

``acc`` is 1 when the letter read from the response equals the gold letter; a response from which no single
valid letter could be read counts as wrong for ``acc`` AND is counted in ``extract_fail``, so a format problem
is always visible next to the score instead of hiding inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..data.mcq import doc_options
from ..extract import Extraction, extract


def extract_for_doc(doc: Mapping[str, Any], response: str | None) -> Extraction:
    """The rule extractor applied to a response to one MCQ doc (its letters, options and think_end)."""
    return extract(response, doc["letters"], doc_options(doc), think_end=doc.get("think_end"))


def mcq_scores(doc: Mapping[str, Any], letter: str | None) -> dict[str, float]:
    """Per-sample ``acc`` and ``extract_fail`` for an already extracted letter (None = no answer read)."""
    return {"acc": float(letter is not None and letter == doc["answer"]), "extract_fail": float(letter is None)}

