"""Synthetic medical-VQA datasets whose answers can be read off the images, and a model that reads them.

Every image is one coloured shape on a grey background. Questions ask about its colour, its kind or its side;
the scripted model decodes the image it receives and answers from the pixels, in one of several reply styles with
a known outcome. A run that reports the expected scores therefore proves each image travelled with its question.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 210, 30)}
SHAPES = ("square", "circle", "triangle")
SIDES = ("left", "right")
SIZE = (64, 48)


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    side: str


def draw(scene: Scene, fmt: str) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", SIZE, (128, 128, 128))
    x0 = 4 if scene.side == "left" else 36
    box = (x0, 12, x0 + 24, 36)
    pen = ImageDraw.Draw(img)
    fill = COLOURS[scene.colour]
    if scene.shape == "square":
        pen.rectangle(box, fill=fill)
    elif scene.shape == "circle":
        pen.ellipse(box, fill=fill)
    else:
        pen.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=fill)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def read_scene(data: bytes) -> Scene:
    """What the scripted model 'sees': colour, kind and side of the shape, from the pixels alone."""
    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    pixels = [(x, y, img.getpixel((x, y))) for x in range(img.width) for y in range(img.height)]

    def distance(p, colour):
        return sum(abs(a - b) for a, b in zip(p, COLOURS[colour]))

    # the colour most pixels are close to; then only pixels close to it (JPEG ringing is not the shape)
    colour = max(COLOURS, key=lambda c: sum(distance(p, c) < 90 for _, _, p in pixels))
    shape_px = [(x, y, p) for x, y, p in pixels if distance(p, colour) < 90]
    xs, ys = [x for x, _, _ in shape_px], [y for _, y, _ in shape_px]
    fill = len(shape_px) / ((max(xs) - min(xs) + 1) * (max(ys) - min(ys) + 1))
    shape = "square" if fill > 0.9 else "circle" if fill > 0.65 else "triangle"
    side = "left" if sum(xs) / len(xs) < img.width / 2 else "right"
    return Scene(colour, shape, side)


# ------------------------------------------------------------------------------------------- questions
def closed_question(scene: Scene, i: int) -> tuple[str, str]:
    colour = list(COLOURS)[i % len(COLOURS)]
    if (i // 2) % 2:
        return f"Is there a {colour} lesion in the image?", "yes" if scene.colour == colour else "no"
    side = SIDES[i % 3 % 2]
    return f"Is the lesion on the {side} side?", "yes" if scene.side == side else "no"


OPEN_QUESTIONS = {
    "What colour is the lesion?": "colour",
    "What is the shape of the lesion?": "shape",
    "On which side is the lesion?": "side",
}


def answer_from_scene(question: str, scene: Scene) -> str:
    """The truthful short answer to any of our questions, given what the image shows."""
    if question.startswith("Is there a "):
        colour = question.split()[3]
        return "yes" if scene.colour == colour else "no"
    if question.startswith("Is the lesion on the "):
        return "yes" if scene.side == question.split()[5] else "no"
    for prefix, attr in OPEN_QUESTIONS.items():
        if question.startswith(prefix):
            return getattr(scene, attr)
    raise ValueError(question)


# ------------------------------------------------------------------------------------------ reply styles
CLOSED_STYLES = {  # style -> (correct, unreadable)
    "plain": (True, False),  # "Yes."
    "sentence": (True, False),  # "No, there is no such lesion."
    "bold": (True, False),  # "**Yes**"
    "wrong": (False, False),
    "unsure": (False, True),  # commits to neither
}
OPEN_STYLES = ("exact", "sentence", "wrong")


def style_of(key: str, styles) -> str:
    styles = tuple(styles)
    return styles[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(styles)]


def closed_reply(style: str, truth: str) -> str:
    other = "no" if truth == "yes" else "yes"
    return {
        "plain": f"{truth.capitalize()}.",
        "sentence": "No, there is no such lesion." if truth == "no" else "Yes, it is clearly visible.",
        "bold": f"**{truth.capitalize()}**",
        "wrong": f"{other.capitalize()}.",
        "unsure": "It is not possible to tell from this image.",
    }[style]


def open_reply(style: str, truth: str, question: str) -> str:
    if style == "exact":
        return truth
    if style == "sentence":
        return f"The lesion appears {truth}."
    attr = OPEN_QUESTIONS[next(q for q in OPEN_QUESTIONS if question.startswith(q))]
    choices = {"colour": list(COLOURS), "shape": list(SHAPES), "side": list(SIDES)}[attr]
    return choices[(choices.index(truth) + 1) % len(choices)]


def open_scores(style: str) -> dict[str, float]:
    """Expected metrics of each open style against a one-word gold, worked out by hand:
    "exact": pred == gold. "sentence": "The lesion appears red." -> normalised "lesion appears red" (article and
    period removed): 3 tokens, 1 of them gold -> recall 1, precision 1/3, F1 2*(1/3*1)/(1/3+1) = 0.5, EM 0.
    "wrong": no gold token."""
    return {"exact": {"recall": 1.0, "f1": 1.0, "exact_match": 1.0},
            "sentence": {"recall": 1.0, "f1": 0.5, "exact_match": 0.0},
            "wrong": {"recall": 0.0, "f1": 0.0, "exact_match": 0.0}}[style]  # fmt: skip


# ---------------------------------------------------------------------------------------------- datasets
def scenes(n: int, seed: int) -> list[Scene]:
    out = []
    for i in range(n):
        h = int(hashlib.sha1(f"{seed}-{i}".encode()).hexdigest(), 16)
        out.append(Scene(list(COLOURS)[h % 4], SHAPES[(h // 4) % 3], SIDES[(h // 12) % 2]))
    return out


def style_key(question: str, scene: Scene) -> str:
    """What picks a reply style: known to the test (from the record) and to the model (from the image)."""
    return f"{question}|{scene.colour}|{scene.shape}|{scene.side}"


def write_dataset(root: Path, name: str, *, n: int = 24, mcq: bool = False) -> list[tuple[dict, Scene]]:
    """Write <root>/vqa/<name>/ in the canonical layout (with SHA256SUMS); returns (record, scene) pairs."""
    from medxpert_ext.vqa_prepare import write_checksums

    folder = root / "vqa" / name
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records, drawn = [], scenes(n, seed=sum(map(ord, name)))
    for i, scene in enumerate(drawn):
        fmt, ext = ("PNG", "png") if i % 2 else ("JPEG", "jpg")
        image = f"{name}-{i:04d}.{ext}"
        (folder / "images" / image).write_bytes(draw(scene, fmt))
        if mcq:
            colours = list(COLOURS)
            records.append({"id": f"{name}-{i}", "question": "What colour is the lesion?", "image": image,
                            "options": dict(zip("ABCD", colours)), "label": "ABCD"[colours.index(scene.colour)]})  # fmt: skip
        elif i % 2:
            question, answer = closed_question(scene, i)
            records.append({"id": f"{name}-{i}", "question": question, "answer": answer, "answer_type": "closed",
                            "image": image})  # fmt: skip
        else:
            question = list(OPEN_QUESTIONS)[i % 3]
            answer = getattr(scene, OPEN_QUESTIONS[question])
            records.append({"id": f"{name}-{i}", "question": question, "answer": answer, "answer_type": "open",
                            "image": image})  # fmt: skip
    with open(folder / "test.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    write_checksums(folder)
    return list(zip(records, drawn))


# --------------------------------------------------------------------------------------- scripted model
MCQ_STYLES = {"letter": (True, False), "sentence": (True, False), "wrong": (False, False), "garbage": (False, True)}


class VqaModel:
    """Responder for the scripted server: looks at the image, answers the question in a scripted style."""

    def __init__(self):
        self.no_image = 0

    def __call__(self, body: dict) -> str:
        import re

        from tests.scripted_server import user_images, user_text

        images = user_images(body)
        if len(images) != 1:
            self.no_image += 1
            return "I cannot see an image."
        scene = read_scene(images[0])
        lines = [line.strip() for line in user_text(body).splitlines()]
        question = next(line.removeprefix("<image>").strip() for line in lines if line.endswith("?"))
        key = style_key(question, scene)
        if any(line.startswith("Answer with the option's letter") for line in lines):
            options = {m[1]: m[2] for line in lines if (m := re.match(r"^([A-D])\. (.+)$", line))}
            letter = next(k for k, v in options.items() if v == scene.colour)
            wrong = next(k for k in options if k != letter)
            return {"letter": letter, "sentence": f"The answer is ({letter}).", "wrong": wrong,
                    "garbage": "Cannot determine."}[style_of(key, MCQ_STYLES)]  # fmt: skip
        truth = answer_from_scene(question, scene)
        if truth in ("yes", "no"):
            return closed_reply(style_of(key, CLOSED_STYLES), truth)
        return open_reply(style_of(key, OPEN_STYLES), truth, question)
