"""Orchestration overhead: medxpert_mm (2,000 questions, placeholder images) through `medxpert lm-eval` +
local-chat-completions against the scripted server with a fixed per-request latency.

    python scripts/bench_orchestration.py [--latency 0.2] [--concurrency 64] [--data ../shared/data]

Prints the wall time of the whole run, of the request phase (first request in to last reply out, as the server
saw it), and both as a ratio to the ideal n / concurrency x latency.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import make_placeholder_images, read_jsonl  # noqa: E402
from tests.mcq_script import McqScript, items_from_rows, style_by_hash  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        (root / "medxpertqa").mkdir(parents=True)
        (root / "medxpertqa" / "mm_test.jsonl").symlink_to(args.data.resolve() / "medxpertqa" / "mm_test.jsonl")
        (root / "medxpertqa" / "mm_sampled.jsonl").symlink_to(args.data.resolve() / "medxpertqa" / "mm_sampled.jsonl")
        make_placeholder_images(root)
        rows = read_jsonl(root / "medxpertqa" / "mm_test.jsonl")
        script = McqScript(items_from_rows(rows), style_by_hash, max_images=6)
        stamps: list[float] = []
        lock = threading.Lock()

        def timed(body):
            with lock:
                stamps.append(time.perf_counter())
            return script(body)

        with ScriptedServer(timed, latency=args.latency) as server:
            model_args = (f"model=scripted,base_url={server.chat_url},num_concurrent={args.concurrency},"
                          "max_retries=1,tokenized_requests=False,max_images=6")  # fmt: skip
            cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
                   "--model_args", model_args, "--apply_chat_template", "--tasks", "medxpert_mm",
                   "--metadata", json.dumps({"data_dir": str(root)}), "--output_path", str(Path(tmp) / "out")]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode:
                sys.exit(proc.stderr[-3000:])
        n = server.count
        request_phase = (max(stamps) + args.latency) - min(stamps)
        ideal = n / args.concurrency * args.latency
        print(f"requests: {n}  latency: {args.latency}s  concurrency: {args.concurrency}")
        print(f"ideal (n/concurrency x latency): {ideal:.2f}s")
        print(f"request phase: {request_phase:.2f}s  ratio {request_phase / ideal:.2f}")
        print(f"whole run (process start to exit, incl. imports, data, images): {wall:.2f}s  ratio {wall / ideal:.2f}")
        print(f"image mismatches seen by the server: {script.image_mismatches}")


if __name__ == "__main__":
    main()
