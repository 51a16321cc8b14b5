"""Scripted model answers for multiple-choice questions, with the exact scores they must produce.

The script finds the question in the prompt, looks up its gold letter in the raw data file (not through the
pack's loader), and answers in one of several styles real models use. Each style has a known outcome, so the
expected ``acc`` and ``extract_fail`` of a run are counted here independently of the code under test.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.helpers import placeholder_colour
from tests.scripted_server import Reply, user_images, user_text

# style -> (counts as correct, counts as no answer)
OUTCOME = {
    "correct": (True, False),
    "reasoning_correct": (True, False),
    "json_correct": (True, False),
    "wrong": (False, False),
    "truncated_reasoning": (False, True),
    "garbage": (False, True),
    "conflicting": (False, True),
}
STYLES = tuple(OUTCOME)


@dataclass(frozen=True)
class Item:
    qid: str
    gold: str
    letters: str
    images: tuple[str, ...] = ()


def reply_text(style: str, item: Item) -> str:
    gold, letters = item.gold, item.letters
    wrong = letters[(letters.index(gold) + 1) % len(letters)]
    last = letters[-1]
    if style == "correct":
        return (
            f"A 45-year-old presentation like this one points away from option {wrong}. Option A is tempting, "
            f"but the findings fit best with the other choice.\nTherefore, among A through {last}, the answer is ({gold})."
        )
    if style == "reasoning_correct":
        return f"<think>\nMaybe {wrong}? A classic trap. Checking again, {gold} fits.\n</think>\n\nThe answer is **{gold}**."
    if style == "json_correct":
        return '{"answer": "%s", "explanation": "best fit"}' % gold
    if style == "wrong":
        return f"Considering each option in turn.\nTherefore, among A through {last}, the answer is ({wrong})."
    if style == "truncated_reasoning":
        return f"<think>\nA 45-year-old man. Option {gold} looks right, the answer is ({gold}) unless"
    if style == "garbage":
        return "I am not able to answer medical questions. A doctor should be consulted."
    if style == "conflicting":
        return f"The answer is ({gold}) or ({wrong})."
    raise ValueError(style)


def style_by_hash(text: str) -> str:
    return STYLES[int(hashlib.sha1(text.encode()).hexdigest(), 16) % len(STYLES)]


def question_of(prompt: str) -> str:
    """The question inside our prompt ('Q: ...' up to the chain-of-thought cue)."""
    start = prompt.index("Q: ") + 3
    return prompt[start : prompt.index("\nA: Let's think step by step.", start)]


def _colour_matches(data: bytes, name: str) -> bool:
    from PIL import Image

    pixel = Image.open(io.BytesIO(data)).convert("RGB").getpixel((4, 4))
    return all(abs(a - b) <= 8 for a, b in zip(pixel, placeholder_colour(name)))


class McqScript:
    """Responder for the scripted server: answers each question in the style ``style_of(question)`` picks.

    With ``max_images`` set, a request whose images are missing, too many, or not the question's own
    placeholder images is answered with garbage, so an exact expected score also proves images travelled.
    """

    def __init__(self, items: dict[str, Item], style_of: Callable[[str], str], max_images: int | None = None):
        self.items = items
        self.style_of = style_of
        self.max_images = max_images
        self.image_mismatches = 0
        self.mismatch_examples: list[str] = []

    def __call__(self, body: dict) -> Reply | str:
        question = question_of(user_text(body))
        item = self.items[question]
        if self.max_images is not None:
            sent = user_images(body)
            want = item.images[: self.max_images]
            if len(sent) != len(want) or not all(_colour_matches(d, n) for d, n in zip(sent, want)):
                self.image_mismatches += 1
                self.mismatch_examples.append(f"{item.qid}: got {len(sent)} images, want {list(want)}")
                return reply_text("garbage", item)
        return reply_text(self.style_of(question), item)

    def expected(self, questions: Iterable[str]) -> tuple[float, float]:
        """(acc, extract_fail) the run must report over these questions (duplicates count each time)."""
        outcomes = [OUTCOME[self.style_of(q)] for q in questions]
        return (sum(o[0] for o in outcomes) / len(outcomes), sum(o[1] for o in outcomes) / len(outcomes))


def items_from_rows(rows: Iterable[dict]) -> dict[str, Item]:
    """Question text -> Item, from raw rows of any accepted shape (label list or letter)."""
    import re

    out = {}
    for row in rows:
        label = row["label"][0] if isinstance(row["label"], list) else row["label"]
        letters = "".join(sorted(set(re.findall(r"\(([A-J])\) ", row["question"].split("Answer Choices:")[-1]))))
        images = tuple(i["image_path"] if isinstance(i, dict) else i for i in row.get("images") or [])
        out[row["question"].strip()] = Item(str(row.get("id")), label, letters, images)
    return out
