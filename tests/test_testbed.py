"""Tests of the test bed itself: the scripted OpenAI server and the tiny model."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.scripted_server import Reply, ScriptedServer, user_images, user_text

REPO = Path(__file__).resolve().parents[1]
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def post_chat(server: ScriptedServer, text: str = "hi", timeout: float = 10, **extra) -> requests.Response:
    body = {"model": "scripted", "messages": [{"role": "user", "content": text}], **extra}
    return requests.post(server.chat_url, json=body, timeout=timeout)


def lm_eval_chat_model(server: ScriptedServer, **kwargs):
    from lm_eval.api.registry import get_model

    args = {"base_url": server.chat_url, "model": "scripted", "num_concurrent": 8, "max_retries": 1}
    return get_model("local-chat-completions")(**{**args, **kwargs})


def gen_instances(prompts: list[str], **gen_kwargs):
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr

    gen_kwargs = {"until": ["\n\n"], "max_gen_toks": 32, **gen_kwargs}
    return [
        Instance("generate_until", {}, (JsonChatStr(json.dumps([{"role": "user", "content": p}])), dict(gen_kwargs)), i)
        for i, p in enumerate(prompts)
    ]


# --------------------------------------------------------------------------- helpers


def test_user_text_and_images_helpers():
    img = base64.b64encode(PNG_1PX).decode()
    body = {"messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{img}"}},
            {"type": "text", "text": "What is shown?"},
            {"type": "text", "text": "(A) x (B) y"},
        ]},
    ]}
    assert user_text(body) == "What is shown?\n(A) x (B) y"
    assert user_images(body) == [PNG_1PX]
    assert user_text({"messages": [{"role": "user", "content": "plain"}]}) == "plain"
    assert user_images({"messages": [{"role": "user", "content": "plain"}]}) == []
    assert user_text({"messages": []}) == ""
    with pytest.raises(ValueError):
        user_images({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]}]})


# --------------------------------------------------------------------------- (a) clients


def test_openai_sdk_roundtrip(scripted_server):
    openai = pytest.importorskip("openai")
    srv = scripted_server(lambda body: f"echo: {user_text(body)}", keep_bodies=True)
    client = openai.OpenAI(base_url=srv.base_url, api_key="not-needed", max_retries=0)

    resp = client.chat.completions.create(
        model="some-model", messages=[{"role": "user", "content": "Which drug? (A) x (B) y"}], max_tokens=5
    )
    assert resp.choices[0].message.content == "echo: Which drug? (A) x (B) y"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "some-model"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert [m.id for m in client.models.list()] == ["scripted"]

    # multimodal request: image parts reach the responder intact
    img = base64.b64encode(PNG_1PX).decode()
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{img}"}},
        {"type": "text", "text": "Describe"},
    ]}])
    assert srv.count == 2
    assert srv.requests[0]["max_tokens"] == 5
    assert user_images(srv.requests[1]) == [PNG_1PX] and user_text(srv.requests[1]) == "Describe"
    srv.reset()
    assert srv.count == 0 and srv.requests == []


def test_reply_options_usage_none_content_and_404(scripted_server):
    replies = iter([Reply("x", usage={"prompt_tokens": 7, "completion_tokens": 3}, finish_reason="length"),
                    Reply(None)])
    srv = scripted_server(lambda body: next(replies))
    out = post_chat(srv).json()
    assert out["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert out["choices"][0]["finish_reason"] == "length"
    assert post_chat(srv).json()["choices"][0]["message"]["content"] is None
    assert requests.post(srv.base_url + "/nope", json={}, timeout=5).status_code == 404
    assert requests.post(srv.chat_url, data=b"{not json", timeout=5).status_code == 400
    assert srv.count == 2  # only well-formed chat requests are logged


def test_lm_eval_local_chat_completions(scripted_server):
    pytest.importorskip("lm_eval")
    srv = scripted_server(lambda body: f"answer to {user_text(body)}", latency=0.05, keep_bodies=True)
    lm = lm_eval_chat_model(srv)
    prompts = [f"question {i}" for i in range(20)]
    out = lm.generate_until(gen_instances(prompts, max_gen_toks=7), disable_tqdm=True)
    assert out == [f"answer to {p}" for p in prompts]  # results come back in request order
    assert srv.count == 20
    req = srv.requests[0]
    assert req["model"] == "scripted" and req["max_tokens"] == 7 and req["stop"] == ["\n\n"]


def test_lm_eval_multimodal_images_reach_server(scripted_server):
    pytest.importorskip("lm_eval")
    Image = pytest.importorskip("PIL.Image")
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr

    srv = scripted_server(lambda body: f"{len(user_images(body))} image(s): {user_text(body)}", keep_bodies=True)
    lm = lm_eval_chat_model(srv, num_concurrent=1)
    img = Image.new("RGB", (4, 3), (255, 0, 0))
    chat = JsonChatStr(json.dumps([{"role": "user", "content": "What colour?"}]))
    inst = Instance("generate_until", {}, (chat, {"until": ["\n\n"]}, {"visual": [img]}), 0)
    assert lm.generate_until([inst], disable_tqdm=True) == ["1 image(s): What colour?"]
    (png,) = user_images(srv.requests[0])
    assert Image.open(io.BytesIO(png)).size == (4, 3)


def test_lm_eval_retries_transient_error(scripted_server):
    pytest.importorskip("lm_eval")
    calls = iter([Reply(status=500), "recovered"])
    srv = scripted_server(lambda body: next(calls))
    lm = lm_eval_chat_model(srv, max_retries=2)  # lm-eval waits >= 1 s between attempts
    assert lm.generate_until(gen_instances(["q"]), disable_tqdm=True) == ["recovered"]
    assert srv.count == 2


# --------------------------------------------------------------------------- (b) faults


def test_fault_replies_observable_by_http_client(scripted_server):
    script = {
        "500": Reply(status=500),
        "429": Reply("slow down", status=429, headers={"Retry-After": "2"}),
        "malformed": Reply(body='{"choices": [{"message": '),
        "drop": Reply(drop=True),
        "truncated": Reply(body='{"choices": []}', headers={"Content-Length": "500"}),
        "slow": Reply("late", delay=1.0),
    }
    srv = scripted_server(lambda body: script[user_text(body)])

    r = post_chat(srv, "500")
    assert r.status_code == 500 and "error" in r.json()
    r = post_chat(srv, "429")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["error"]["message"] == "slow down"
    r = post_chat(srv, "malformed")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    with pytest.raises(requests.ConnectionError):
        post_chat(srv, "drop")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        post_chat(srv, "truncated")
    t0 = time.monotonic()
    with pytest.raises(requests.Timeout):
        post_chat(srv, "slow", timeout=0.2)
    assert time.monotonic() - t0 < 0.9
    assert srv.count == 6
    # the server survives all of the above
    assert post_chat(srv, "500").status_code == 500


def test_fault_replies_observable_by_openai_sdk(scripted_server):
    openai = pytest.importorskip("openai")
    script = {
        "500": Reply(status=500),
        "429": Reply(status=429, headers={"Retry-After": "0"}),
        "malformed": Reply(body="{oops"),
        "drop": Reply(drop=True),
        "slow": Reply("late", delay=2.0),
    }
    srv = scripted_server(lambda body: script[user_text(body)])
    client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, timeout=0.5)

    def ask(text, c=client):
        return c.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])

    with pytest.raises(openai.InternalServerError):
        ask("500")
    with pytest.raises(openai.RateLimitError) as exc:
        ask("429")
    assert exc.value.response.headers["retry-after"] == "0"
    with pytest.raises((openai.APIError, json.JSONDecodeError)):
        ask("malformed")
    with pytest.raises(openai.APIConnectionError):
        ask("drop")
    with pytest.raises(openai.APITimeoutError):
        ask("slow")
    # the SDK's own retry loop honours Retry-After and retries 429s
    srv.reset()
    with pytest.raises(openai.RateLimitError):
        ask("429", c=client.with_options(max_retries=2))
    assert srv.count == 3


def test_responder_exception_becomes_500_and_is_recorded(scripted_server):
    def responder(body):
        raise RuntimeError("bug in test responder")

    srv = scripted_server(responder)
    assert post_chat(srv).status_code == 500
    assert len(srv.errors) == 1 and "bug in test responder" in srv.errors[0]


# --------------------------------------------------------------------------- (c) concurrency


def in_rounds_of(k: int, reply):
    """A responder that answers only once ``k`` requests are being answered together (a serialised server, or a
    client sending fewer than ``k`` at a time, never gets a reply: the barrier times out and the test fails)."""
    together = threading.Barrier(k, timeout=60)

    def responder(body):
        together.wait()
        return reply(body)

    return responder


def test_concurrent_requests_are_not_serialised(scripted_server):
    n = 64
    srv = scripted_server(in_rounds_of(n, user_text))

    def one(i):
        with requests.Session() as s:  # fresh connection per request
            r = s.post(srv.chat_url, json={"messages": [{"role": "user", "content": str(i)}]}, timeout=90)
            return r.json()["choices"][0]["message"]["content"]

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert results == [str(i) for i in range(n)]
    assert (srv.count, srv.max_in_flight, srv.errors) == (n, n, [])  # all answered at once


def test_concurrency_through_lm_eval(scripted_server):
    pytest.importorskip("lm_eval")
    srv = scripted_server(in_rounds_of(16, lambda body: "ok"))
    lm = lm_eval_chat_model(srv, num_concurrent=16)
    out = lm.generate_until(gen_instances([f"q{i}" for i in range(48)]), disable_tqdm=True)
    assert out == ["ok"] * 48
    assert (srv.max_in_flight, srv.errors) == (16, [])  # num_concurrent in flight, never more


def test_stop_does_not_wait_for_slow_replies():
    srv = ScriptedServer(lambda body: Reply("late", delay=30)).start()
    outcome = []

    def client():
        try:
            outcome.append(post_chat(srv, timeout=60).status_code)
        except requests.RequestException as e:
            outcome.append(e)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    while srv.count == 0:
        time.sleep(0.01)
    t0 = time.monotonic()
    srv.stop()
    t.join(5)
    assert time.monotonic() - t0 < 3 and not t.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)  # pending reply dropped on shutdown


# --------------------------------------------------------------------------- (d) tiny model


def test_tiny_model_module_imports_without_torch():
    code = "import sys, medxpert_ext.tiny_model; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["False", "False"]


def test_build_tiny_model_loads_generates_and_is_idempotent(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medxpert_ext.tiny_model import build_tiny_model, is_tiny_model_dir

    out = tmp_path / "tiny"
    assert build_tiny_model(out) == out.resolve()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (out / name).is_file()
    assert is_tiny_model_dir(out, seed=0) and not is_tiny_model_dir(out, seed=1)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no temp dirs left behind

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert model.config.vocab_size == len(tok) > 1000
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert tok.eos_token and tok.bos_token and tok.pad_token and tok.pad_token_id != tok.eos_token_id

    prompt = tok.apply_chat_template([{"role": "user", "content": "Which drug? (A) x (B) y"}],
                                     tokenize=False, add_generation_prompt=True)
    assert "Which drug? (A) x (B) y" in prompt and prompt.endswith("<|im_start|>assistant\n")
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    assert tok.decode(enc.input_ids[0]) == prompt  # lossless byte-level BPE
    with torch.no_grad():
        gen = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] - enc.input_ids.shape[1] in range(1, 6)
    assert isinstance(tok.decode(gen[0, enc.input_ids.shape[1]:], skip_special_tokens=True), str)

    # second call: no rebuild
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert build_tiny_model(str(out)) == out.resolve()
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_tiny_model_is_deterministic(tmp_path, tiny_model_dir):
    from safetensors.numpy import load_file

    from medxpert_ext.tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "again", seed=0)
    assert (other / "tokenizer.json").read_text() == (tiny_model_dir / "tokenizer.json").read_text()
    a, b = load_file(other / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    different = load_file(build_tiny_model(tmp_path / "seed1", seed=1) / "model.safetensors")
    assert any((a[k] != different[k]).any() for k in a)


def test_tiny_model_chat_template_handles_content_parts(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = tok.apply_chat_template(
        [{"role": "system", "content": "Be brief."},
         {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": "x"}}]}],
        tokenize=False, add_generation_prompt=False)
    assert text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nLook<|im_end|>\n"

