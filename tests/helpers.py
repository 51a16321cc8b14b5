"""Small helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "medxpertqa" / "mm_test.jsonl").is_file(), reason=f"real benchmark data not found at {SHARED_DATA}"
)


def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def make_placeholder_images(root: Path) -> int:
    """Write a small image for every MM image name of the shared files under root/medxpertqa/images.

    Each image is a solid colour derived from its name, saved in the format its extension says, so tests can
    check that the right image reached the model.
    """
    from PIL import Image

    images = root / "medxpertqa" / "images"
    images.mkdir(parents=True, exist_ok=True)
    count = 0
    for name in ("mm_test.jsonl", "mm_sampled.jsonl"):
        for row in read_jsonl(SHARED_DATA / "medxpertqa" / name):
            for item in row["images"]:
                target = images / item["image_path"]
                if target.exists():
                    continue
                fmt = "PNG" if target.suffix.lower() == ".png" else "JPEG"
                Image.new("RGB", (24, 16), placeholder_colour(item["image_path"])).save(target, format=fmt)
                count += 1
    return count


def placeholder_colour(name: str) -> tuple[int, int, int]:
    h = sum((i + 1) * ord(c) for i, c in enumerate(name))
    return (h % 256, (h // 256) % 256, (h // 65536) % 256)
