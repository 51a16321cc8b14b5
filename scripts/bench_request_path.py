"""The pack's lm-eval request path against a raw 64-thread client, measured AT THE SERVER.

    python scripts/bench_request_path.py [--latency 0.2] [--which text,images] [--pack DIR] [--repeat 1]

The scripted server (tests/scripted_server.py, fixed latency per request, constant reply, bodies not kept) runs in
this process; the clients run in subprocesses:

* pack: ``medxpert lm-eval --model local-chat-completions ... num_concurrent=64`` on
  - text: MedQA's 1,273 questions (``medbench_medqa``) from ../shared/data (skipped when absent);
  - images: a VQA-RAD-sized synthetic set (451 questions, distinct 448 px JPEGs of ~100 KB: smooth gradient +
    grain, so a PNG re-encoding costs what it costs on real scans), ``medvqa_vqarad_closed,medvqa_vqarad_open``.
* raw: 64 threads with one ``requests.Session`` each posting the same prompts (the pack's own prompt functions),
  the images as the files' own bytes in base64 ``data:`` URLs, the same max_tokens.

Figures per run: the server's busy window (first request in -> last reply out) and its ratio to the raw client's,
the ideal window (ceil(n / 64) x latency), spawn -> first request, the client's peak RSS (os.wait4), and the
server's CPU use over the window (this process does nothing else), to show it is not the bottleneck.
``--pack DIR`` runs the pack's client from another checkout (e.g. a ``git archive`` of the base commit) for
before/after figures on the same machine in the same session.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.scripted_server import ScriptedServer  # noqa: E402

SHARED = next((p for p in (REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data") if p.is_dir()),
              REPO.parent / "shared" / "data")
CONCURRENCY = 64

RAW_CLIENT = textwrap.dedent(
    """
    import json, sys, threading, time
    from concurrent.futures import ThreadPoolExecutor
    import requests
    url, bodies_file, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bodies = [line for line in open(bodies_file, "rb")]
    local = threading.local()
    def post(body):
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        r = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=600)
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        replies = list(pool.map(post, bodies))
    print(len(replies), time.perf_counter() - started)
    """
)


def write_vqarad(root: Path, n: int = 451, side: int = 448) -> None:
    """VQA-RAD-sized synthetic set in the canonical layout, every image a distinct JPEG."""
    from PIL import Image

    from medxpert_ext.vqa_prepare import write_checksums

    folder = root / "vqa" / "vqarad"
    (folder / "images").mkdir(parents=True)
    rng = random.Random(0)
    with open(folder / "test.jsonl", "w") as fh:
        for i in range(n):
            base = Image.linear_gradient("L").resize((side, side)).rotate(rng.uniform(0, 360))
            grain = Image.effect_noise((side, side), 10 + rng.random() * 10)
            img = Image.merge("RGB", (Image.blend(base, grain, 0.3), grain, base))
            name = f"vqarad-{i:04d}.jpg"
            img.save(folder / "images" / name, format="JPEG", quality=90)
            closed = i % 2 == 0
            fh.write(json.dumps({"id": f"vqarad-{i}", "question": "Is there an effusion?" if closed else "What organ is shown?",
                                 "answer": "yes" if closed else "lung", "answer_type": "closed" if closed else "open",
                                 "image": name}) + "\n")  # fmt: skip
    write_checksums(folder)


def raw_bodies(kind: str, data_dir: Path, tasks: tuple[str, ...] = ("medbench_medqa",)) -> list[bytes]:
    """What a raw client sends for the same questions: the pack's prompts, original image bytes (``tasks``: the
    multiple-choice tasks of a text run)."""
    from medxpert_ext.benchmarks import task
    from medxpert_ext.data import load_vqa_docs
    from medxpert_ext.prompts import IMAGE_PLACEHOLDER, mcq_prompt, vqa_prompt

    bodies = []
    if kind == "text":
        for doc in (doc for name in tasks for doc in task(name).load(data_dir)):
            messages = [{"role": "user", "content": mcq_prompt(doc)}]
            bodies.append({"model": "scripted", "messages": messages, "max_tokens": 4096, "temperature": 0.0})
    else:
        for doc in load_vqa_docs("vqarad", data_dir):
            (path,) = doc["images"]
            url = "data:image/jpeg;base64," + base64.b64encode(Path(path).read_bytes()).decode()
            text = vqa_prompt(doc).replace(IMAGE_PLACEHOLDER + "\n", "")
            content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]
            messages = [{"role": "user", "content": content}]
            bodies.append({"model": "scripted", "messages": messages, "max_tokens": 1024, "temperature": 0.0})
    return [json.dumps(b).encode() + b"\n" for b in bodies]


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_client(server: ScriptedServer, cmd: list[str], env: dict, cwd: str | Path) -> dict:
    """Spawn ``cmd`` in ``cwd`` and time it at the server; peak RSS from wait4 (per child, not a running max).

    ``python -m`` puts the working directory first on ``sys.path``, ahead of PYTHONPATH: the pack's client must
    run from its own checkout, or a ``--pack`` of another checkout silently runs this one."""
    server.reset()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errf)
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            errf.seek(0)
            raise SystemExit(f"client failed ({proc.returncode}): {' '.join(cmd[:8])} ...\n{errf.read().decode()[-3000:]}")
    return {"n": server.count, "window": server.busy_window, "first": server.first_request_at - t0, "wall": wall,
            "server_cpu": cpu_seconds() - cpu0, "rss_mib": ru.ru_maxrss / 1024}  # fmt: skip


def pack_cmd(kind: str, server: ScriptedServer, data_dir: Path, out: Path) -> list[str]:
    model_args = (f"model=scripted,base_url={server.chat_url},num_concurrent={CONCURRENCY},max_retries=1,"
                  "tokenized_requests=False")  # fmt: skip
    tasks = "medbench_medqa"
    if kind == "images":
        model_args += ",max_images=1"
        tasks = "medvqa_vqarad_closed,medvqa_vqarad_open"
    return [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
            "--model_args", model_args, "--apply_chat_template", "--tasks", tasks,
            "--metadata", json.dumps({"data_dir": str(data_dir)}), "--output_path", str(out)]  # fmt: skip


def show(label: str, fig: dict, ideal: float, raw: dict | None) -> None:
    ratio = f"{fig['window'] / raw['window']:.3f}x raw" if raw else "(raw)"
    print(f"  {label:<14} n={fig['n']:>5}  window {fig['window']:6.2f}s = {ratio:<11} ({fig['window'] / ideal:.3f}x ideal)"
          f"  spawn->first request {fig['first']:5.2f}s  wall {fig['wall']:6.2f}s  peak RSS {fig['rss_mib']:5.0f} MiB"
          f"  server CPU {fig['server_cpu'] / fig['window'] * 100:4.0f}% of a core")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--which", default="text,images")
    ap.add_argument("--pack", action="append", default=[], metavar="DIR",
                    help="pack checkout(s) to run the lm-eval client from (default: this one); label=DIR allowed")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    packs = [p.split("=", 1) if "=" in p else (Path(p).name, p) for p in args.pack] or [("pack", str(REPO))]

    replies = {"text": "The answer is (A).", "images": "yes"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for kind in args.which.split(","):
            if kind == "text":
                data_dir = SHARED
                if not (SHARED / "medbench" / "medqa_test.jsonl").is_file():
                    print("text: ../shared/data/medbench/medqa_test.jsonl absent, skipped")
                    continue
            else:
                data_dir = tmp / "vqa_data"
                write_vqarad(data_dir)
            bodies_file = tmp / f"{kind}.jsonl"
            bodies = raw_bodies(kind, data_dir)
            bodies_file.write_bytes(b"".join(bodies))
            n = len(bodies)
            ideal = math.ceil(n / CONCURRENCY) * args.latency
            print(f"{kind}: {n} requests, latency {args.latency}s, concurrency {CONCURRENCY}, ideal window {ideal:.2f}s, "
                  f"raw body {sum(map(len, bodies)) / n / 1024:.1f} KiB avg")  # fmt: skip
            with ScriptedServer(lambda body, r=replies[kind]: r, latency=args.latency) as server:
                for rep in range(args.repeat):
                    raw = run_client(server, [sys.executable, "-c", RAW_CLIENT, server.chat_url, str(bodies_file),
                                              str(CONCURRENCY)],
                                     dict(os.environ), tmp)  # fmt: skip
                    show("raw", raw, ideal, None)
                    for label, pack in packs:
                        env = dict(os.environ, PYTHONPATH=pack)
                        fig = run_client(server, pack_cmd(kind, server, data_dir, tmp / f"out-{label}-{rep}"), env, pack)
                        if fig["n"] != n:
                            raise SystemExit(f"{label}: server saw {fig['n']} requests, expected {n}")
                        show(label, fig, ideal, raw)
            print(f"  server process peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
