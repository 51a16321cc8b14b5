"""Images that are opened only when a backend needs their pixels, and not kept afterwards.

lm-eval builds every request before running any, calling ``doc_to_image`` for all docs up front, and keeps the
requests (with their images) until the run ends. A plain ``PIL.Image.open`` would hold 2,852 file handles for
MedXpertQA MM, and once a backend has read the pixels of every image (to encode or preprocess it), all of them
would stay decoded in memory: ~5 GB for PathVQA's 6,719 images at 512 px.

:class:`LazyImage` reads only the header when created and closes the file. Pixels are decoded on first use and
kept by at most :data:`MAX_DECODED` images at a time (least recently decoded ones are released first; a released
image decodes again if it is used again). Backends use images one request or one batch at a time, well under
that bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from .errors import require

Image = require("PIL.Image", "images (MedXpertQA MM, medical VQA)")

MAX_DECODED = 256

_decoded: OrderedDict[int, LazyImage] = OrderedDict()
_lock = threading.Lock()


def _remember(img: LazyImage) -> None:
    with _lock:
        _decoded[id(img)] = img
        _decoded.move_to_end(id(img))
        while len(_decoded) > MAX_DECODED:
            _, oldest = _decoded.popitem(last=False)
            oldest._im = None


class LazyImage(Image.Image):
    """A ``PIL.Image.Image`` whose pixels are read from ``path`` on use (``load()``), not held forever."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        with Image.open(self.path) as probe:  # header only: mode and size, no decoding
            self._mode = probe.mode
            self._size = probe.size
            self.format = probe.format
            self.info = dict(probe.info)

    def load(self):
        if self._im is None:
            with Image.open(self.path) as img:
                img.load()
                self.im = img.im
                self._mode = img.mode
                self._size = img.size
                self.palette = img.palette
            _remember(self)
        return super().load()

    def release(self) -> None:
        """Drop decoded pixels now (they are re-read on next use)."""
        with _lock:
            _decoded.pop(id(self), None)
        self._im = None

    def __repr__(self) -> str:
        state = "decoded" if self._im is not None else "lazy"
        return f"<LazyImage {self.path} {self._mode} {self._size[0]}x{self._size[1]} {state}>"
