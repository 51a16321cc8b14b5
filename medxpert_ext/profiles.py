"""Model profiles: one YAML per model, read by every harness adapter.

A profile says what a model *is* and how it is served (path, parallelism, context, generation budget, reasoning
format), not which harness runs it; :func:`lm_eval_args` turns it into lm-eval flags, and the OpenCompass
adapter reads the same fields. Profiles live in ``configs/models/<name>.yaml`` or anywhere on disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .resources import configs_dir

Backend = Literal["vllm", "vllm-vlm", "hf", "hf-multimodal", "local-chat-completions"]
API_BACKENDS = {"local-chat-completions"}
VLLM_BACKENDS = {"vllm", "vllm-vlm"}
MULTIMODAL_BACKENDS = {"vllm-vlm", "hf-multimodal", "local-chat-completions"}

# Prompt room the MCQ tasks need. The longest question in the shipped-layout files is 4,880 characters
# (MMLU professional medicine; MedXpertQA Text 3,364), ~1,250 tokens at ~4 characters per token, plus the
# instruction and chat template. MM adds image tokens, which depend on the model's vision encoder.
LONGEST_PROMPT_TOKENS = 1_536


class ProfileError(Exception):
    """A profile that cannot be read or used; the message names the file and field."""


class Reasoning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # The token that closes the model's reasoning. With reasoning enabled, a response without it was cut off by
    # the token limit and scores as "no answer" instead of a letter guessed from half a chain of thought.
    think_end: str = "</think>"


class ModelProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    backend: Backend
    path: str = Field(description="hub id or local folder of the weights; for API backends the served model name")
    revision: str | None = None
    tensor_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, gt=0)
    max_gen_toks: int = Field(4096, gt=0)
    dtype: str = "auto"
    batch_size: str | int = "auto"
    chat_template: bool = True
    reasoning: Reasoning = Reasoning()
    max_images: int | None = Field(None, ge=1, description="images per prompt for MM (MedXpertQA MM has up to 6)")
    base_url: str | None = None  # local-chat-completions: http://host:port/v1/chat/completions
    # A LOCAL tokenizer folder (or a hub id when online) for OpenCompass' OpenAISDK, which counts prompt tokens
    # itself and downloads a tokenizer at start-up when none is given (and dies offline).
    tokenizer: str | None = None
    num_concurrent: int = Field(16, ge=1)
    extra_model_args: dict[str, str | int | float | bool] = {}

    @model_validator(mode="after")
    def _check(self) -> ModelProfile:
        if self.backend in API_BACKENDS and not self.base_url:
            raise ValueError("backend local-chat-completions needs base_url (e.g. http://localhost:8000/v1/chat/completions)")
        if self.backend not in VLLM_BACKENDS and (self.tensor_parallel_size > 1 or self.data_parallel_size > 1):
            raise ValueError(f"tensor/data parallel sizes apply to vllm backends only, not {self.backend}")
        if self.max_model_len is not None and self.max_gen_toks >= self.max_model_len:
            raise ValueError(f"max_gen_toks ({self.max_gen_toks}) must be below max_model_len ({self.max_model_len})")
        return self

    def warnings(self) -> list[str]:
        """Settings that run but cost accuracy or time; printed before a run starts."""
        out = []
        if self.max_model_len is not None:
            room = self.max_model_len - self.max_gen_toks
            if room < LONGEST_PROMPT_TOKENS:
                out.append(
                    f"max_model_len {self.max_model_len} - max_gen_toks {self.max_gen_toks} leaves {room} tokens for "
                    f"the prompt; the longest MedXpertQA prompts need ~{LONGEST_PROMPT_TOKENS} (more with images) "
                    "and would be truncated from the left. Raise max_model_len or lower max_gen_toks."
                )
        if self.backend in VLLM_BACKENDS and str(self.batch_size) == "1":
            out.append("vllm with batch_size 1 sends one prompt at a time and runs many times slower; use 'auto'.")
        if self.reasoning.enabled and self.max_gen_toks < 8192:
            out.append(
                f"reasoning model with max_gen_toks {self.max_gen_toks}: long chains of thought get cut off and "
                "count as no answer (extract_fail); 16k-32k is usual for reasoning models."
            )
        return out


def load_profile(name_or_path: str) -> ModelProfile:
    """A profile by shipped name (``configs/models/<name>.yaml``) or by path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") and "/" not in name_or_path:
        path = configs_dir() / "models" / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in (configs_dir() / "models").glob("*.yaml"))
        raise ProfileError(f"no profile {name_or_path!r} (looked for {path}); shipped profiles: {', '.join(shipped)}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return ModelProfile(**raw)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(profile)'}: {e['msg']}" for e in exc.errors())
        raise ProfileError(f"{path}: {problems}") from None
    except TypeError as exc:
        raise ProfileError(f"{path}: expected a mapping of profile fields ({exc})") from None


def _model_args(p: ModelProfile) -> dict[str, object]:
    if p.backend in API_BACKENDS:
        args: dict[str, object] = {
            "model": p.path,
            "base_url": p.base_url,
            "num_concurrent": p.num_concurrent,
            "max_retries": 5,
            "tokenized_requests": False,
        }
    else:
        args = {"pretrained": p.path, "dtype": p.dtype}
        if p.revision:
            args["revision"] = p.revision
    if p.backend in VLLM_BACKENDS:
        args |= {
            "tensor_parallel_size": p.tensor_parallel_size,
            "data_parallel_size": p.data_parallel_size,
            "gpu_memory_utilization": p.gpu_memory_utilization,
        }
        if p.max_model_len:
            args["max_model_len"] = p.max_model_len
    elif p.max_model_len and p.backend in {"hf", "hf-multimodal"}:
        args["max_length"] = p.max_model_len
    if p.max_images and p.backend in MULTIMODAL_BACKENDS:
        args["max_images"] = p.max_images
    return args | dict(p.extra_model_args)


def lm_eval_args(p: ModelProfile) -> tuple[list[str], dict[str, object]]:
    """lm-eval flags for a profile, and the metadata it adds (merged with the user's ``--metadata``)."""
    model_args = ",".join(f"{k}={v}" for k, v in _model_args(p).items())
    flags = ["--model", p.backend, "--model_args", model_args, "--gen_kwargs", f"max_gen_toks={p.max_gen_toks}"]
    if p.backend not in API_BACKENDS:
        flags += ["--batch_size", str(p.batch_size)]
    if p.chat_template or p.backend in API_BACKENDS:
        flags.append("--apply_chat_template")
    metadata: dict[str, object] = {}
    if p.reasoning.enabled:
        metadata["think_end"] = p.reasoning.think_end
    return flags, metadata


def merge_metadata(user_value: str | None, extra: dict[str, object]) -> str:
    """Merge a user's ``--metadata`` JSON with the profile's; the user's keys win."""
    user = {}
    if user_value:
        try:
            user = json.loads(user_value)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"--metadata is not valid JSON: {exc.msg}") from None
    return json.dumps(extra | user)
