"""Images that are opened only when a backend needs their pixels, and sent to endpoints as the file's own bytes.

lm-eval builds every request before running any, calling ``doc_to_image`` for all docs up front, and keeps the
requests (with their images) until the run ends. A plain ``PIL.Image.open`` would hold 2,852 file handles for
MedXpertQA MM, and once a backend has read the pixels of every image (to encode or preprocess it), all of them
would stay decoded in memory: ~5 GB for PathVQA's 6,719 images at 512 px.

:class:`LazyImage` reads only the header when created and closes the file. Pixels are decoded on first use and
kept by at most :data:`MAX_DECODED` images at a time (least recently decoded ones are released first; a released
image decodes again if it is used again). Backends use images one request or one batch at a time, well under
that bound.

Endpoints (OpenAI-compatible servers: vLLM, SGLang, hosted APIs) take JPEG, PNG and WebP as they are. Decoding a
file and re-encoding it as PNG, what lm-eval's API backend does, costs ~64 ms per 448 px image and makes a JPEG
request 5x larger, for the same pixels at the server (a JPEG decodes to the same pixels however often it is
decoded). :func:`data_url` therefore sends the file's own bytes with its real MIME type (from the content, not
the file name), and re-encodes only when asked to shrink the image (``max_edge``) or when the format is not one
of those three. It is the one implementation of "image file -> request content" for both harness adapters.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from pathlib import Path

from .errors import require

Image = require("PIL.Image", "images (MedXpertQA MM, medical VQA)")

MAX_DECODED = 256

# formats every OpenAI-compatible image endpoint accepts as they are (PIL format name -> MIME type)
PASSTHROUGH_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

_decoded: OrderedDict[int, LazyImage] = OrderedDict()
_lock = threading.Lock()


def fitted_size(size: tuple[int, int], max_edge: int | None) -> tuple[int, int]:
    """``size`` scaled down (aspect kept) so that its longer edge is at most ``max_edge``; unchanged if it fits."""
    width, height = size
    if not max_edge or max(width, height) <= max_edge:
        return size
    scale = max_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_max_edge(max_edge: int | None) -> int | None:
    if max_edge is None:
        return None
    if isinstance(max_edge, bool) or not isinstance(max_edge, int) or max_edge < 1:
        raise ValueError(f"max_image_edge must be a positive number of pixels, got {max_edge!r}")
    return max_edge


def encode(img: Image.Image, source_format: str | None) -> tuple[bytes, str]:
    """Pixels -> (bytes, MIME): JPEG stays JPEG (quality 95), everything else becomes lossless PNG."""
    buf = io.BytesIO()
    if source_format == "JPEG" and img.mode in ("L", "RGB", "CMYK"):
        img.save(buf, format="JPEG", quality=95)
        return buf.getvalue(), "image/jpeg"
    img.save(buf, format="PNG")
    return buf.getvalue(), "image/png"


def sniff_mime(data: bytes) -> str | None:
    """The MIME type of JPEG / PNG / WebP bytes from their signature (what PIL would say), else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _data_url(path: str, source_format: str | None, size: tuple[int, int], max_edge: int | None) -> str:
    mime = PASSTHROUGH_MIME.get(source_format or "")
    if mime and fitted_size(size, max_edge) == size:
        return _url(Path(path).read_bytes(), mime)
    with Image.open(path) as img:
        img.load()
        target = fitted_size(img.size, max_edge)
        pixels = img.resize(target, Image.Resampling.LANCZOS) if target != img.size else img
        return _url(*encode(pixels, source_format))


def data_url(path: str | Path, max_edge: int | None = None) -> str:
    """``data:<mime>;base64,...`` for an image file, for an OpenAI ``image_url`` content part.

    JPEG/PNG/WebP files that fit ``max_edge`` (or with no ``max_edge``) are sent byte for byte with their own MIME
    type; larger ones are shrunk (LANCZOS, aspect kept) and re-encoded (JPEG as JPEG q95, others as PNG); other
    formats (BMP, TIFF, GIF, ...) are re-encoded as PNG. Reads only the header to decide.
    """
    max_edge = _check_max_edge(max_edge)
    with Image.open(path) as probe:
        fmt, size = probe.format, probe.size
    return _data_url(str(path), fmt, size, max_edge)


def _remember(img: LazyImage) -> None:
    with _lock:
        _decoded[id(img)] = img
        _decoded.move_to_end(id(img))
        while len(_decoded) > MAX_DECODED:
            _, oldest = _decoded.popitem(last=False)
            oldest._im = None


class LazyImage(Image.Image):
    """A ``PIL.Image.Image`` whose pixels are read from ``path`` on use (``load()``), not held forever.

    Nothing is read when it is created (lm-eval creates one per request before the first request is sent): the
    header is read the first time ``size``/``mode``/``format`` is asked for, the pixels on ``load()``, and
    :meth:`data_url` needs neither unless the image must be shrunk.

    ``max_edge`` (the run's ``max_image_edge``) shrinks the image for every backend alike: local backends see
    the shrunk pixels, endpoints get them re-encoded by :meth:`data_url`; without it both see the file as it is.
    """

    def __init__(self, path: str | Path, max_edge: int | None = None) -> None:
        super().__init__()
        self.path = str(path)
        self.max_edge = _check_max_edge(max_edge)
        self._format: str | None = None
        self._file_size: tuple[int, int] | None = None

    def _probe(self) -> None:
        if self._file_size is None:
            with Image.open(self.path) as probe:  # header only: mode and size, no decoding
                self._file_size = probe.size
                self._format = probe.format
                if self._im is None:
                    self._mode = probe.mode
                    self._size = fitted_size(probe.size, self.max_edge)
                self.info = dict(probe.info)

    @property
    def size(self) -> tuple[int, int]:
        self._probe()
        return self._size

    @property
    def mode(self) -> str:
        self._probe()
        return self._mode

    @property
    def format(self) -> str | None:  # type: ignore[override]
        self._probe()
        return self._format

    @format.setter
    def format(self, value: str | None) -> None:
        self._format = value

    @property
    def file_size(self) -> tuple[int, int]:
        """Size of the image in the file (``size`` is after ``max_edge``)."""
        self._probe()
        return self._file_size

    def load(self):
        if self._im is None:
            self._probe()
            with Image.open(self.path) as img:
                img.load()
                if self.max_edge and fitted_size(img.size, self.max_edge) != img.size:
                    img = img.resize(fitted_size(img.size, self.max_edge), Image.Resampling.LANCZOS)
                self.im = img.im
                self._mode = img.mode
                self._size = img.size
                self.palette = img.palette
            _remember(self)
        return super().load()

    def data_url(self) -> str:
        """The request form of this image (see :func:`data_url`); the file is read now, pixels are not kept."""
        if self.max_edge is None:
            data = Path(self.path).read_bytes()
            mime = sniff_mime(data)
            if mime:
                return _url(data, mime)
        return _data_url(self.path, self.format, self.file_size, self.max_edge)

    def release(self) -> None:
        """Drop decoded pixels now (they are re-read on next use)."""
        with _lock:
            _decoded.pop(id(self), None)
        self._im = None

    def __repr__(self) -> str:
        state = "decoded" if self._im is not None else "lazy"
        return f"<LazyImage {self.path} {self.mode} {self.size[0]}x{self.size[1]} {state}>"
