"""Start-up time of `medxpert lm-eval`: from the command to the first request the model endpoint receives, for
a run of the pack's own tasks (medxpert_text_sampled, bundled data) against the scripted OpenAI-compatible
server; plus the import time of the `medxpert` CLI (`python -X importtime`). Before vs after, same machine, same
run, alternating so machine noise hits both alike.

    python scripts/bench_startup.py [--before f061c8e] [--repeats 3] [--tasks T1,T2 --data-dir ROOT]

"before" is a clean export of that commit (`git archive`) run with the same interpreter; "after" is this tree.
``--tasks``/``--data-dir`` time other tasks on another data root (e.g. ``medxpert_mm_reasoning,
medxpert_mm_understanding`` on a root with MedXpertQA MM and its images, where both subsets read one file).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.scripted_server import ScriptedServer  # noqa: E402

BUNDLED = "medxpert_ext/_data/demo"


def export(commit: str, target: Path) -> Path:
    data = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(target, filter="data")
    return target


def first_request_seconds(tree: Path, server: ScriptedServer, stamps: list[float], out: Path, tasks: str,
                          data_dir: str | None) -> tuple[float, float]:  # fmt: skip
    """(seconds from launch to the first request, whole run) of one `medxpert lm-eval` run from *tree*."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("MEDXPERT_DATA_DIR", None)
    model_args = f"model=scripted,base_url={server.chat_url},num_concurrent=1,max_retries=1,tokenized_requests=False"
    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
           "--model_args", model_args, "--apply_chat_template", "--tasks", tasks, "--limit", "2",
           "--metadata", json.dumps({"data_dir": data_dir or str(tree / BUNDLED)}), "--output_path", str(out)]  # fmt: skip
    stamps.clear()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=out.parent, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not stamps:
        raise SystemExit(f"run from {tree} failed:\n{proc.stderr[-3000:]}")
    return stamps[0] - t0, wall


def import_seconds(tree: Path) -> tuple[float, list[str]]:
    """Cumulative import time of medxpert_ext.cli and the heaviest packages it pulled in (python -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import medxpert_ext.cli"],
                          env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree, capture_output=True,
                          text=True)  # fmt: skip  # cwd: `-c` puts it ahead of PYTHONPATH
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m[2]), len(m[3]), m[4]))
    total = next(c for c, _, name in rows if name == "medxpert_ext.cli")
    heavy = [name for c, depth, name in rows if name.split(".")[0] in
             {"torch", "transformers", "nltk", "sacrebleu", "PIL", "datasets", "openai", "lm_eval", "numpy"} and depth <= 4]  # fmt: skip
    return total / 1e6, sorted({h.split(".")[0] for h in heavy})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="f061c8e", help="commit to compare with")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tasks", default="medxpert_text_sampled")
    ap.add_argument("--data-dir", default=None, help="data root (default: the bundled demo data of each tree)")
    args = ap.parse_args()
    stamps: list[float] = []
    lock = threading.Lock()

    def responder(body: dict) -> str:
        with lock:
            stamps.append(time.perf_counter())
        return "The answer is (A)."

    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(responder) as server:
        trees = {"before": export(args.before, Path(tmp) / "before"), "after": REPO}
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
        imports: dict[str, list[float]] = {k: [] for k in trees}
        heavy: dict[str, list[str]] = {}
        for i in range(args.repeats):
            for name, tree in trees.items():
                runs[name].append(first_request_seconds(tree, server, stamps, Path(tmp) / f"out-{name}-{i}", args.tasks,
                                                           args.data_dir))  # fmt: skip
                seconds, heavy[name] = import_seconds(tree)
                imports[name].append(seconds)
        print(f"medxpert lm-eval --tasks {args.tasks} --limit 2 (local-chat-completions, scripted server), "
              f"{args.repeats} runs each, median [min-max]; load average {os.getloadavg()[0]:.1f}")
        for name in trees:
            first = [r[0] for r in runs[name]]
            wall = [r[1] for r in runs[name]]
            print(f"  {name:<6} first request {statistics.median(first):6.2f} s [{min(first):.2f}-{max(first):.2f}]"
                  f"   whole run {statistics.median(wall):6.2f} s   import medxpert_ext.cli "
                  f"{statistics.median(imports[name]):.2f} s (heavy packages imported: {', '.join(heavy[name]) or 'none'})")


if __name__ == "__main__":
    main()
