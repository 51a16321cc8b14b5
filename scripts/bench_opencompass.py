"""Wall time of the same evaluation through OpenCompass and through lm-eval, against the scripted endpoint.

Both harnesses run the pack's tasks (default: medbench_medqa, 1,273 questions, and medxpert_text_sampled, 244) on
the real ../shared/data files against one scripted OpenAI-compatible server with a fixed latency, at the same
concurrency, and get the same replies. Reported: wall time of each whole command, the request phase as the
server saw it (first request in -> last reply out), and where OpenCompass' extra time goes (its
``time elapsed`` lines per infer / eval subprocess and the partitioning before them).

    python scripts/bench_opencompass.py [--latency 0.1] [--concurrency 32] [--tasks medbench_medqa,medxpert_text_sampled]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import SHARED_DATA, read_jsonl  # noqa: E402
from tests.mcq_script import McqScript, items_from_rows, style_by_hash  # noqa: E402
from tests.opencompass_helpers import tokenizer_dir, write_config  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402

MODULE_OF = {"medbench_medqa": "medbench_gen", "medbench_medmcqa": "medbench_gen", "medxpert_text_sampled": "medxpert_sampled_gen"}


class Timed:
    """Wraps a responder and records when the first request arrived and the last reply left."""

    def __init__(self, responder):
        self.responder, self.first, self.last = responder, None, None

    def __call__(self, body):
        now = time.perf_counter()
        self.first = self.first or now
        try:
            return self.responder(body)
        finally:
            self.last = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--tasks", default="medbench_medqa,medxpert_text_sampled")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    rows = read_jsonl(SHARED_DATA / "medbench" / "medqa_test.jsonl") + read_jsonl(SHARED_DATA / "medxpertqa" / "text_sampled.jsonl")
    rows += read_jsonl(SHARED_DATA / "medbench" / "medmcqa_dev.jsonl")
    script = McqScript(items_from_rows(rows), style_by_hash)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))}
    env |= {"OPENAI_API_KEY": "EMPTY", "HF_HUB_OFFLINE": "1", "MEDXPERT_DATA_DIR": str(SHARED_DATA)}
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tok = tokenizer_dir(tmp / "tok")
        for harness in ("lm-eval", "opencompass"):
            timed = Timed(script)
            server = ScriptedServer(timed, latency=args.latency).start()
            try:
                t0 = time.perf_counter()
                if harness == "lm-eval":
                    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
                           "--model_args", f"model=scripted,base_url={server.chat_url},num_concurrent={args.concurrency},"
                           "max_retries=1,tokenized_requests=False", "--apply_chat_template", "--tasks", ",".join(tasks),
                           "--output_path", str(tmp / "lm")]  # fmt: skip
                else:
                    modules: dict[str, list[str]] = {}
                    for t in tasks:
                        modules.setdefault(MODULE_OF[t], []).append(t)
                    cfg = write_config(tmp / "oc.py", modules=modules, base_url=server.base_url, tokenizer=tok,
                                       model_extra={"max_workers": args.concurrency, "batch_size": args.concurrency,
                                                    "query_per_second": 1000})  # fmt: skip
                    cmd = [sys.executable, "-m", "medxpert_ext.cli", "opencompass", str(cfg), "-w", str(tmp / "oc")]
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    sys.exit(f"{harness} failed:\n{proc.stderr[-3000:]}")
                out[harness] = {"wall_s": round(wall, 2), "requests": server.count,
                                "request_phase_s": round(timed.last - timed.first, 2)}  # fmt: skip
                if harness == "opencompass":
                    elapsed = {}
                    for log in (tmp / "oc").rglob("*.out"):
                        m = re.findall(r"time elapsed: ([\d.]+)s", log.read_text(errors="ignore"))
                        if m:
                            elapsed[f"{log.parent.parent.name}/{log.stem}"] = float(m[-1])
                    out[harness]["subprocess_time_elapsed_s"] = elapsed
            finally:
                server.stop()
    ideal = out["lm-eval"]["requests"] / args.concurrency * args.latency
    print(json.dumps({"latency_s": args.latency, "concurrency": args.concurrency, "tasks": tasks,
                      "ideal_request_phase_s": round(ideal, 2), **out}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
