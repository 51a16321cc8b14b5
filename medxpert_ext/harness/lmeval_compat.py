"""Work-arounds for lm-eval 0.4.13 defects that would silently corrupt our scores.

Mixed text and image requests. lm-eval hands every generate_until request of a run to the model in one list.
Its multimodal backends (`local-chat-completions` and the other API models, `hf-multimodal`, `vllm-vlm`) decide
whether the WHOLE list carries images by looking at the first request only. Running ``--tasks medxpert`` (Text +
MM) therefore either drops every image without a word (first request text-only: the MM questions are asked
blind) or crashes (first request has images). We split the list by modality and call the backend once per kind,
restoring the original order. A run with a single modality goes through untouched.

Image requests all at once. The same backends prepare every image request of the run before sending the first
(the API backend base64-encodes all images as PNG up front: ~9 GB of strings for PathVQA's 6,719 images). We
hand image requests to the backend in chunks of :data:`IMAGE_CHUNK`, so memory stays bounded by the chunk.
Each chunk still runs with the backend's full concurrency / batch size.

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
from functools import wraps

IMAGE_CHUNK = 512

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
    patched = []
    for module_name, class_name in _BUDGET_BACKENDS.items():
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module else None
        method = cls.__dict__.get("generate_until") if cls else None
        if method is None or getattr(method, "_medxpert_fit_budget", False):
            continue
        cls.generate_until = _fit_generation_budget(method)
        patched.append(f"{module_name}.{class_name}")
    return patched


def _has_images(request) -> bool:
    return len(request.args) > 2


def _split_by_modality(generate_until):
    @wraps(generate_until)
    def wrapper(self, requests, disable_tqdm: bool = False):
        image_idx = [i for i, r in enumerate(requests) if _has_images(r)]
        if not image_idx:
            return generate_until(self, requests, disable_tqdm=disable_tqdm)
        text_idx = [i for i, r in enumerate(requests) if not _has_images(r)]
        groups = [text_idx] if text_idx else []
        groups += [image_idx[k : k + IMAGE_CHUNK] for k in range(0, len(image_idx), IMAGE_CHUNK)]
        out: list = [None] * len(requests)
        for idx in groups:
            for i, result in zip(idx, generate_until(self, [requests[i] for i in idx], disable_tqdm=disable_tqdm)):
                out[i] = result
        return out

    wrapper._medxpert_split_by_modality = True
    return wrapper


def patch_mixed_modalities() -> list[str]:
    """Patch the loaded multimodal backends; returns the classes patched now (idempotent)."""
    patched = []
    if "lm_eval.models.api_models" not in sys.modules:
        try:  # the API backend is light to import; load it so Python-API users are covered too
            import lm_eval.models.api_models  # noqa: F401
        except ImportError:
            pass
    for module_name, class_name in _BACKENDS.items():
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module else None
        method = cls.__dict__.get("generate_until") if cls else None
        if method is None or getattr(method, "_medxpert_split_by_modality", False):
            continue
        cls.generate_until = _split_by_modality(method)
        patched.append(f"{module_name}.{class_name}")
    return patched
