"""Where the judge is and how hard to push it.

The API key is deliberately *not* a field: only the name of the environment variable that holds it is, so a
settings object can be logged, written into results or put in a report without leaking a secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_API_KEY_ENV = "MEDXPERT_JUDGE_API_KEY"
FALLBACK_API_KEY_ENV = "OPENAI_API_KEY"
CACHE_ENV = "MEDXPERT_JUDGE_CACHE"
NO_KEY = "EMPTY"  # what local vLLM / Ollama servers accept when they need no key

# field -> environment variable read by JudgeSettings.from_env
ENV_VARS: dict[str, str] = {
    "base_url": "MEDXPERT_JUDGE_BASE_URL",
    "model": "MEDXPERT_JUDGE_MODEL",
    "concurrency": "MEDXPERT_JUDGE_CONCURRENCY",
    "timeout": "MEDXPERT_JUDGE_TIMEOUT",
    "max_retries": "MEDXPERT_JUDGE_MAX_RETRIES",
    "token_budget": "MEDXPERT_JUDGE_TOKEN_BUDGET",
    "api_key_env": "MEDXPERT_JUDGE_API_KEY_ENV",
}


class JudgeConfigError(ValueError):
    """The judge is not configured (or badly): the message says which variable / option to set."""


class JudgeSettings(BaseModel):
    """Connection and run parameters of the LLM judge (any OpenAI-compatible chat-completions server)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    model: str
    api_key_env: str = DEFAULT_API_KEY_ENV  # the NAME of the variable holding the key, never the key
    concurrency: int = Field(16, ge=1)
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    max_tokens: int = Field(2048, ge=1)
    temperature: float = 0.0
    # auto: send response_format, drop it for the rest of the run if the server rejects it with a 400
    structured_output: Literal["auto", "json_schema", "none"] = "auto"
    token_budget: int | None = Field(None, ge=0)  # prompt + completion tokens this run may spend
    cache_path: Path | None = None

    def api_key(self) -> str:
        """The key from ``api_key_env``, else ``OPENAI_API_KEY``, else ``"EMPTY"`` (keyless local servers)."""
        for name in (self.api_key_env, FALLBACK_API_KEY_ENV):
            value = os.environ.get(name, "").strip()
            if value:
                return value
        return NO_KEY

    def resolved_cache_path(self) -> Path:
        """``cache_path``, else ``$MEDXPERT_JUDGE_CACHE``, else ``~/.cache/medxpert-ext/judge-cache.sqlite``."""
        if self.cache_path is not None:
            return Path(self.cache_path).expanduser()
        env = os.environ.get(CACHE_ENV, "").strip()
        if env:
            return Path(env).expanduser()
        return Path.home() / ".cache" / "medxpert-ext" / "judge-cache.sqlite"

    def public(self) -> dict[str, Any]:
        """What may be written to results and reports: no key, and no credentials embedded in the URL."""
        from .modes import PROMPT_VERSION

        return {
            "base_url": _without_userinfo(self.base_url),
            "model": self.model,
            "api_key_env": self.api_key_env,
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "structured_output": self.structured_output,
            "token_budget": self.token_budget,
            "prompt_version": PROMPT_VERSION,
        }

    @classmethod
    def from_env(cls, **overrides: Any) -> JudgeSettings:
        """Settings from ``MEDXPERT_JUDGE_*`` variables; explicit non-None *overrides* (CLI flags) win."""
        values: dict[str, Any] = {}
        for name, var in ENV_VARS.items():
            raw = os.environ.get(var, "").strip()
            if raw:
                values[name] = _coerce(name, var, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("base_url", "model"):
            if not values.get(name):
                flag = name.replace("_", "-")
                raise JudgeConfigError(
                    f"no judge {name.replace('_', ' ')} configured: set {ENV_VARS[name]}, or pass it explicitly "
                    f"(`medxpert judge --{flag} ...`, or `--metadata '{{\"judge_{name}\": ...}}'` for lm-eval)"
                )
        return cls(**values)


def _coerce(name: str, var: str, raw: str) -> Any:
    kind = {"concurrency": int, "max_retries": int, "token_budget": int, "timeout": float}.get(name)
    if kind is None:
        return raw
    try:
        return kind(raw)
    except ValueError:
        raise JudgeConfigError(f"{var}={raw!r} is not a valid {kind.__name__}") from None


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
