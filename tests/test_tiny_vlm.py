"""The real multimodal transformers backend: lm-eval's `hf-multimodal` over a tiny random-weight Llava built
offline (medxpert_ext/tiny_vlm.py).

The model's replies are gibberish, so these tests do not check scores against a truth; they check that the
whole path runs (chat template, <image> expansion, pixel values, batching, one and several images per prompt),
that every request carried its own image(s), and that every logged score follows from the logged reply.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import read_jsonl

pytestmark = pytest.mark.e2e

CLOSED_KEYS = ("closed_acc", "closed_unreadable")
OPEN_KEYS = ("recall", "f1", "exact_match")


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("PIL")
    from medxpert_ext.tiny_vlm import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny_vlm") / "model")


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MEDXPERT_DATA_DIR"}
    return env | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                  "HF_HOME": str(tmp_path / "hf_home"), "COLUMNS": "200"}  # fmt: skip


def _run_lm_eval(model_dir: Path, data_root: Path, out: Path, tmp_path: Path, *, max_images: int, tasks: str,
                 select: list[str]) -> dict:  # fmt: skip
    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "hf-multimodal",
           "--model_args", f"pretrained={model_dir},max_images={max_images},dtype=float32",
           "--apply_chat_template", "--tasks", tasks, *select, "--batch_size", "2",
           "--gen_kwargs", "max_gen_toks=8", "--metadata", json.dumps({"data_dir": str(data_root)}),
           "--output_path", str(out), "--log_samples"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=_offline_env(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (results_file,) = out.rglob("results_*.json")
    return json.loads(results_file.read_text()) | {"_dir": results_file.parent}


def _samples(results: dict, task: str) -> list[dict]:
    (samples_file,) = results["_dir"].glob(f"samples_{task}_*.jsonl")
    return read_jsonl(samples_file)


def _filtered_from(resp: str, doc: dict) -> str:
    """What the StripReasoning + take_first filter makes of a raw reply (tasks/medvqa/_*_template_yaml)."""
    from medxpert_ext.extract import strip_reasoning
    from medxpert_ext.harness.lmeval import NO_ANSWER_PREFIX

    final = strip_reasoning(resp or "", think_end=doc.get("think_end"))
    return f"{NO_ANSWER_PREFIX}unterminated_think]" if final is None else final.strip()


# ------------------------------------------------------------------------------------------------ the model
def test_build_is_idempotent_and_deterministic(tiny_vlm_dir, tmp_path):
    from medxpert_ext.tiny_vlm import build_tiny_vlm, is_tiny_vlm_dir

    assert is_tiny_vlm_dir(tiny_vlm_dir, seed=0)
    before = {p.name: p.stat().st_mtime_ns for p in tiny_vlm_dir.iterdir()}
    assert build_tiny_vlm(tiny_vlm_dir) == tiny_vlm_dir  # complete folder: reused untouched
    assert {p.name: p.stat().st_mtime_ns for p in tiny_vlm_dir.iterdir()} == before

    again = build_tiny_vlm(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert (again / name).read_bytes() == (tiny_vlm_dir / name).read_bytes(), name
    assert sum(p.stat().st_size for p in again.iterdir()) < 5_000_000
    assert not is_tiny_vlm_dir(tmp_path / "again", seed=1)


def test_loads_with_auto_classes_and_generates_from_image_and_text(tiny_vlm_dir):
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from medxpert_ext.tiny_vlm import IMAGE_SEQ_LENGTH, IMAGE_TOKEN

    processor = AutoProcessor.from_pretrained(tiny_vlm_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir, dtype=torch.float32).eval()
    # what lm-eval's hf-multimodal reads: the image token id in the config, decoding to the prompt placeholder
    image_token_id = model.config.image_token_id
    assert processor.tokenizer.decode([image_token_id], skip_special_tokens=False) == IMAGE_TOKEN

    # lm-eval's chat path: content parts (text / image) rendered by the processor's chat template
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "\nIs there a lesion?"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\n<image>\nIs there a lesion?<|im_end|>\n<|im_start|>assistant\n"

    red = Image.new("RGB", (64, 48), (220, 30, 30))
    blue = Image.new("RGB", (20, 30), (40, 60, 220))
    two = prompt.replace(IMAGE_TOKEN, IMAGE_TOKEN * 2)
    enc = processor(text=[prompt, two], images=[red, blue, red], padding="longest", return_tensors="pt")
    assert enc["pixel_values"].shape == (3, 3, 32, 32)
    assert (enc["input_ids"] == image_token_id).sum(dim=1).tolist() == [IMAGE_SEQ_LENGTH, 2 * IMAGE_SEQ_LENGTH]

    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    new = out[:, enc["input_ids"].shape[1] :]
    assert new.shape == (2, 5)
    assert all(isinstance(t, str) for t in processor.batch_decode(new, skip_special_tokens=True))

    # the pixels reach the language model: another image, other logits
    def last_logits(image):
        single = processor(text=prompt, images=image, return_tensors="pt")
        with torch.no_grad():
            return model(**single).logits[0, -1]

    assert not torch.allclose(last_logits(red), last_logits(blue))


# ---------------------------------------------------------------------------------------------- lm-eval runs
def test_lm_eval_hf_multimodal_runs_vqa_tasks(tiny_vlm_dir, tmp_path):
    from medxpert_ext.metrics.vqa import closed_answer, score_closed, score_open
    from tests.vqa_synth import write_dataset

    root = tmp_path / "data"
    records = [r for r, _ in write_dataset(root, "vqarad", n=12)]
    results = _run_lm_eval(tiny_vlm_dir, root, tmp_path / "out", tmp_path, max_images=1,
                           tasks="medvqa_vqarad_closed,medvqa_vqarad_open", select=["--limit", "4"])  # fmt: skip

    for kind, keys in (("closed", CLOSED_KEYS), ("open", OPEN_KEYS)):
        task = f"medvqa_vqarad_{kind}"
        n_kind = sum(r["answer_type"] == kind for r in records)
        assert results["n-samples"][task] == {"original": n_kind, "effective": 4}
        row = results["results"][task]
        assert {f"{k},answer" for k in keys} <= set(row)

        samples = _samples(results, task)
        assert len(samples) == 4
        for s in samples:
            doc = s["doc"]
            (context, gen_kwargs, aux) = s["arguments"]["gen_args_0"].values()
            # chat-templated prompt with exactly one image placeholder, and one image sent with it
            assert context.startswith("<|im_start|>user\n<image>\n") and context.count("<image>") == 1
            assert context.endswith("<|im_start|>assistant\n")
            assert len(aux["visual"]) == 1
            assert gen_kwargs["max_gen_toks"] == 8
            filtered = s["filtered_resps"][0]
            assert filtered == _filtered_from(s["resps"][0][0], doc)
            if kind == "closed":
                assert s["closed_unreadable"] == float(closed_answer(filtered) is None)
                expected = score_closed(filtered, doc["answer"])
            else:
                expected = score_open(filtered, doc["answer"])
            for k in keys:
                assert s[k] == pytest.approx(expected[k]), (task, s["doc_id"], k, filtered)
        # every request carried its own image
        assert len({s["arguments"]["gen_args_0"]["arg_2"]["visual"][0] for s in samples}) == 4
        for k in keys:
            assert row[f"{k},answer"] == pytest.approx(sum(s[k] for s in samples) / 4), (task, k)


def test_lm_eval_hf_multimodal_runs_medxpert_mm_with_several_images(tiny_vlm_dir, mm_images_root, tmp_path):
    """MedXpertQA MM with up to 6 images per prompt (Llava: one <image> per image, images flattened per batch).

    `--limit 2` would only reach the first two questions, which have one image each; `--samples` picks a
    one-image, a two-image and a six-image question instead, so a batch of two mixes image counts.
    """
    rows = read_jsonl(mm_images_root / "medxpertqa" / "mm_sampled.jsonl")
    counts = [len(r["images"]) for r in rows]
    picked = [counts.index(1), counts.index(2), counts.index(max(c for c in counts if c <= 6))]
    assert counts[picked[-1]] > 2
    select = ["--samples", json.dumps({"medxpert_mm_sampled": picked})]
    results = _run_lm_eval(tiny_vlm_dir, mm_images_root, tmp_path / "out", tmp_path, max_images=6,
                           tasks="medxpert_mm_sampled", select=select)  # fmt: skip

    task = "medxpert_mm_sampled"
    assert results["n-samples"][task] == {"original": len(rows), "effective": len(picked)}
    row = results["results"][task]
    assert {"acc,extract", "extract_fail,extract"} <= set(row)
    samples = _samples(results, task)
    assert sorted(s["doc_id"] for s in samples) == sorted(picked)
    for s in samples:
        n_images = counts[s["doc_id"]]
        context, _, aux = s["arguments"]["gen_args_0"].values()
        assert context.count("<image>") == n_images
        assert len(aux["visual"]) == n_images
        picked_letter = s["filtered_resps"][0]
        assert s["extract_fail"] == float(picked_letter.startswith("[no answer"))
        assert s["acc"] == float(picked_letter == s["doc"]["answer"])
    assert row["acc,extract"] == pytest.approx(sum(s["acc"] for s in samples) / len(samples))
    assert row["extract_fail,extract"] == pytest.approx(sum(s["extract_fail"] for s in samples) / len(samples))
