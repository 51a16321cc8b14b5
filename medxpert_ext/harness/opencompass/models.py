"""OpenCompass model dicts from the pack's model profiles (``configs/models/<name>.yaml``), so a model is described
once for both harnesses.

- ``vllm`` -> ``VLLMwithChatTemplate`` (``model_kwargs.tensor_parallel_size`` = ``run_cfg.num_gpus`` = the
  profile's TP; data parallel = more OpenCompass workers, ``--max-num-workers``); ``hf`` ->
  ``HuggingFacewithChatTemplate``;
- ``local-chat-completions`` -> ``OpenAISDK`` (key from ``OPENAI_API_KEY`` at run time, never written into a
  config; a LOCAL ``tokenizer_path``, which OpenAISDK needs to count prompt tokens);
- image models: OpenCompass' local vLLM/HF wrappers take no images. Serve the VLM with ``vllm serve`` and use an
  endpoint profile: ``OpenAISDK`` sends the image parts of the MM and VQA datasets.

Generation is greedy with the profile's ``max_gen_toks`` as ``max_out_len``. A reasoning profile adds the pack's
``pred_postprocessor`` (:func:`.postprocess.strip_think`).
"""

from __future__ import annotations

from typing import Any

from ...profiles import API_BACKENDS, ModelProfile, ProfileError, load_profile

POSTPROCESS = "medxpert_ext.harness.opencompass.postprocess.strip_think"
VLLM_BATCH = 1024  # OpenCompass hands vLLM this many prompts at a time; vLLM schedules them itself
# OpenAISDK: ``max_workers`` threads send requests, so the profile's num_concurrent is the number in flight, as in
# lm-eval. Two other knobs must not lower it (scripts/bench_opencompass.py, 1,517 requests, 0.1 s endpoint, 32
# concurrent: raw client 5.2 s at the server):
# - ``query_per_second`` is a token bucket holding at most that many tokens: set to num_concurrent it caps the run
#   at num_concurrent requests a SECOND whatever the latency (48.0 s); at 10x it binds only below 0.1 s per reply.
# - ``batch_size``: the inferencer waits for a whole batch before sending the next one, so with batch = workers
#   the slowest reply of each batch idles every other worker; 4x workers keeps them busy (14.8 s -> 10.9 s).
QPS_PER_WORKER = 10
BATCH_PER_WORKER = 4


def _api_base(url: str) -> str:
    suffix = "/chat/completions"
    return (url[: -len(suffix)] if url.rstrip("/").endswith(suffix) else url).rstrip("/") + "/"


def model_dict(p: ModelProfile, *, tokenizer_path: str | None = None, abbr: str | None = None) -> dict[str, Any]:
    """One OpenCompass model dict (dotted ``type`` strings: OpenCompass dumps and reloads configs that way)."""
    common: dict[str, Any] = {"abbr": abbr or p.name, "max_out_len": p.max_gen_toks}
    if p.backend in API_BACKENDS:
        tokenizer = tokenizer_path or p.tokenizer
        if not tokenizer:
            raise ProfileError(f"profile {p.name!r}: OpenCompass' OpenAISDK needs a local tokenizer to count prompt "
                               "tokens (it downloads one otherwise); set 'tokenizer: /path/to/tokenizer' in the "
                               "profile or pass tokenizer_path=...")  # fmt: skip
        cfg = {
            "type": "opencompass.models.OpenAISDK",
            "path": p.path,
            "openai_api_base": _api_base(p.base_url or ""),
            "key": "ENV",  # OPENAI_API_KEY at run time (EMPTY for keyless local servers)
            "tokenizer_path": tokenizer,
            "max_seq_len": p.max_model_len or p.max_gen_toks + 16384,
            "temperature": 0.0,
            "query_per_second": QPS_PER_WORKER * p.num_concurrent,
            "max_workers": p.num_concurrent,
            "batch_size": BATCH_PER_WORKER * p.num_concurrent,
            "retry": 5,
            "run_cfg": {"num_gpus": 0},
        }
    elif p.backend == "vllm":
        kwargs: dict[str, Any] = {"tensor_parallel_size": p.tensor_parallel_size,
                                  "gpu_memory_utilization": p.gpu_memory_utilization, "dtype": p.dtype}  # fmt: skip
        if p.max_model_len:
            kwargs["max_model_len"] = p.max_model_len
        if p.revision:
            kwargs["revision"] = p.revision
        cfg = {
            "type": "opencompass.models.VLLMwithChatTemplate",
            "path": p.path,
            "model_kwargs": kwargs,
            "generation_kwargs": {"temperature": 0.0},
            "batch_size": int(p.batch_size) if str(p.batch_size).isdigit() else VLLM_BATCH,
            "run_cfg": {"num_gpus": p.tensor_parallel_size},
        }
        if p.max_model_len:
            cfg["max_seq_len"] = p.max_model_len
    elif p.backend == "hf":
        cfg = {
            "type": "opencompass.models.HuggingFacewithChatTemplate",
            "path": p.path,
            "model_kwargs": {"torch_dtype": p.dtype, **({"revision": p.revision} if p.revision else {})},
            "generation_kwargs": {"do_sample": False},
            "batch_size": int(p.batch_size) if str(p.batch_size).isdigit() else 8,
            "run_cfg": {"num_gpus": 1},
        }
        if p.max_model_len:
            cfg["max_seq_len"] = p.max_model_len
    else:
        raise ProfileError(f"profile {p.name!r}: backend {p.backend} has no OpenCompass counterpart. OpenCompass' "
                           "local vLLM/HF wrappers take no images: serve the model with `vllm serve` and use an "
                           "endpoint profile (backend local-chat-completions) for image tasks")  # fmt: skip
    cfg = common | cfg
    if p.reasoning.enabled:
        cfg["pred_postprocessor"] = {"type": POSTPROCESS, "think_end": p.reasoning.think_end}
    return cfg


def models_from_profile(name_or_path: str, **overrides: Any) -> list[dict[str, Any]]:
    """``models = models_from_profile("qwen2.5-7b-instruct")`` for an OpenCompass run config (a list, as
    OpenCompass' ``models`` is). ``overrides``: ``tokenizer_path``, ``abbr``."""
    return [model_dict(load_profile(name_or_path), **overrides)]
