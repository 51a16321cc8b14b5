"""Judge runner overhead: 2,450 exact-mode verdicts against the scripted judge with a fixed latency.

    python scripts/bench_judge.py [--n 2450] [--concurrency 64] [--latency 0.2]

Prints the wall time of a run on a fresh cache, the ideal n / concurrency x latency and their ratio, then the
wall time and requests sent of the fully cached rerun (must be 0).

"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medxpert_ext.judge.runner import judge_items  # noqa: E402
from medxpert_ext.judge.settings import JudgeSettings  # noqa: E402
from tests.judge_script import JudgeScript, expected_status, make_items  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2450)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    items = make_items(args.n)
    ideal = args.n / args.concurrency * args.latency
    with ScriptedServer(JudgeScript(), latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        settings = JudgeSettings(base_url=server.base_url, model="bench-judge", concurrency=args.concurrency,
                                 cache_path=Path(tmp) / "judge-cache.sqlite")
        started = time.perf_counter()
        report = judge_items(items, settings, progress=args.progress)
        wall = time.perf_counter() - started
        wrong = sum(v.status != expected_status(it.sample_id) for it, v in zip(items, report.verdicts))
        print(f"fresh cache : {args.n} items, concurrency {args.concurrency}, latency {args.latency}s"
              )
        print(f"  wall {wall:.2f}s  ideal {ideal:.2f}s  ratio {wall / ideal:.3f}  "
              f"requests {report.requests_sent} (server saw {server.count})  errors {report.errors}  "
              f"mismatched verdicts {wrong}")

        server.reset()
        started = time.perf_counter()
        rerun = judge_items(items, settings, progress=args.progress)
        wall = time.perf_counter() - started
        print(f"cached rerun: wall {wall:.2f}s  requests sent {rerun.requests_sent} (server saw {server.count})  "
              f"cached {rerun.cached}")
        if wrong or report.errors or rerun.requests_sent or server.count:
            sys.exit(1)


if __name__ == "__main__":
    main()
