"""Peak memory while iterating a PathVQA-sized image dataset (6,719 images), in two settings.

    python scripts/bench_vqa_images.py [--n 6719] [--side 448] [--skip-lm-eval]

A synthetic dataset in the canonical layout (`vqa/pathvqa/`: test.jsonl, images/, SHA256SUMS) is written to a
temp folder: JPEGs of --side x --side pixels (PathVQA's are mostly 300-1000 px; smooth gradients with grain, so
their PNG re-encoding is realistic rather than the worst case of pure noise), half closed, half open questions.

1. The pack alone, in a fresh process: load the docs (checksums verified), build one LazyImage per doc the way
   lm-eval's ``doc_to_image`` does for every request up front, then decode each image's pixels and release them,
   one at a time. Reports peak RSS and the RSS of the decoded dataset if it were held at once.
2. End to end: `medxpert lm-eval --tasks medvqa_pathvqa_closed,medvqa_pathvqa_open` through
   local-chat-completions against the scripted server; reports the run's peak RSS. lm-eval's API backend
   base64-encodes (as PNG) the images of all requests it is given before sending any; the pack hands them over
   in chunks of 512 (medxpert_ext.harness.lmeval_compat), so this figure includes lm-eval's copies of one chunk.
"""

from __future__ import annotations

import argparse
import io
import json
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


def write_dataset(root: Path, n: int, side: int) -> None:
    from PIL import Image

    from medxpert_ext.vqa_prepare import write_checksums

    folder = root / "vqa" / "pathvqa"
    (folder / "images").mkdir(parents=True)
    rng = random.Random(0)
    variants = []
    for k in range(16):  # 16 distinct images (smooth stain-like gradient + grain), written under 6,719 names
        base = Image.linear_gradient("L").resize((side, side)).rotate(20 * k)
        grain = Image.effect_noise((side, side), 12 + k)
        img = Image.merge("RGB", (Image.blend(base, grain, 0.3), grain, base))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        variants.append(buf.getvalue())
    with open(folder / "test.jsonl", "w") as fh:
        for i in range(n):
            name = f"pathvqa-{i:05d}.jpg"
            (folder / "images" / name).write_bytes(variants[rng.randrange(16)])
            closed = i % 2 == 0
            fh.write(json.dumps({"id": f"pathvqa-{i}", "question": "Is there necrosis?" if closed else "What is shown?",
                                 "answer": "yes" if closed else "granuloma",
                                 "answer_type": "closed" if closed else "open", "image": name}) + "\n")  # fmt: skip
    write_checksums(folder)


PACK_ONLY = textwrap.dedent(
    """
    import resource, sys, time
    sys.path.insert(0, {repo!r})
    from medxpert_ext.data import load_vqa_docs
    from medxpert_ext.harness.lmeval import doc_to_image
    t0 = time.perf_counter()
    docs = load_vqa_docs("pathvqa", {root!r})
    t1 = time.perf_counter()
    images = [img for doc in docs for img in doc_to_image(doc)]  # what lm-eval builds for every request
    t2 = time.perf_counter()
    after_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    decoded_bytes = 0
    for img in images:
        decoded_bytes += len(img.convert("RGB").tobytes())
        img.release()
    t3 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(docs), t1 - t0, t2 - t1, t3 - t2, after_build, peak, decoded_bytes)
    """
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=6719)
    ap.add_argument("--side", type=int, default=448)
    ap.add_argument("--skip-lm-eval", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_dataset(root, args.n, args.side)
        on_disk = sum(p.stat().st_size for p in (root / "vqa" / "pathvqa" / "images").iterdir())
        print(f"dataset: {args.n} JPEGs of {args.side}x{args.side}, {on_disk / 2**20:.0f} MiB on disk "
              f"(written in {time.perf_counter() - t0:.1f}s)")  # fmt: skip

        out = subprocess.run([sys.executable, "-c", PACK_ONLY.format(repo=str(REPO), root=str(root))],
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        n, t_load, t_build, t_decode, after_build, peak, decoded = out
        print(f"pack alone: load + verify {float(t_load):.2f}s, {n} LazyImages {float(t_build):.2f}s, "
              f"decode each {float(t_decode):.2f}s")  # fmt: skip
        print(f"  peak RSS after building all requests' images: {int(after_build) / 1024:.0f} MiB; "
              f"after decoding every image one at a time: {int(peak) / 1024:.0f} MiB "
              f"(all pixels at once would be {int(decoded) / 2**20:.0f} MiB)")  # fmt: skip
        if args.skip_lm_eval:
            return
        with ScriptedServer(lambda body: "yes", latency=0.0) as server:
            cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
                   "--model_args", f"model=scripted,base_url={server.chat_url},num_concurrent=32,max_retries=1,"
                   "tokenized_requests=False,max_images=1", "--apply_chat_template",
                   "--tasks", "medvqa_pathvqa_closed,medvqa_pathvqa_open",
                   "--metadata", json.dumps({"data_dir": str(root)})]  # fmt: skip
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"lm-eval run over {server.count} requests: {wall:.1f}s, peak RSS of the largest child "
              f"{child_peak / 1024:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
