"""Stand-in model endpoint for the example CI workflow (configs/ci/checkpoint-gate.yml), from a repo checkout.

Serves the test suite's scripted OpenAI-compatible server (tests/scripted_server.py) answering the chosen
MCQ benchmarks in the reply styles of tests/mcq_script.py, so the workflow runs end to end without a GPU. The
``model`` field of each request picks the "checkpoint": ``--worse NAME`` makes that model answer ``--drop``
questions it would have got right wrongly (a real regression for the gate to catch); every other name answers
like the baseline. Questions come through the pack's own loader (the hub, or MEDXPERT_DATA_DIR).

    python configs/ci/scripted_endpoint.py --benchmarks medqa --worse cand --drop 60 --url-file endpoint.url &
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medxpert_ext.data import Benchmark, load_docs  # noqa: E402
from tests.mcq_script import OUTCOME, Item, McqScript, style_by_hash  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", default="medqa", help="comma list of medqa, medmcqa, mmlu_medical")
    ap.add_argument("--worse", default="cand", help="model name that answers worse")
    ap.add_argument("--drop", type=int, default=0, help="right answers it gets wrong instead")
    ap.add_argument("--url-file", type=Path, required=True, help="where to write the chat-completions URL")
    args = ap.parse_args()

    items: dict[str, Item] = {}
    for name in args.benchmarks.split(","):
        for doc in load_docs(Benchmark(name, name)):
            items[doc["question"].strip()] = Item(doc["id"], doc["answer"], doc["letters"])
    right = [q for q in items if OUTCOME[style_by_hash(q)][0]]
    broken = set(right[: args.drop])

    baseline = McqScript(items, style_by_hash)
    worse = McqScript(items, lambda q: "wrong" if q in broken else style_by_hash(q))

    def respond(body: dict) -> str:
        return (worse if body.get("model") == args.worse else baseline)(body)

    server = ScriptedServer(respond).start()
    args.url_file.write_text(server.chat_url + "\n")
    print(f"serving {len(items)} questions at {server.chat_url} ({args.worse!r} drops {len(broken)})", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
