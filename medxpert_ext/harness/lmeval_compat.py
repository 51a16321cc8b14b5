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

Applied when our task utils are imported, which lm-eval does after it has created the model, so the backend's
module is already loaded; backends that are not imported are left alone.
"""

from __future__ import annotations

import sys
from functools import wraps

IMAGE_CHUNK = 512

_BACKENDS = {
    "lm_eval.models.api_models": "TemplateAPI",
    "lm_eval.models.hf_vlms": "HFMultimodalLM",
    "lm_eval.models.vllm_vlms": "VLLM_VLM",
}


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
