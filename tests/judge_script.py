"""A scripted LLM judge for tests: deterministic verdicts, token counts and faults per sample id.

Each generated item's response carries a ``[sid:<sample id>]`` tag; the responder finds it in the judge's user
message, so it knows which item a request is about without trusting request order. What each item's verdict
must be (``expected_status``), what it costs (``usage_for``) and which faults it meets on which attempt
(``FaultPlan``) are all functions of the sample id, so a test can count the expected outcome independently of
the code under test.

Also a worker entry point, used by the kill -9 test to run a judge job in a subprocess::

    python -m tests.judge_script --base-url URL --cache PATH --n 400 --concurrency 8
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from medxpert_ext.judge.types import JudgeItem  # noqa: E402
from tests.scripted_server import Reply, user_text  # noqa: E402

SID_RE = re.compile(r"\[sid:([^\]\s]+)\]")
LETTERS = "ABCDE"
UNPARSEABLE_USAGE = {"prompt_tokens": 50, "completion_tokens": 5}


def _h(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def expected_status(sid: str) -> str:
    """The scripted verdict of an item: about 60 % correct."""
    return "correct" if _h("status", sid) % 10 < 6 else "incorrect"


def usage_for(sid: str) -> dict[str, int]:
    """Exact token counts the scripted judge reports for the item's (valid) verdict."""
    return {"prompt_tokens": 300 + _h("p", sid) % 97, "completion_tokens": 40 + _h("c", sid) % 13}


def make_items(n: int, task: str = "medxpertqa_text", *, prefix: str = "q") -> list[JudgeItem]:
    items = []
    for i in range(n):
        sid = f"{prefix}{i:05d}"
        gold = LETTERS[_h("gold", sid) % 5]
        answer = gold if expected_status(sid) == "correct" else LETTERS[(LETTERS.index(gold) + 1) % 5]
        items.append(JudgeItem(
            task=task, sample_id=sid, mode="exact",
            question=f"Question {sid}: which option fits best?\nAnswer Choices: (A) a (B) b (C) c (D) d (E) e",
            response=f"[sid:{sid}] Weighing the findings, the answer is ({answer}).",
            gold=gold,
        ))
    return items


def sid_of(body: dict) -> str:
    found = SID_RE.findall(user_text(body))
    if len(set(found)) != 1:
        raise ValueError(f"expected one [sid:..] tag in the judge prompt, found {found}")
    return found[0]


def verdict_json(sid: str) -> str:
    correct = expected_status(sid) == "correct"
    return json.dumps({
        "extracted_final_answer": "C",
        "reasoning": f"scripted verdict for {sid}",
        "correct": "yes" if correct else "no",
        "confidence": 85,
    })


# fault name -> (the client's fault kind, reply); {timeout} is filled by FaultPlan
FAULTS: dict[str, tuple[str, Callable[[float], Reply]]] = {
    "429_ra0": ("rate_limited", lambda t: Reply(status=429, headers={"Retry-After": "0"})),
    "429_ra1": ("rate_limited", lambda t: Reply(status=429, headers={"Retry-After": "1"})),
    "500": ("server_error", lambda t: Reply(status=500)),
    "503": ("server_error", lambda t: Reply(status=503)),
    "timeout": ("timeout", lambda t: Reply(content='{"correct": "no"}', delay=t)),
    "malformed": ("malformed", lambda t: Reply(body='{"id": "chatcmpl-x", "choices": [{"message": ')),
    "truncated": ("connection", lambda t: Reply(body='{"id": "chatcmpl-x", "choices": [',
                                                headers={"Content-Length": "4096"})),
    "drop": ("connection", lambda t: Reply(drop=True)),
    "no_choices": ("malformed", lambda t: Reply(body='{"id": "chatcmpl-x", "object": "chat.completion", '
                                                    '"created": 0, "model": "m", "choices": []}')),
    "unparseable": ("unparseable", lambda t: Reply(content="Hmm, the response looks reasonable to me.",
                                                   usage=dict(UNPARSEABLE_USAGE))),
}


class FaultPlan:
    """Which attempts of which item fail, and how. Deterministic in (seed, sample id).

    By default 65 % of items meet no fault, ~25 % one, ~10 % two (then succeed): ~31 % of requests are faults.
    *permanent* items fail every attempt with the *permanent_fault*.
    """

    def __init__(self, seed: int = 0, *, timeout_delay: float = 1.0, kinds: tuple[str, ...] = tuple(FAULTS),
                 faulty_share: float = 0.35, permanent: set[str] = frozenset(), permanent_fault: str = "500"):
        self.seed, self.timeout_delay, self.kinds, self.faulty_share = seed, timeout_delay, kinds, faulty_share
        self.permanent, self.permanent_fault = set(permanent), permanent_fault

    def faults_of(self, sid: str) -> list[str]:
        """The fault names the item meets before its verdict (one or two for ``faulty_share`` of the items)."""
        rng = random.Random(_h(self.seed, sid))
        roll = rng.random()
        k = 0 if roll >= self.faulty_share else 2 if roll < self.faulty_share * 0.3 else 1
        return [rng.choice(self.kinds) for _ in range(k)]

    def __call__(self, sid: str, attempt: int) -> tuple[str, Reply] | None:
        if sid in self.permanent:
            name = self.permanent_fault
        else:
            planned = self.faults_of(sid)
            if attempt >= len(planned):
                return None
            name = planned[attempt]
        return name, FAULTS[name][1](self.timeout_delay)


class JudgeScript:
    """Server responder: the item's scripted verdict, after the faults its plan asks for.

    Records per sample id the attempts seen and the fault names served (``served``), thread-safely.
    """

    def __init__(self, plan: FaultPlan | None = None, *, work: float = 0.0):
        self.plan = plan
        self.work = work  # seconds spent inside the responder (lets tests count requests in flight)
        self.attempts: Counter[str] = Counter()
        self.served: list[tuple[str, str]] = []  # (sid, fault name or "ok")
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> Reply:
        sid = sid_of(body)
        with self._lock:
            attempt = self.attempts[sid]
            self.attempts[sid] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.work:
                threading.Event().wait(self.work)
            fault = self.plan(sid, attempt) if self.plan else None
            name, reply = fault if fault else ("ok", Reply(content=verdict_json(sid), usage=usage_for(sid)))
            with self._lock:
                self.served.append((sid, name))
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1


def main(argv: list[str] | None = None) -> None:
    """Judge ``make_items(n)`` against a judge server into a cache file (the kill -9 test's subprocess)."""
    from medxpert_ext.judge.cache import VerdictCache
    from medxpert_ext.judge.runner import judge_items
    from medxpert_ext.judge.settings import JudgeSettings

    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args(argv)
    settings = JudgeSettings(base_url=args.base_url, model="judge-model", concurrency=args.concurrency,
                             timeout=10.0, max_retries=2, cache_path=args.cache)
    with VerdictCache(args.cache) as cache:
        report = judge_items(make_items(args.n), settings, progress=False, cache=cache)
    print(json.dumps({"requests_sent": report.requests_sent, "cached": report.cached, "errors": report.errors}))


if __name__ == "__main__":
    main()
