"""The same evaluation through OpenCompass, through lm-eval and from a raw client, against the scripted endpoint.

Both harnesses run the pack's tasks (default: medbench_medqa, 1,273 questions, and medxpert_text_sampled, 244) on
the real ../shared/data files against one scripted OpenAI-compatible server with a fixed latency, at the same
concurrency, and get the same replies; a raw client (threads posting the pack's prompts, as in
bench_request_path.py) sends the same number of requests. OpenCompass' model is what ``models_from_profile``
writes for a profile with ``num_concurrent`` = ``--concurrency`` (``--qps`` overrides its ``query_per_second``).

Reported per client: wall time, the request phase at the server (first request in -> last reply out) and its ratio
to the raw client's, and where the server sat idle inside that phase: gaps longer than a second (OpenCompass
starting another infer subprocess, building the next dataset) and shorter ones (a harness between two batches);
and the mean number of requests in flight, which shows what never leaves a gap (a rate limiter, client CPU per
request). Plus OpenCompass' own ``time elapsed`` per infer / eval subprocess.

    python scripts/bench_opencompass.py [--latency 0.1] [--concurrency 32] [--tasks medbench_medqa,medxpert_text_sampled]
                                        [--qps N] [--batch-size N] [--clients raw,lm-eval,opencompass] [--images]

``--images``: the VQA-RAD-sized synthetic set of bench_request_path.py (451 questions, distinct ~100 KB JPEGs)
instead, every client sending the images as the files' own bytes, every reply "yes".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.bench_request_path import RAW_CLIENT, raw_bodies, write_vqarad  # noqa: E402
from tests.helpers import SHARED_DATA, read_jsonl  # noqa: E402
from tests.mcq_script import McqScript, items_from_rows, style_by_hash  # noqa: E402
from tests.opencompass_helpers import tokenizer_dir, write_config  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402

MODULE_OF = {"medbench_medqa": "medbench_gen", "medbench_medmcqa": "medbench_gen", "medxpert_text_sampled": "medxpert_sampled_gen",
             "medvqa_vqarad_closed": "medvqa_gen", "medvqa_vqarad_open": "medvqa_gen"}  # fmt: skip
IMAGE_TASKS = "medvqa_vqarad_closed,medvqa_vqarad_open"


class Arrivals:
    """Wraps a responder and records when each request arrived (the server sleeps ``latency`` before replying)."""

    def __init__(self, responder):
        self.responder, self.times, self._lock = responder, [], threading.Lock()

    def __call__(self, body):
        with self._lock:
            self.times.append(time.monotonic())
        return self.responder(body)


def idle_gaps(arrivals: list[float], latency: float) -> dict[str, float]:
    """Idle time at the server inside the request phase: stretches with no request in flight (each request is in
    flight from its arrival for ``latency`` seconds), split at one second; and the mean number of requests in
    flight (the concurrency the client really reached)."""
    long_s = short_s = 0.0
    n_long = n_short = 0
    busy_until = None
    for t in sorted(arrivals):
        if busy_until is not None and t > busy_until:
            gap = t - busy_until
            if gap > 1.0:
                long_s, n_long = long_s + gap, n_long + 1
            else:
                short_s, n_short = short_s + gap, n_short + 1
        busy_until = max(busy_until or t, t + latency)
    window = max(arrivals) + latency - min(arrivals) if arrivals else 0.0
    return {"mean_in_flight": round(len(arrivals) * latency / window, 1) if window else 0.0,
            "idle_over_1s": round(long_s, 2), "gaps_over_1s": n_long, "idle_under_1s": round(short_s, 2),
            "gaps_under_1s": n_short}  # fmt: skip


def opencompass_model(base_url: str, tok: Path, concurrency: int, qps: float | None, batch: int | None) -> dict:
    """What ``models_from_profile`` writes for an endpoint profile at this concurrency (``qps``/``batch``
    override its ``query_per_second``/``batch_size``)."""
    from medxpert_ext.harness.opencompass.models import model_dict
    from medxpert_ext.profiles import ModelProfile

    profile = ModelProfile(name="scripted", backend="local-chat-completions", path="scripted",
                           base_url=base_url + "/chat/completions", tokenizer=str(tok), num_concurrent=concurrency)  # fmt: skip
    model = model_dict(profile)
    if qps is not None:
        model["query_per_second"] = qps
    if batch is not None:
        model["batch_size"] = batch
    return {k: model[k] for k in ("query_per_second", "max_workers", "batch_size")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--tasks", default="medbench_medqa,medxpert_text_sampled")
    ap.add_argument("--qps", type=float, default=None, help="OpenCompass query_per_second (default: the profile's)")
    ap.add_argument("--batch-size", type=int, default=None, help="OpenCompass batch_size (default: the profile's)")
    ap.add_argument("--clients", default="raw,lm-eval,opencompass")
    ap.add_argument("--keep", type=Path, default=None, help="keep the work folders (logs) here")
    ap.add_argument("--images", action="store_true", help=f"run {IMAGE_TASKS} on synthetic JPEGs")
    args = ap.parse_args()
    tasks = (IMAGE_TASKS if args.images else args.tasks).split(",")
    rows = read_jsonl(SHARED_DATA / "medbench" / "medqa_test.jsonl") + read_jsonl(SHARED_DATA / "medxpertqa" / "text_sampled.jsonl")
    rows += read_jsonl(SHARED_DATA / "medbench" / "medmcqa_dev.jsonl")
    script = McqScript(items_from_rows(rows), style_by_hash)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))}
    env |= {"OPENAI_API_KEY": "EMPTY", "HF_HUB_OFFLINE": "1", "MEDXPERT_DATA_DIR": str(SHARED_DATA)}
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        tok = tokenizer_dir(tmp / "tok")
        data_dir = SHARED_DATA
        if args.images:
            data_dir = tmp / "vqa_data"
            if not (data_dir / "vqa").exists():
                write_vqarad(data_dir)
            env["MEDXPERT_DATA_DIR"] = str(data_dir)
        for client in args.clients.split(","):
            arrivals = Arrivals((lambda body: "yes") if args.images else script)
            server = ScriptedServer(arrivals, latency=args.latency).start()
            try:
                t0 = time.monotonic()
                if client == "raw":
                    bodies = tmp / "bodies.jsonl"
                    bodies.write_bytes(b"".join(raw_bodies("images" if args.images else "text", data_dir, tuple(tasks))))
                    cmd = [sys.executable, "-c", RAW_CLIENT, server.chat_url, str(bodies), str(args.concurrency)]
                elif client == "lm-eval":
                    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
                           "--model_args", f"model=scripted,base_url={server.chat_url},num_concurrent={args.concurrency},"
                           "max_retries=1,tokenized_requests=False,max_images=1", "--apply_chat_template", "--tasks", ",".join(tasks),
                           "--output_path", str(tmp / "lm")]  # fmt: skip
                else:
                    modules: dict[str, list[str]] = {}
                    for t in tasks:
                        modules.setdefault(MODULE_OF[t], []).append(t)
                    model = opencompass_model(server.base_url, tok, args.concurrency, args.qps, args.batch_size)
                    cfg = write_config(tmp / "oc.py", modules=modules, base_url=server.base_url, tokenizer=tok,
                                       model_extra=model)  # fmt: skip
                    out[client] = {"model": model}
                    cmd = [sys.executable, "-m", "medxpert_ext.cli", "opencompass", str(cfg), "-w", str(tmp / "oc")]
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
                wall = time.monotonic() - t0
                if proc.returncode != 0:
                    sys.exit(f"{client} failed:\n{proc.stderr[-3000:]}")
                fig = out.setdefault(client, {})
                fig |= {"wall_s": round(wall, 2), "requests": server.count,
                        "request_phase_s": round(server.busy_window, 2),
                        "first_request_after_s": round(server.first_request_at - t0, 2),
                        **idle_gaps(arrivals.times, args.latency)}  # fmt: skip
                if "raw" in out and client != "raw":
                    fig["x_raw"] = round(server.busy_window / out["raw"]["request_phase_s"], 3)
                if client == "opencompass":
                    elapsed = {}
                    for log in (tmp / "oc").rglob("*.out"):
                        m = re.findall(r"time elapsed: ([\d.]+)s", log.read_text(errors="ignore"))
                        if m:
                            elapsed[f"{log.parent.parent.name}/{log.stem}"] = float(m[-1])
                    fig["subprocess_time_elapsed_s"] = elapsed
            finally:
                server.stop()
    n = next(iter(out.values()))["requests"]
    ideal = -(-n // args.concurrency) * args.latency
    print(json.dumps({"latency_s": args.latency, "concurrency": args.concurrency, "tasks": tasks,
                      "ideal_request_phase_s": round(ideal, 2), "load_average": round(os.getloadavg()[0], 1), **out},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
