"""Judge many items: cache first, the rest concurrently, every failure a ``judge_error`` (never ``incorrect``).

This is the one entry point every harness adapter uses, so retries, the cache, the token budget and the
end-of-run summary behave the same whichever way the judge is reached.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tqdm import tqdm

from . import modes
from .cache import VerdictCache, claim_owner
from .client import BUDGET_REACHED, JudgeClient, JudgeRequestError
from .settings import JudgeSettings
from .types import JudgeItem, Usage, Verdict

log = logging.getLogger("medxpert_ext.judge")

# A claim on an item lives this long unless its owner renews it (every third of it while the run goes on): a
# process killed mid-request holds its items back from the others for at most this long.
CLAIM_LEASE = 30.0
CLAIM_POLL = 0.2  # seconds between looks at an item another process is judging


@dataclass
class RunReport:
    """What a judge run produced and cost. ``verdicts`` is aligned with the input items."""

    verdicts: list[Verdict]
    usage_by_task: dict[str, Usage]  # tokens actually spent this run (cached verdicts cost 0)
    usage_total: Usage
    requests_sent: int  # HTTP attempts, including retries
    cached: int  # items answered from the cache
    errors: int  # judge_error verdicts
    retries: int
    faults: dict[str, int] = field(default_factory=dict)  # by kind
    budget_exhausted: bool = False
    wall_seconds: float = 0.0

    def __repr__(self) -> str:  # the verdict list would drown everything else
        return (f"RunReport(items={len(self.verdicts)}, cached={self.cached}, errors={self.errors}, "
                f"requests_sent={self.requests_sent}, retries={self.retries}, faults={self.faults}, "
                f"usage_total={self.usage_total}, budget_exhausted={self.budget_exhausted}, "
                f"wall_seconds={self.wall_seconds:.2f})")


def judge_items(items: Sequence[JudgeItem], settings: JudgeSettings, *, progress: bool = True,
                cache: VerdictCache | None = None) -> RunReport:
    """Judge *items* (blocking). Opens the settings' cache unless *cache* is given.

    Runs its own event loop. Called from a thread that already runs one (a notebook, an async harness), it
    runs the loop in a worker thread instead and blocks the caller until done.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_judge(items, settings, progress, cache))
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="medxpert-judge") as pool:
        return pool.submit(asyncio.run, _judge(items, settings, progress, cache)).result()


async def _judge(items: Sequence[JudgeItem], settings: JudgeSettings, progress: bool,
                 cache: VerdictCache | None) -> RunReport:
    started = time.monotonic()
    own_cache = cache is None
    if cache is None:
        cache = VerdictCache(settings.resolved_cache_path())
    verdicts: list[Verdict | None] = [None] * len(items)
    pending: dict[str, list[int]] = defaultdict(list)  # duplicates of one item are judged once
    try:
        for i, item in enumerate(items):
            key = VerdictCache.key(settings.model, modes.prompt_version(item.mode), item)
            hit = cache.get(key) if key not in pending else None
            if hit is not None:
                verdicts[i] = hit
            else:
                pending[key].append(i)
        n_cached = len(items) - sum(len(v) for v in pending.values())
        from_others = 0  # verdicts another process sharing the cache paid for while we waited
        usage_by_task: dict[str, Usage] = defaultdict(Usage)
        client = JudgeClient(settings)
        owner = claim_owner()
        slots = asyncio.Semaphore(settings.concurrency)
        bar = tqdm(total=len(items), initial=n_cached, desc="judge", unit="item", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
        heartbeat = asyncio.create_task(_renew_claims(cache, owner))
        try:
            async def one(key: str, indices: list[int]) -> None:
                nonlocal from_others
                item = items[indices[0]]
                while True:
                    async with slots:  # claim only when a request slot is free, so processes share the work
                        got = _claim(cache, key, owner)
                        if got is True:
                            try:
                                verdict = await _judge_one(client, cache, key, item, settings)
                            finally:
                                _release(cache, key, owner)
                            usage_by_task[item.task] += verdict.usage
                            break
                    if got is not False:  # another process stored the verdict meanwhile: it is paid for
                        verdict = got
                        from_others += len(indices)
                        break
                    await asyncio.sleep(CLAIM_POLL * (0.5 + random.random()))
                verdicts[indices[0]] = verdict
                for i in indices[1:]:  # copies of one item: its tokens are counted once
                    verdicts[i] = replace(verdict, usage=Usage())
                bar.update(len(indices))

            await asyncio.gather(*(one(key, indices) for key, indices in pending.items()))
        finally:
            heartbeat.cancel()
            bar.close()
            await client.close()
    finally:
        if own_cache:
            cache.close()

    final = [v for v in verdicts if v is not None]
    assert len(final) == len(items)
    faults = dict(client.faults)
    report = RunReport(
        verdicts=final,
        usage_by_task=dict(usage_by_task),
        usage_total=sum(usage_by_task.values(), Usage()),
        requests_sent=client.requests_sent,
        cached=n_cached + from_others,
        errors=sum(v.status == "judge_error" for v in final),
        retries=client.retries,
        faults=faults,
        budget_exhausted=client.budget_exhausted,
        wall_seconds=time.monotonic() - started,
    )
    _log_summary(report, settings, cache.path)
    return report


def _claim(cache: VerdictCache, key: str, owner: str) -> Verdict | bool:
    try:
        return cache.claim(key, owner, CLAIM_LEASE)
    except sqlite3.Error as exc:  # a cache we cannot lock must not stop the run: judge without the claim
        log.warning("judge: could not claim %s in the cache (%s); judging it anyway", key[:12], exc)
        return True


def _release(cache: VerdictCache, key: str, owner: str) -> None:
    try:
        cache.release(key, owner)
    except sqlite3.Error as exc:  # the lease expires on its own
        log.warning("judge: could not release the claim on %s (%s)", key[:12], exc)


async def _renew_claims(cache: VerdictCache, owner: str) -> None:
    """Keep this process's claims alive while its requests are in flight (retries can outlast one lease)."""
    while True:
        await asyncio.sleep(CLAIM_LEASE / 3)
        try:
            cache.renew(owner, CLAIM_LEASE)
        except sqlite3.Error as exc:
            log.warning("judge: could not renew claims (%s)", exc)


async def _judge_one(client: JudgeClient, cache: VerdictCache, key: str, item: JudgeItem,
                     settings: JudgeSettings) -> Verdict:
    """One item to a verdict; a failure of any kind becomes ``judge_error`` with the reason."""
    try:
        messages, schema = modes.build_messages(item), modes.response_format(item)
    except (ValueError, KeyError) as exc:  # unknown mode, statements item without statements: nothing to send
        client.faults["invalid_item"] += 1
        return Verdict(status="judge_error", error=f"invalid_item: {exc}")
    try:
        verdict, usage = await client.request(messages, schema, lambda text: modes.parse_verdict(item, text))
    except JudgeRequestError as exc:
        error = BUDGET_REACHED if exc.kind == "budget" else str(exc)
        log.debug("judge_error for %s/%s: %s", item.task, item.sample_id, error)
        return Verdict(status="judge_error", error=error, usage=exc.usage)
    except Exception as exc:  # a bug must not turn into a score: report it, keep the run going
        log.exception("judge: unexpected error on %s/%s", item.task, item.sample_id)
        client.faults["internal"] += 1
        return Verdict(status="judge_error", error=f"internal: {type(exc).__name__}: {exc}")
    verdict = replace(verdict, usage=usage, cached=False)
    try:
        cache.put(key, item, verdict, judge_model=settings.model, prompt_version=modes.prompt_version(item.mode))
    except sqlite3.Error as exc:  # disk full, lock held > busy_timeout: keep the verdict, lose only its caching
        client.faults["cache_write"] += 1
        log.warning("judge: could not cache the verdict of %s/%s: %s", item.task, item.sample_id, exc)
    return verdict


def _log_summary(report: RunReport, settings: JudgeSettings, cache_path: object) -> None:
    total = report.usage_total
    log.info(
        "judge %s: %d items, %d cached, %d judged, %d errors; %d requests (%d retries); "
        "%d prompt + %d completion tokens; %.1fs",
        settings.model, len(report.verdicts), report.cached, len(report.verdicts) - report.cached - report.errors,
        report.errors, report.requests_sent, report.retries, total.prompt_tokens, total.completion_tokens,
        report.wall_seconds,
    )
    if report.errors:
        kinds = ", ".join(f"{k}={v}" for k, v in Counter(report.faults).most_common()) or "none"
        budget = " (token budget reached)" if report.budget_exhausted else ""
        log.warning(
            "judge: %d of %d items failed%s (faults: %s); rerun the same command to retry them; "
            "verdicts already received are cached in %s",
            report.errors, len(report.verdicts), budget, kinds, cache_path,
        )
