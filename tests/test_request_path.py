"""The request path adds nothing the backend does not need: images go as the files' own bytes and MIME type (shrunk
only when ``max_image_edge`` asks), API runs never import torch, local runs keep lm-eval's records."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from medxpert_ext.images import LazyImage, data_url
from tests.vqa_synth import VqaModel, write_dataset


def _decode(url: str) -> tuple[str, bytes]:
    head, data = url.split(",", 1)
    assert head.startswith("data:") and head.endswith(";base64"), head
    return head[5:-7], base64.b64decode(data)


def _image_file(path: Path, fmt: str, size=(40, 30), mode="RGB") -> Path:
    img = Image.new(mode, size, "red" if mode == "RGB" else 90)
    img.save(path, format=fmt)
    return path


@pytest.mark.parametrize("fmt,mime", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_data_url_sends_the_files_own_bytes_and_mime(tmp_path, fmt, mime):
    path = _image_file(tmp_path / "scan.img", fmt)  # the MIME comes from the content, not the file name
    got_mime, got = _decode(data_url(path))
    assert (got_mime, got) == (mime, path.read_bytes())
    assert _decode(LazyImage(path).data_url()) == (mime, path.read_bytes())
    assert _decode(data_url(path, max_edge=40)) == (mime, path.read_bytes())  # fits: untouched


def test_lazy_image_reads_nothing_until_used_and_sends_without_decoding(tmp_path):
    missing = LazyImage(tmp_path / "not-yet.jpg")  # lm-eval creates one per request up front: no I/O then
    jpeg = _image_file(tmp_path / "not-yet.jpg", "JPEG")
    assert _decode(missing.data_url()) == ("image/jpeg", jpeg.read_bytes())
    assert missing._im is None  # the pixels were never decoded
    assert (missing.size, missing.mode, missing.format) == ((40, 30), "RGB", "JPEG")


def test_max_edge_shrinks_and_other_formats_become_png(tmp_path):
    jpeg = _image_file(tmp_path / "big.jpg", "JPEG", size=(400, 100))
    mime, data = _decode(data_url(jpeg, max_edge=100))
    assert mime == "image/jpeg" and Image.open(io.BytesIO(data)).size == (100, 25)
    lazy = LazyImage(jpeg, max_edge=100)
    assert lazy.size == (100, 25)  # local backends see the same shrunk image
    assert lazy.convert("RGB").size == (100, 25)
    bmp = _image_file(tmp_path / "x.bmp", "BMP", mode="L")
    mime, data = _decode(data_url(bmp))
    assert mime == "image/png" and Image.open(io.BytesIO(data)).tobytes() == Image.open(bmp).tobytes()
    with pytest.raises(ValueError, match="max_image_edge"):
        data_url(jpeg, max_edge=0)


def test_lm_eval_api_backend_sends_lazy_images_as_files_and_other_images_as_png(tmp_path):
    pytest.importorskip("lm_eval")
    import lm_eval.models.api_models as api

    from medxpert_ext.harness.lmeval_compat import patch_mixed_modalities

    patch_mixed_modalities()
    jpeg = _image_file(tmp_path / "a.jpg", "JPEG")
    chat = api.create_image_prompt([LazyImage(jpeg)] * 2, [{"role": "user", "content": "<image>\n<image>\nWhich <image>?"}])
    *image_parts, text_part = chat[-1]["content"]
    assert [_decode(p["image_url"]["url"]) for p in image_parts] == [("image/jpeg", jpeg.read_bytes())] * 2
    assert text_part == {"type": "text", "text": "Which <image>?"}  # the placeholder lines are gone, nothing else
    plain = Image.new("RGB", (3, 2), "blue")  # not ours: lm-eval's own PNG encoding, text as it was
    (image_part, text_part) = api.create_image_prompt([plain], [{"role": "user", "content": "<image>\nx"}])[-1]["content"]
    mime, data = _decode(image_part["image_url"]["url"])
    assert mime == "image/png" and Image.open(io.BytesIO(data)).format == "PNG"
    assert text_part == {"type": "text", "text": "<image>\nx"}


def test_max_image_edge_metadata_reaches_the_images(tmp_path):
    from medxpert_ext.data import DataError
    from medxpert_ext.harness.lmeval import doc_to_image, task_loader

    write_dataset(tmp_path, "vqarad", n=4)
    docs = task_loader("medvqa_vqarad_open")(data_dir=str(tmp_path), max_image_edge=32)["test"]
    (img,) = doc_to_image(docs[0])
    assert docs[0]["max_image_edge"] == 32 and img.size == (32, 24)
    assert "max_image_edge" not in task_loader("medvqa_vqarad_open")(data_dir=str(tmp_path))["test"][0]
    with pytest.raises(DataError, match="max_image_edge='big'"):
        task_loader("medvqa_vqarad_open")(data_dir=str(tmp_path), max_image_edge="big")


# ----------------------------------------------------------------------------------------------- end to end
# Runs `medxpert lm-eval` in a subprocess that records, at exit, whether torch was ever imported and its seed.
DRIVER = textwrap.dedent(
    """
    import atexit, json, os, runpy, sys
    main_pid = os.getpid()
    def record():
        if os.getpid() != main_pid:  # a forked helper process runs atexit handlers too
            return
        torch = sys.modules.get("torch")
        with open({probe!r}, "w") as fh:
            json.dump({{"torch": torch is not None, "seed": torch.initial_seed() if torch else None}}, fh)
    atexit.register(record)
    sys.argv = ["medxpert", "lm-eval", *{argv!r}]
    runpy.run_module("medxpert_ext.cli", run_name="__main__")
    """
)


def run_probed(argv: list[str], tmp_path: Path) -> tuple[dict, dict]:
    probe, out = tmp_path / "probe.json", tmp_path / "out"
    argv = [*argv, "--output_path", str(out)]
    proc = subprocess.run([sys.executable, "-c", DRIVER.format(probe=str(probe), argv=argv)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    (results_file,) = out.rglob("results_*.json")
    return json.loads(results_file.read_text()), json.loads(probe.read_text())


@pytest.mark.e2e
def test_api_vqa_run_sends_original_bytes_scores_exactly_and_never_imports_torch(scripted_server, tmp_path):
    from tests.test_vqa_e2e import expected_closed, expected_open

    pairs = write_dataset(tmp_path, "vqarad", n=24)  # JPEGs and PNGs alternate
    model = VqaModel()
    server = scripted_server(model, keep_bodies=True)
    results, probe = run_probed(
        ["--model", "local-chat-completions", "--model_args", f"model=scripted,base_url={server.chat_url},"
         "num_concurrent=8,max_retries=1,tokenized_requests=False,max_images=1", "--apply_chat_template",
         "--tasks", "medvqa_vqarad_closed,medvqa_vqarad_open", "--metadata", json.dumps({"data_dir": str(tmp_path)})],
        tmp_path,
    )  # fmt: skip
    assert not server.errors and model.no_image == 0 and server.count == 24
    files = {p.read_bytes(): p.suffix for p in (tmp_path / "vqa" / "vqarad" / "images").iterdir()}
    mimes = {".jpg": "image/jpeg", ".png": "image/png"}
    for body in server.requests:
        (part,) = [p for p in body["messages"][-1]["content"] if p["type"] == "image_url"]
        mime, data = _decode(part["image_url"]["url"])
        assert data in files and mime == mimes[files[data]]  # the file itself, not a PNG re-encoding
    assert {_decode(p["image_url"]["url"])[0] for b in server.requests for p in b["messages"][-1]["content"]
            if p["type"] == "image_url"} == {"image/jpeg", "image/png"}  # fmt: skip
    for key, value in expected_closed(pairs).items():
        assert results["results"]["medvqa_vqarad_closed"][f"{key},answer"] == pytest.approx(value, abs=1e-12)
    for key, value in expected_open(pairs).items():
        assert results["results"]["medvqa_vqarad_open"][f"{key},answer"] == pytest.approx(value, abs=1e-12)
    assert probe == {"torch": False, "seed": None}
    assert results["config"]["torch_seed"] == 1234  # what was asked is still recorded
    assert "not collected: API backend 'local-chat-completions'" in results["pretty_env_info"]
    assert results["lm_eval_version"] and results["transformers_version"]


@pytest.mark.e2e
def test_local_backend_run_keeps_lm_evals_torch_seed_and_env_record(tiny_model_dir, tmp_path):
    from medxpert_ext.cli.demo import BUNDLED_ROOT

    results, probe = run_probed(
        ["--model", "hf", "--model_args", f"pretrained={tiny_model_dir},dtype=float32", "--tasks",
         "medxpert_text_sampled", "--limit", "2", "--batch_size", "2", "--gen_kwargs", "max_gen_toks=4",
         "--metadata", json.dumps({"data_dir": str(BUNDLED_ROOT)})],
        tmp_path,
    )  # fmt: skip
    assert probe == {"torch": True, "seed": 1234}  # lm-eval's default --seed reached torch
    assert "PyTorch version" in results["pretty_env_info"]  # torch's collect_env, as lm-eval records it
