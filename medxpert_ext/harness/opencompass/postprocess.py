"""The pack's think rule as an OpenCompass ``pred_postprocessor`` (set on the model by ``models_from_profile``).

OpenCompass' own ``extract_non_reasoning_content`` returns a response unchanged when its closing think tag is
missing, so a chain of thought cut off by the token limit is then searched for an answer and a letter guessed
from half the reasoning is scored. Our rule (the one lm-eval runs use, :func:`medxpert_ext.extract.strip_reasoning`)
says such a response holds no answer: it becomes a "no answer" marker that every evaluator counts as
``extract_fail`` (or ``no_answer`` / ``closed_unreadable``), never as a guessed answer.
"""

from __future__ import annotations

from ...extract import strip_reasoning

NO_ANSWER_PREFIX = "[no answer: "
UNTERMINATED = f"{NO_ANSWER_PREFIX}unterminated_think]"


def strip_think(text: str | None, think_end: str = "</think>") -> str:
    """The text after the reasoning, or the unterminated-think marker when the reasoning never closed."""
    final = strip_reasoning(text or "", think_end=think_end)
    return UNTERMINATED if final is None else final


def final_text(prediction: str | None) -> str | None:
    """A prediction as the scorers take it: None when the postprocessor marked it as holding no answer."""
    if prediction is None or prediction.startswith(NO_ANSWER_PREFIX):
        return None
    return prediction
