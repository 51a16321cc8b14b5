"""Images that are opened only when a backend needs their pixels.

lm-eval builds every request before running any, calling ``doc_to_image`` for all 2,000 MM docs up front. A
plain ``PIL.Image.open`` would keep 2,852 file handles open, and ``.load()`` would decode every image at once.
:class:`LazyImage` reads only the header when created, closes the file, and decodes on first pixel access.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image


class LazyImage(Image.Image):
    """A ``PIL.Image.Image`` whose pixels are read from ``path`` on first use (``load()``)."""

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
        return super().load()

    def release(self) -> None:
        """Drop decoded pixels (they are re-read on next use)."""
        self._im = None

    def __repr__(self) -> str:
        state = "loaded" if self._im is not None else "lazy"
        return f"<LazyImage {self.path} {self._mode} {self._size[0]}x{self._size[1]} {state}>"
