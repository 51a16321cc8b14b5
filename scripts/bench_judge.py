"""Judge runner overhead: 2,450 exact-mode verdicts against the scripted judge with a fixed latency.

    python scripts/bench_judge.py [--n 2450] [--concurrency 64] [--latency 0.2] [--transport default,httpx]

Prints, per transport, the wall time of a run on a fresh cache, the ideal ceil(n / concurrency) x latency and
their ratio, and the runner's own CPU per verdict; then the cached rerun (must send 0 requests). First, the time a
raw client (threads with one ``requests.Session`` each, as in bench_request_path.py) takes to post the same
request bodies to the same server: the floor this machine allows.

The scripted judge runs in its own process: in the runner's process its threads would share the runner's GIL
and the bench would measure the server's JSON work as the runner's overhead. ``--transport httpx`` forces the
openai SDK's default httpx transport (what the runner used before it took the SDK's aiohttp transport), for
before/after figures in one session.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medxpert_ext.judge import client as judge_client  # noqa: E402
from medxpert_ext.judge.runner import judge_items  # noqa: E402
from medxpert_ext.judge.settings import JudgeSettings  # noqa: E402
from tests.judge_script import expected_status, make_items  # noqa: E402

SERVER = """
import sys, time
sys.path.insert(0, {repo!r})
from tests.judge_script import JudgeScript
from tests.scripted_server import ScriptedServer
server = ScriptedServer(JudgeScript(), latency={latency}).start()
print(server.port, flush=True)
sys.stdin.read()  # until the bench closes our stdin
"""


def run(items, settings, transport: str, progress: bool) -> tuple[float, float, object]:
    saved = judge_client._http_client
    if transport == "httpx":
        judge_client._http_client = lambda timeout: None  # the SDK's default (httpx) client
    try:
        cpu0, started = time.process_time(), time.perf_counter()
        report = judge_items(items, settings, progress=progress)
        return time.perf_counter() - started, time.process_time() - cpu0, report
    finally:
        judge_client._http_client = saved


def raw_seconds(items, port: int, concurrency: int, tmp: Path) -> float:
    """Seconds the raw client's threads take to post the judge's own request bodies for *items*."""
    from medxpert_ext.judge import modes
    from scripts.bench_request_path import RAW_CLIENT

    bodies = tmp / "bodies.jsonl"
    with open(bodies, "w") as fh:
        for item in items:
            body = {"model": "bench-judge", "messages": modes.build_messages(item), "max_tokens": JudgeSettings.model_fields["max_tokens"].default,
                    "temperature": 0.0, "response_format": modes.response_format(item)}  # fmt: skip
            fh.write(json.dumps(body) + "\n")
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    out = subprocess.run([sys.executable, "-c", RAW_CLIENT, url, str(bodies), str(concurrency)], check=True,
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    assert int(out[0]) == len(items), out
    return float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2450)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--transport", default="default", help="comma-separated: default (aiohttp), httpx")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    items = make_items(args.n)
    ideal = math.ceil(args.n / args.concurrency) * args.latency
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(repo=str(REPO), latency=args.latency)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    failed = False
    try:
        port = int(server.stdout.readline())
        print(f"{args.n} items, concurrency {args.concurrency}, latency {args.latency}s, ideal {ideal:.2f}s "
              f"(judge server in its own process)")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            raw = raw_seconds(items, port, args.concurrency, Path(tmp))
        print(f"  raw      {args.concurrency}-thread client, same bodies: {raw:.2f}s  ratio {raw / ideal:.3f}")
        for transport in args.transport.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                settings = JudgeSettings(base_url=f"http://127.0.0.1:{port}/v1", model="bench-judge",
                                         concurrency=args.concurrency, cache_path=Path(tmp) / "judge-cache.sqlite")
                wall, cpu, report = run(items, settings, transport, args.progress)
                wrong = sum(v.status != expected_status(it.sample_id) for it, v in zip(items, report.verdicts))
                print(f"  {transport:<8} fresh cache: wall {wall:.2f}s  ratio {wall / ideal:.3f} ({wall / raw:.3f}x raw)  "
                      f"runner CPU "
                      f"{cpu:.2f}s = {cpu / args.n * 1000:.2f} ms/verdict  requests {report.requests_sent}  "
                      f"errors {report.errors}  mismatched verdicts {wrong}")  # fmt: skip
                wall, _, rerun = run(items, settings, transport, args.progress)
                print(f"  {transport:<8} cached rerun: wall {wall:.2f}s  requests sent {rerun.requests_sent}  "
                      f"cached {rerun.cached}")  # fmt: skip
                failed |= bool(wrong or report.errors or rerun.requests_sent)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
