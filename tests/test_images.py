"""LazyImage: header-only until used, decoded pixels bounded, evicted images decode again correctly."""

from __future__ import annotations

import io
import os

from PIL import Image

from medxpert_ext import images
from medxpert_ext.images import LazyImage


def _write(folder, n):
    paths = []
    for i in range(n):
        path = folder / f"img-{i}.png"
        Image.new("RGB", (8, 6), (i % 256, 7, 9)).save(path)
        paths.append(path)
    return paths


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_lazy_images_hold_no_file_handles_and_no_pixels(tmp_path):
    paths = _write(tmp_path, 3000)
    before = _open_fds()
    lazy = [LazyImage(p) for p in paths]
    assert _open_fds() - before < 5  # 3,000 images, no file left open
    assert all(img._im is None for img in lazy)
    assert lazy[5].size == (8, 6) and lazy[5].mode == "RGB"


def test_decoded_pixels_are_bounded_and_evicted_images_reload(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_DECODED", 10)
    paths = _write(tmp_path, 40)
    lazy = [LazyImage(p) for p in paths]
    for img in lazy:
        buf = io.BytesIO()
        img.save(buf, format="PNG")  # what lm-eval's API backend does with every image
    assert sum(img._im is not None for img in lazy) == 10
    assert lazy[0]._im is None  # evicted...
    assert lazy[0].convert("RGB").getpixel((0, 0)) == (0, 7, 9)  # ...and decoded again on use
    assert lazy[33].getpixel((1, 1)) == (33, 7, 9)
    lazy[33].release()
    assert lazy[33]._im is None
