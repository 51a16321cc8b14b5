"""Judge cost per benchmark, from the real judge prompts' token counts.

    python scripts/judge_cost.py --encoding-file cl100k_base.tiktoken [--data ../shared/data]
        [--response-tokens 400] [--output-tokens 150] [--statement-output-tokens 25]

Builds the exact judge messages (medxpert_ext.judge.modes) for every question of each local benchmark with a
placeholder response of ``--response-tokens`` tokens (the judge sees the text after the model's reasoning;
400 tokens is a typical chain-of-thought answer of a non-reasoning model), counts prompt tokens with tiktoken's
cl100k_base BPE (the GPT-4 family's; o200k_base, used by gpt-4o / o3-mini, is not downloadable offline and
counts English text within a few percent), adds an assumed completion length, and prices it.
The encoding file is the standard ``cl100k_base.tiktoken`` (sha256 223921b7...); tiktoken downloads it once
into its cache on a networked machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medxpert_ext.data import Benchmark, doc_options, load_docs, load_medlfqa_docs, mcq_doc, read_jsonl  # noqa: E402
from medxpert_ext.judge.modes import build_messages  # noqa: E402
from medxpert_ext.judge.types import JudgeItem  # noqa: E402

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# USD per million tokens (input, output), list prices at the time of writing; o3-mini's output includes its
# hidden reasoning tokens, so its real completion counts are higher than --output-tokens (see README).
PRICES = {"o3-mini": (1.10, 4.40), "gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60)}
OVERHEAD_PER_MESSAGE = 4  # chat format tokens per message (role markers), OpenAI's documented estimate


def encoding(path: Path):
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(path), expected_hash=CL100K_SHA256)
    special = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
               "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}  # fmt: skip
    pattern = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|"""
               r"""\s+(?!\S)|\s+""")  # fmt: skip
    return tiktoken.Encoding("cl100k_base", pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoding-file", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--response-tokens", type=int, default=400)
    ap.add_argument("--output-tokens", type=int, default=150, help="judge completion per verdict (exact/open)")
    ap.add_argument("--statement-output-tokens", type=int, default=25, help="judge completion per statement")
    args = ap.parse_args()
    enc = encoding(args.encoding_file)
    filler = " ".join(["the"] * args.response_tokens)  # "the" is one cl100k token, with or without a space

    def prompt_tokens(item: JudgeItem) -> int:
        return sum(len(enc.encode(m["content"])) + OVERHEAD_PER_MESSAGE for m in build_messages(item))

    rows = []
    mcq = [("MedXpertQA Text (244 sampled; x10 for 2,450)", Benchmark("medxpertqa_text", "t", sampled="text_sampled")),
           ("MedXpertQA MM (2,000)", None), ("MedQA (1,273)", Benchmark("medqa", "q")),
           ("MedMCQA (4,183)", Benchmark("medmcqa", "m")), ("MMLU-medical (1,089)", Benchmark("mmlu_medical", "u"))]  # fmt: skip
    for title, bench in mcq:
        if bench is None:  # MM questions read without their images (the judge never sees images)
            mm_rows = read_jsonl(args.data / "medxpertqa" / "mm_test.jsonl")
            docs = [mcq_doc(r, source="mm", where="mm", fallback_id="x") for r in mm_rows]
        else:
            docs = load_docs(bench, args.data)
        items = [JudgeItem(task="t", sample_id=d["id"], mode="exact", question=d["question"], response=filler,
                           gold=d["answer"], options=doc_options(d)) for d in docs]  # fmt: skip
        tokens = [prompt_tokens(i) for i in items]
        rows.append((title, len(items), len(items), sum(tokens), args.output_tokens * len(items)))
    for subset in ("kqa_golden", "kqa_silver", "live_qa", "medication_qa"):
        docs = load_medlfqa_docs(subset, args.data)
        items = [JudgeItem(task="l", sample_id=d["id"], mode="statements", question=d["question"],
                           response=d["answer"] or filler, statements=tuple(d["must_have"] + d["nice_to_have"]))
                 for d in docs if d["must_have"] or d["nice_to_have"]]  # fmt: skip
        n_statements = sum(len(i.statements) for i in items)
        rows.append((f"MedLFQA {subset} ({len(docs)})", len(docs), len(items), sum(prompt_tokens(i) for i in items),
                     args.statement_output_tokens * n_statements))  # fmt: skip

    head = "| benchmark | questions | judge requests | prompt tokens | completion tokens (assumed) | " + " | ".join(
        f"{m} $" for m in PRICES) + " |"  # fmt: skip
    print(head)
    print("|" + "---|" * (5 + len(PRICES)))
    for title, n, requests, p, c in rows:
        cost = [f"{(p * pi + c * po) / 1e6:.2f}" for pi, po in PRICES.values()]
        print(f"| {title} | {n:,} | {requests:,} | {p:,} | {c:,} | " + " | ".join(cost) + " |")


if __name__ == "__main__":
    main()
