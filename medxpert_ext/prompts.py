"""The one prompt for multiple-choice questions, shared by every harness adapter.

MedXpertQA's official zero-shot chain-of-thought setting is two turns (Kojima et al. style): the model first
answers ``Q: {question}\\nA: Let's think step by step.``, then a second call appends
``Therefore, among A through {last}, the answer is`` to read the letter. lm-eval and OpenCompass evaluate one
generation per question, so we fold the second turn into the first: the same cue, plus an explicit instruction
to end with that very sentence. The reasoning is unchanged; the difference is that the final-answer format is
requested up front instead of forced by a second call, so a model that ignores the instruction is counted in
``extract_fail`` rather than rescued by the second turn. Published numbers from the two-turn protocol are
therefore an upper bound on ours for weak instruction followers; for current chat models they agree closely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IMAGE_PLACEHOLDER = "<image>"

MCQ_TEMPLATE = (
    "Q: {question}\n"
    "A: Let's think step by step.\n\n"
    'Finish your response with a final line of the form "Therefore, among A through {last}, the answer is (X)." '
    "where X is the letter of the single best option."
)


def mcq_prompt(doc: Mapping[str, Any]) -> str:
    """Prompt for one normalised doc; one ``<image>`` placeholder per image, before the question (lm-eval's
    multimodal backends swap each placeholder for the model's own image token)."""
    text = MCQ_TEMPLATE.format(question=doc["question"], last=doc["letters"][-1])
    images = doc.get("images") or []
    return (IMAGE_PLACEHOLDER + "\n") * len(images) + text if images else text


# Medical VQA: the short-answer convention of LLaVA-Med and its successors (their published numbers use it).
VQA_SHORT = "{question}\nAnswer the question using a single word or phrase."
VQA_MCQ = "{question}\n{choices}\nAnswer with the option's letter from the given choices directly."


def vqa_prompt(doc: Mapping[str, Any]) -> str:
    if doc.get("letters"):  # multiple-choice sets (PMC-VQA, OmniMedVQA)
        choices = "\n".join(f"{o['letter']}. {o['content']}" for o in doc["options"])
        text = VQA_MCQ.format(question=doc["question"], choices=choices)
    else:
        text = VQA_SHORT.format(question=doc["question"])
    return (IMAGE_PLACEHOLDER + "\n") * len(doc.get("images") or []) + text


def lfqa_prompt(doc: Mapping[str, Any]) -> str:
    """OLAPH's zero-shot setting: the bare question, with a question mark added when missing
    (pdata_collection.py builds ``query = inst['Question']`` and appends '?'); no instruction, no examples."""
    question = doc["question"]
    return question if question.endswith("?") else question + "?"
