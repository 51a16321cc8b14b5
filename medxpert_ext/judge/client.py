"""One OpenAI-compatible chat client for the judge, with our own retry loop.

The SDK's retries are switched off (``max_retries=0``) because we need to count every attempt and fault, honour
``Retry-After`` up to a cap, treat a reply the judge cannot parse like a transport fault, and stop at a token
budget. How faults surface through the ``openai`` SDK (checked against ``tests/scripted_server.py``):

* 4xx / 5xx                    -> ``openai.APIStatusError`` subclasses (``.status_code``, ``.response.headers``)
* read timeout                 -> ``openai.APITimeoutError`` (a subclass of ``APIConnectionError``: test it first)
* dropped connection, body cut short by a too-large Content-Length -> ``openai.APIConnectionError``
* malformed / non-JSON 200 body -> a plain ``json.JSONDecodeError``, *not* an ``openai.APIError``
* a 200 JSON body without ``choices`` parses fine (the SDK does not validate): checked here as ``malformed``
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import require

openai = require("openai", "the LLM judge (medxpert judge, the *_judge tasks)")

from .settings import NO_KEY, JudgeSettings
from .types import Usage

log = logging.getLogger("medxpert_ext.judge")

T = TypeVar("T")
BUDGET_REACHED = "token budget reached"
_RETRYABLE_STATUS = {408: "timeout", 409: "conflict", 429: "rate_limited"}
_RETRY_AFTER_STATUS = {429, 503}
_FORMAT_WORDS = ("response_format", "response format", "json_schema", "json schema")


class JudgeRequestError(Exception):
    """A judge request that failed for good (after retries, or at once for a non-retryable error).

    ``kind`` is the fault kind of the last attempt (``rate_limited``, ``server_error``, ``timeout``,
    ``connection``, ``malformed``, ``unparseable``, ``budget``, ``http_401``, ...); ``usage`` is what the
    failed attempts still cost. The message never contains the API key.
    """

    def __init__(self, kind: str, message: str, usage: Usage = Usage()):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.usage = usage


@dataclass
class _Fault(Exception):
    """One failed attempt. ``free``: retry at once without using up a retry (structured-output fallback)."""

    kind: str
    message: str
    retryable: bool = True
    retry_after: float | None = None
    free: bool = False
    usage: Usage = Usage()  # tokens the failed reply still reported (a 200 without choices)


def _identity(content: str) -> str:
    return content


def _count(usage: Any, name: str) -> int:
    """A token count from a reply's usage block; 0 when absent or not a number (some servers omit usage)."""
    try:
        return max(0, int((usage.get(name) if isinstance(usage, dict) else 0) or 0))
    except (TypeError, ValueError):
        return 0


def retry_after_seconds(headers: Any, cap: float = 60.0, now: float | None = None) -> float | None:
    """Seconds asked for by ``Retry-After`` (delta seconds or HTTP date) or ``retry-after-ms``, capped."""
    if headers is None:
        return None
    value: float | None = None
    ms = headers.get("retry-after-ms")
    raw = headers.get("retry-after")
    try:
        if ms is not None:
            value = float(ms) / 1000.0
        elif raw is not None:
            value = float(raw)
    except ValueError:
        value = None
    if value is None and raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        value = when.timestamp() - (time.time() if now is None else now)
    if value is None:
        return None
    return min(max(value, 0.0), cap)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _root(exc: BaseException) -> BaseException:
    return _chain(exc)[-1]


def _timed_out(exc: BaseException) -> bool:
    """Whether an ``APITimeoutError`` really is a timeout: the SDK's aiohttp transport maps every
    ``aiohttp.ClientConnectionError`` (a server that closed the connection, a cut-short body) to a timeout."""
    try:
        import aiohttp
    except ImportError:
        return True
    for cause in _chain(exc)[1:]:
        if isinstance(cause, TimeoutError):
            return True
        if isinstance(cause, aiohttp.ClientError):
            return False
    return True


def _http_client(timeout: float) -> Any:
    """The SDK's aiohttp transport when it is available (``openai.DefaultAioHttpClient``), else its default.

    At 64 requests in flight the default httpx pool re-examines every pooled connection, probing each idle
    socket, whenever a request enters or leaves it: about half the judge's client CPU per verdict (measured with
    scripts/bench_judge.py). aiohttp (already required by lm-eval's API backend) hands out connections in O(1).
    """
    factory = getattr(openai, "DefaultAioHttpClient", None)
    if factory is None:
        return None
    try:
        return factory(timeout=timeout)
    except (RuntimeError, ImportError):  # the SDK without its aiohttp extra
        return None


class JudgeClient:
    """Async chat-completions client: concurrency limit, retries with backoff, counters, token budget.

    Make one per event loop (``judge_items`` does); ``await close()`` when done.
    """

    backoff_base: float = 0.5  # seconds; class attributes so tests can make retries fast
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0

    def __init__(self, settings: JudgeSettings, *, backoff_base: float | None = None,
                 backoff_cap: float | None = None, seed: int | None = None):
        self.settings = settings
        if backoff_base is not None:
            self.backoff_base = backoff_base
        if backoff_cap is not None:
            self.backoff_cap = backoff_cap
        self._key = settings.api_key()
        self._openai = openai.AsyncOpenAI(base_url=settings.base_url, api_key=self._key, timeout=settings.timeout,
                                          max_retries=0, http_client=_http_client(settings.timeout))
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._rng = random.Random(seed)
        self.send_response_format = settings.structured_output != "none"
        self.requests_sent = 0
        self.retries = 0
        self.faults: Counter[str] = Counter()
        self.spent = Usage()  # every token a reply reported, parseable or not
        self.budget_exhausted = False

    async def close(self) -> None:
        await self._openai.close()

    async def complete(self, messages: list[dict], response_format: dict | None = None) -> tuple[str, Usage]:
        """The reply text and the tokens it cost (all attempts), or :class:`JudgeRequestError`."""
        return await self.request(messages, response_format, _identity)

    async def request(self, messages: list[dict], response_format: dict | None,
                      parse: Callable[[str], T]) -> tuple[T, Usage]:
        """Like :meth:`complete`, but *parse* the reply; a ``ValueError`` from it is retried as ``unparseable``."""
        spent = Usage()
        attempt = 0
        while True:
            try:
                if self._over_budget():
                    raise _Fault("budget", BUDGET_REACHED, retryable=False)
                async with self._semaphore:
                    if self._over_budget():  # the budget may have run out while we queued
                        raise _Fault("budget", BUDGET_REACHED, retryable=False)
                    content, usage = await self._attempt(messages, response_format)
                spent += usage
                try:
                    return parse(content), spent
                except ValueError as exc:
                    raise _Fault("unparseable", f"{self._scrub(str(exc))} (reply: {self._scrub(content)[:200]!r})") from None
            except _Fault as fault:
                self.faults[fault.kind] += 1
                spent += fault.usage
                if fault.free:
                    continue
                if not fault.retryable or attempt >= self.settings.max_retries:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise JudgeRequestError(fault.kind, fault.message + tries, spent) from None
                attempt += 1
                self.retries += 1
                delay = fault.retry_after if fault.retry_after is not None else self._backoff(attempt)
                log.debug("judge retry %d in %.2fs after %s: %s", attempt, delay, fault.kind, fault.message)
                await asyncio.sleep(delay)

    # -- one HTTP attempt -------------------------------------------------------------------------------------
    async def _attempt(self, messages: list[dict], response_format: dict | None) -> tuple[str, Usage]:
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "max_tokens": self.settings.max_tokens,
            "temperature": self.settings.temperature,
        }
        sent_format = bool(response_format) and self.send_response_format
        if sent_format:
            kwargs["response_format"] = response_format
        self.requests_sent += 1
        try:
            # client.post (the SDK's documented route for raw requests) rather than chat.completions.create:
            # create() walks every request through its TypedDict transform, ~2 ms CPU per judge request (the
            # messages and JSON schema are plain JSON already) - a third of the runner's CPU at concurrency 64.
            # cast_to=object: the reply stays the parsed JSON; building the ChatCompletion model for the two
            # fields we read cost another ~1 ms per verdict, and _content checks every field anyway.
            completion = await self._openai.post("/chat/completions", body=kwargs, cast_to=object)
        except openai.APIStatusError as exc:
            raise self._status_fault(exc, sent_format) from None
        except openai.APITimeoutError as exc:  # before APIConnectionError: it is a subclass
            if not _timed_out(exc):  # the aiohttp transport reports a dropped connection as a connect timeout
                raise _Fault("connection", self._scrub(f"{exc} ({_root(exc)!r})")) from None
            raise _Fault("timeout", f"no reply within {self.settings.timeout:g}s") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__  # e.g. httpx RemoteProtocolError: the useful part
            detail = f"{exc} ({type(cause).__name__}: {cause})" if cause else str(exc)
            raise _Fault("connection", self._scrub(detail)) from None
        except (json.JSONDecodeError, UnicodeDecodeError, openai.APIResponseValidationError) as exc:
            raise _Fault("malformed", f"reply body is not a chat completion: {self._scrub(str(exc))}") from None
        return self._content(completion)

    def _content(self, completion: Any) -> tuple[str, Usage]:
        """Reply text and usage. The SDK does not validate a 200 body, so every field is checked here."""
        reply = completion if isinstance(completion, dict) else {}
        usage_obj = reply.get("usage")
        usage = Usage(_count(usage_obj, "prompt_tokens"), _count(usage_obj, "completion_tokens"))
        self.spent += usage
        choices = reply.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            raise _Fault("malformed", f"reply has no choices[0].message: {self._scrub(repr(completion))[:200]}",
                         usage=usage)
        content = message.get("content")
        return (content if isinstance(content, str) else "" if content is None else str(content)), usage

    def _status_fault(self, exc: openai.APIStatusError, sent_format: bool) -> _Fault:
        status = exc.status_code
        text = self._scrub(f"{exc} {json.dumps(exc.body, default=str) if exc.body is not None else ''}")[:500]
        if (status == 400 and sent_format and self.settings.structured_output == "auto"
                and any(word in text.lower() for word in _FORMAT_WORDS)):
            if self.send_response_format:
                self.send_response_format = False
                log.warning("judge server rejected response_format (%s); continuing without structured output",
                            text[:200])
            return _Fault("response_format_rejected", text, free=True)
        retry_after = retry_after_seconds(exc.response.headers, self.retry_after_cap) \
            if status in _RETRY_AFTER_STATUS else None
        if status in _RETRYABLE_STATUS:
            return _Fault(_RETRYABLE_STATUS[status], text, retry_after=retry_after)
        if status >= 500:
            return _Fault("server_error", text, retry_after=retry_after)
        return _Fault(f"http_{status}", text, retryable=False)

    # -- helpers ----------------------------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""
        return self._rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def _over_budget(self) -> bool:
        budget = self.settings.token_budget
        if budget is not None and self.spent.prompt_tokens + self.spent.completion_tokens >= budget:
            self.budget_exhausted = True
        return self.budget_exhausted

    def _scrub(self, text: str) -> str:
        """Servers sometimes echo the key in an error message (e.g. a 401): never pass it on."""
        if self._key and self._key != NO_KEY and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text
