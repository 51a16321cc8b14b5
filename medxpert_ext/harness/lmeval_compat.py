"""Work-arounds for lm-eval 0.4.13 defects that would silently corrupt our scores.

Mixed text and image requests. lm-eval hands every generate_until request of a run to the model in one list.
Its multimodal backends (`local-chat-completions` and the other API models, `hf-multimodal`, `vllm-vlm`) decide
whether the WHOLE list carries images by looking at the first request only. Running ``--tasks medxpert`` (Text +
MM) therefore either drops every image without a word (first request text-only: the MM questions are asked
blind) or crashes (first request has images). We split the list by modality and call the backend once per kind,
restoring the original order. A run with a single modality goes through untouched.

Image requests all at once. The same backends prepare every image request of the run before sending the first
(the API backend base64-encodes all images as PNG up front: ~9 GB of strings for PathVQA's 6,719 images). We
hand image requests to the backend in chunks of at most :data:`IMAGE_CHUNK` requests and
:data:`IMAGE_CHUNK_BYTES` of image files, so memory stays bounded by the chunk. Each chunk still runs with the
backend's full concurrency / batch size; each chunk boundary waits for the last replies of the chunk, so chunks
are as large as the memory bound allows (images now travel as their files, ~5x smaller than the PNGs).

Images re-encoded as PNG. The API backend turns every image into a PNG data URL (``create_image_prompt``):
~64 ms and 5x the bytes of the original JPEG per 448 px image, 92 % of a VQA run through an endpoint. Images the
pack built (:class:`~medxpert_ext.images.LazyImage`, what our ``doc_to_image`` returns) go as the file's own
bytes and MIME type instead (:func:`medxpert_ext.images.data_url`; shrunk only when ``max_image_edge`` asks),
and the text loses the leading ``<image>`` lines lm-eval's local backends need (OpenCompass sends the same
message); other images (a user's own task) keep lm-eval's PNG encoding and text.

Torch in API-only runs: see :func:`api_run_without_torch` (applied by ``lmeval_run`` around the run).

A generation budget larger than the model's context. Our tasks ask for ``max_gen_toks: 4096`` (room for a chain
of thought); the ``hf`` backends then stop at the first batch with ``AssertionError: requested max tokens to
generate (4096) must be less than model's maximum sequence length (2048)`` (every model with a context of 4k or
less). We fit the budget to the model: half its context for generation, half for the prompt, with one warning
that says how to choose another budget.

Applied when our task utils are imported, which lm-eval does after it has created the model, so the backend's
module is already loaded; backends that are not imported are left alone.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from ..prompts import IMAGE_PLACEHOLDER

IMAGE_CHUNK = 2048
IMAGE_CHUNK_BYTES = 192 * 2**20  # image file bytes per chunk (base64 and lm-eval's copies make it ~3-4x in RAM)
_OTHER_IMAGE_BYTES = 2**20  # an image that is not one of ours (no file to measure): count it as 1 MiB

_BACKENDS = {
    "lm_eval.models.api_models": "TemplateAPI",
    "lm_eval.models.hf_vlms": "HFMultimodalLM",
    "lm_eval.models.vllm_vlms": "VLLM_VLM",
}


_BUDGET_BACKENDS = {
    "lm_eval.models.huggingface": "HFLM",
    "lm_eval.models.hf_vlms": "HFMultimodalLM",
}
_BUDGET_KEYS = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")  # lm-eval's priority
log = logging.getLogger("medxpert_ext")


def fit_budget(gen_kwargs: dict, max_length: int, default: int) -> tuple[dict, int | None]:
    """``gen_kwargs`` with a generation budget that leaves room for a prompt: (kwargs, the budget asked for
    when it had to be cut, else None)."""
    key = next((k for k in _BUDGET_KEYS if gen_kwargs.get(k) is not None), None)
    asked = int(gen_kwargs[key]) if key else default
    if asked < max_length:
        return gen_kwargs, None
    fitted = {k: v for k, v in gen_kwargs.items() if k not in _BUDGET_KEYS}
    fitted["max_gen_toks"] = max(1, max_length // 2)
    return fitted, asked


def _fit_generation_budget(generate_until):
    @wraps(generate_until)
    def wrapper(self, requests, disable_tqdm: bool = False):
        max_length = self.max_length
        cut: set[int] = set()
        for req in requests:
            if len(req.arguments) < 2 or not isinstance(req.arguments[1], dict):
                continue
            fitted, asked = fit_budget(req.arguments[1], max_length, self.max_gen_toks)
            if asked is not None:
                req.arguments = (req.arguments[0], fitted, *req.arguments[2:])
                cut.add(asked)
        for asked in sorted(cut):
            log.warning(
                "max_gen_toks %d does not fit the model's %d-token context: generating at most %d tokens "
                "(the prompt keeps the other %d). Choose another budget with --gen_kwargs max_gen_toks=N, or "
                "raise the context with --model_args max_length=N if the model supports it.",
                asked, max_length, max(1, max_length // 2), max_length - max(1, max_length // 2),
            )  # fmt: skip
        return generate_until(self, requests, disable_tqdm=disable_tqdm)

    wrapper._medxpert_fit_budget = True
    return wrapper


def patch_generation_budget() -> list[str]:
    """Fit the generation budget to the model's context in the loaded ``hf`` backends (idempotent)."""
    return _wrap_generate_until(_BUDGET_BACKENDS, "_medxpert_fit_budget", _fit_generation_budget)


def _wrap_generate_until(backends: dict[str, str], marker: str, wrap) -> list[str]:
    """Wrap ``generate_until`` of each loaded backend class once (``marker`` is set on the wrapper)."""
    patched = []
    for module_name, class_name in backends.items():
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module else None
        method = cls.__dict__.get("generate_until") if cls else None
        if method is None or getattr(method, marker, False):
            continue
        cls.generate_until = wrap(method)
        patched.append(f"{module_name}.{class_name}")
    return patched


def _has_images(request) -> bool:
    return len(request.args) > 2


def _image_bytes(img) -> int:
    import os

    path = getattr(img, "path", None)
    try:
        return os.path.getsize(path) if isinstance(path, str) else _OTHER_IMAGE_BYTES
    except OSError:
        return _OTHER_IMAGE_BYTES


def _image_chunks(requests, image_idx: list[int]):
    chunk: list[int] = []
    size = 0
    for i in image_idx:
        aux = requests[i].args[2] if isinstance(requests[i].args[2], dict) else {}
        cost = sum(_image_bytes(img) for img in aux.get("visual") or [])
        if chunk and (len(chunk) >= IMAGE_CHUNK or size + cost > IMAGE_CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(i)
        size += cost
    if chunk:
        yield chunk


def _split_by_modality(generate_until):
    @wraps(generate_until)
    def wrapper(self, requests, disable_tqdm: bool = False):
        image_idx = [i for i, r in enumerate(requests) if _has_images(r)]
        if not image_idx:
            return generate_until(self, requests, disable_tqdm=disable_tqdm)
        text_idx = [i for i, r in enumerate(requests) if not _has_images(r)]
        groups = [text_idx] if text_idx else []
        groups += list(_image_chunks(requests, image_idx))
        out: list = [None] * len(requests)
        for idx in groups:
            for i, result in zip(idx, generate_until(self, [requests[i] for i in idx], disable_tqdm=disable_tqdm)):
                out[i] = result
        return out

    wrapper._medxpert_split_by_modality = True
    return wrapper


def _without_placeholders(text: str, n: int) -> str:
    """The prompt without the ``<image>`` lines our prompts start with for local backends (which swap each for
    the model's image token). Through an endpoint the images travel as parts; the literal text would reach the
    model as words (or, for a served LLaVA-style model, as extra image tokens), and OpenCompass' path sends the
    text without them: both harnesses now send the same message."""
    for _ in range(n):
        text = text.removeprefix(IMAGE_PLACEHOLDER + "\n")
    return text


def _create_image_prompt(original):
    @wraps(original)
    def create_image_prompt(imgs: list, chat: list, fmt: str = "PNG") -> list:
        from ..images import LazyImage

        if not imgs or not all(isinstance(img, LazyImage) for img in imgs):
            return original(imgs, chat, fmt)
        parts = [{"type": "image_url", "image_url": {"url": img.data_url(), "detail": "auto"}} for img in imgs]
        content = chat[-1]["content"]  # the same message layout as lm-eval's: images first, then the text
        if isinstance(content, str):
            content = [{"type": "text", "text": _without_placeholders(content, len(imgs))}]
        chat[-1]["content"] = parts + content
        chat[-1].pop("type", None)
        return chat

    create_image_prompt._medxpert_passthrough = True
    return create_image_prompt


def patch_image_passthrough() -> bool:
    """Make lm-eval's API backend send our images' own bytes; True if patched now (idempotent)."""
    module = sys.modules.get("lm_eval.models.api_models")
    original = getattr(module, "create_image_prompt", None) if module else None
    if original is None or getattr(original, "_medxpert_passthrough", False):
        return False
    module.create_image_prompt = _create_image_prompt(original)
    return True


def patch_mixed_modalities() -> list[str]:
    """Patch the loaded multimodal backends (modality split; image passthrough for the API backend); returns
    what was patched now (idempotent)."""
    patched = []
    if "lm_eval.models.api_models" not in sys.modules:
        try:  # the API backend is light to import; load it so Python-API users are covered too
            import lm_eval.models.api_models  # noqa: F401
        except ImportError:
            pass
    patched += _wrap_generate_until(_BACKENDS, "_medxpert_split_by_modality", _split_by_modality)
    if patch_image_passthrough():
        patched.append("lm_eval.models.api_models.create_image_prompt")
    return patched


# ------------------------------------------------------------------------------ no torch in API-only runs
def is_api_backend(model: object) -> bool:
    """Whether lm-eval's ``--model`` name (or class) is one of its API backends (``TemplateAPI`` subclasses)."""
    from lm_eval.models.api_models import TemplateAPI

    if isinstance(model, str):
        from lm_eval.api.registry import get_model

        try:
            model = get_model(model)  # what lm-eval itself resolves (a local backend's import pulls torch anyway)
        except (ValueError, ImportError):
            return False
    return isinstance(model, type) and issubclass(model, TemplateAPI)


def _seed_torch_if_loaded(set_torch_seed):
    @wraps(set_torch_seed)
    def seed(value: int) -> None:
        if "torch" in sys.modules:  # already paid for: seed it as lm-eval would
            set_torch_seed(value)

    return seed


def _env_info_without_torch(model: str):
    def add_env_info(storage: dict) -> None:
        """lm-eval's keys, without torch's collect_env (which imports torch to describe CUDA for a run that
        has none: the model runs behind the endpoint)."""
        import os
        import platform
        from importlib.metadata import PackageNotFoundError, version
        from pathlib import Path

        from lm_eval.loggers.utils import get_commit_from_path

        def installed(name: str) -> str:
            try:
                return version(name)
            except PackageNotFoundError:
                return "N/A"

        storage.update({
            "pretty_env_info": f"not collected: API backend {model!r} (the model runs behind its endpoint; "
                               f"torch is not used by this run). Python {platform.python_version()} on "
                               f"{platform.platform()}",
            "transformers_version": installed("transformers"),
            "lm_eval_version": installed("lm_eval"),
            "upper_git_hash": get_commit_from_path(Path(os.getcwd(), "..")),
        })  # fmt: skip

    return add_env_info


@contextmanager
def api_run_without_torch(model: str | None) -> Iterator[bool]:
    """For a run of an API backend, keep lm-eval's ``simple_evaluate`` from importing torch (2-3 s, ~190 MiB):
    the default ``--seed`` seeds torch only if it is already loaded (an endpoint never draws from torch's RNG;
    the seed is still recorded in the results' config), and the environment record skips torch's
    ``collect_env``. Local backends (hf, vllm, ...) run with lm-eval's hooks untouched. Yields whether it
    applied; lm-eval's functions are restored on exit."""
    if not model or not is_api_backend(model):
        yield False
        return
    import lm_eval.evaluator as evaluator

    saved = evaluator.set_torch_seed, evaluator.add_env_info
    evaluator.set_torch_seed = _seed_torch_if_loaded(saved[0])
    evaluator.add_env_info = _env_info_without_torch(model)
    try:
        yield True
    finally:
        evaluator.set_torch_seed, evaluator.add_env_info = saved
