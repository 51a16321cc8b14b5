"""A persistent verdict cache (SQLite, WAL), so an interrupted or repeated run never pays twice.

Why SQLite in WAL mode with one short transaction per verdict: a ``kill -9`` then loses at most the requests in
flight and never corrupts the file, and several processes (parallel lm-eval tasks, a rerun next to a report
script) can write one cache at once. Only definitive verdicts are stored; a ``judge_error`` is not, so the
next run retries it.

Several processes judging into one cache (the GPU jobs of a sweep) must not pay for one verdict twice, so a
process *claims* an item in the cache before sending it: a row in ``claims`` with an owner and a lease that the
owner renews while its request is in flight. Another process that finds a live claim waits for the verdict
instead of sending; a claim whose owner died (``kill -9``) expires with its lease and is taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from .types import JudgeItem, Verdict

BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    judge_model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    verdict TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
)
"""


def _sha256(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def content_hash(item: JudgeItem) -> str:
    """Hash of everything the judge sees: a changed response, gold, question or option text is judged again."""
    return _sha256({
        "mode": item.mode,
        "question": item.question,
        "response": item.response,
        "gold": item.gold,
        "options": item.options,
        "statements": list(item.statements),
    })


def claim_owner() -> str:
    """A claim owner id: host, process id and a random part (one run in a process is one owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str) -> bool:
    """A claim of a process on this host that no longer runs (killed) is free at once, not after its lease."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def is_definitive(item: JudgeItem, verdict: Verdict) -> bool:
    """Worth keeping: correct / incorrect, or (statements mode) a label for every statement."""
    if verdict.status == "judge_error":
        return False
    if item.mode == "statements":
        return len(verdict.labels) == len(item.statements) and bool(item.statements)
    return verdict.status in ("correct", "incorrect")


class VerdictCache:
    """SQLite verdict store: one connection per object, guarded by a lock (usable from any thread)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, each statement is its own short transaction
        self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._setup()

    def _setup(self) -> None:
        # Switching to WAL needs a moment of exclusive access; with several processes opening a fresh file at
        # once it can report "locked" without waiting on the busy handler, so retry briefly.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: safe against process kills
                self._conn.execute(_SCHEMA)
                self._conn.execute(_CLAIMS)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @staticmethod
    def key(judge_model: str, prompt_version: str, item: JudgeItem) -> str:
        """Cache key: judge model, prompt version, task, sample id and the hash of what is judged."""
        return _sha256([judge_model, prompt_version, item.task, item.sample_id, content_hash(item)])

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            row = self._conn.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data["cached"] = True
        return Verdict.from_json(data)

    def put(self, key: str, item: JudgeItem, verdict: Verdict, *, judge_model: str = "",
            prompt_version: str = "") -> bool:
        """Store a definitive verdict at once (committed before returning); returns whether it was stored.

        *judge_model* / *prompt_version* are informational columns (they are already part of *key*).
        """
        if not is_definitive(item, verdict):
            return False
        data = verdict.to_json()
        data["cached"] = False
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO verdicts (key, task, sample_id, judge_model, prompt_version, verdict,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, item.task, item.sample_id, judge_model, prompt_version, json.dumps(data), time.time()),
            )
        return True

    # ------------------------------------------------------------------------------------ claims between processes
    def claim(self, key: str, owner: str, lease: float) -> Verdict | bool:
        """Take the right to judge *key*: the cached verdict if there is one by now, ``True`` if *owner* holds
        the claim (for *lease* seconds, see :meth:`renew`), ``False`` if another live owner is judging it."""
        hit = self.get(key)
        if hit is not None:
            return hit
        now = time.time()
        with self._lock:
            held = self._conn.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
            if held is not None and held[0] != owner and held[1] > now and not _owner_dead(held[0]):
                return False  # cheap read first: a busy item does not take the write lock
            self._conn.execute("BEGIN IMMEDIATE")  # check and take in one write transaction: one winner
            try:
                if self._conn.execute("SELECT 1 FROM verdicts WHERE key = ?", (key,)).fetchone():
                    won: bool | None = None
                else:
                    held = self._conn.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
                    won = held is None or held[0] == owner or held[1] <= now or _owner_dead(held[0])
                    if won:
                        self._conn.execute("INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                                           (key, owner, now + lease))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if won is None:
            return self.get(key) or False
        return won

    def renew(self, owner: str, lease: float) -> int:
        """Extend every claim *owner* holds by *lease* seconds from now; returns how many it holds."""
        with self._lock:
            cur = self._conn.execute("UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + lease, owner))
        return cur.rowcount

    def release(self, key: str, owner: str) -> None:
        """Give the claim up (after the verdict is stored, or after a judge_error so another process may retry)."""
        with self._lock:
            self._conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
