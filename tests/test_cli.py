"""The `medxpert` command line: pass-through to lm-eval, profiles, extract, tasks-dir."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medxpert_ext.cli import app, build_lm_eval_argv
from medxpert_ext.profiles import ModelProfile, ProfileError, lm_eval_args, load_profile
from medxpert_ext.resources import configs_dir, tasks_dir

runner = CliRunner()


def medxpert(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medxpert_ext.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_tasks_dir_is_the_task_folder():
    result = runner.invoke(app, ["tasks-dir"])
    assert result.exit_code == 0
    folder = Path(result.stdout.strip())
    assert folder == tasks_dir() and (folder / "medxpert" / "_medxpert.yaml").is_file()


def test_lm_eval_ls_lists_our_tasks_and_a_users_own_folder(tmp_path):
    own = tmp_path / "my_tasks"
    own.mkdir()
    (own / "my_task.yaml").write_text(
        "task: my_own_task\ndataset_path: json\noutput_type: generate_until\ntest_split: test\n"
        "doc_to_text: '{{q}}'\ndoc_to_target: '{{a}}'\n"
    )
    proc = medxpert("lm-eval", "ls", "tasks", "--include_path", str(own))
    assert proc.returncode == 0, proc.stderr
    for name in ("medxpert_text_reasoning", "medxpert_mm_sampled", "medbench_mmlu_medical", "my_own_task"):
        assert name in proc.stdout, name
    groups = medxpert("lm-eval", "ls", "groups")
    assert groups.returncode == 0, groups.stderr
    for name in ("medxpert", "medxpert_text", "medxpert_mm", "medbench"):
        assert re.search(rf"^\|{name}\s+\|.*{name.split('_')[0]}", groups.stdout, re.M), name


def test_argv_pass_through_and_include_paths():
    argv, includes = build_lm_eval_argv(["--model", "hf", "--tasks", "medxpert", "--include_path", "/x/mine"])
    assert argv == ["run", "--model", "hf", "--tasks", "medxpert"]
    assert includes == [str(tasks_dir()), "/x/mine"]
    argv, _ = build_lm_eval_argv(["ls", "tasks"])
    assert argv == ["ls", "tasks"]


def test_profile_expands_into_lm_eval_flags_and_merges_metadata():
    argv, _ = build_lm_eval_argv(
        ["--profile", "deepseek-r1-distill-qwen-7b", "--tasks", "medxpert", "--metadata", '{"data_dir": "/d"}']
    )
    assert argv[:3] == ["run", "--model", "vllm"]
    model_args = argv[argv.index("--model_args") + 1]
    assert "pretrained=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B" in model_args
    assert "tensor_parallel_size=2" in model_args and "max_model_len=40960" in model_args
    assert argv[argv.index("--gen_kwargs") + 1] == "max_gen_toks=32768"
    assert argv[argv.index("--batch_size") + 1] == "auto"
    assert "--apply_chat_template" in argv
    assert json.loads(argv[argv.index("--metadata") + 1]) == {"think_end": "</think>", "data_dir": "/d"}
    assert argv.count("--metadata") == 1


@pytest.mark.parametrize("path", sorted((configs_dir() / "models").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_profile_loads_and_expands(path):
    profile = load_profile(path.stem)
    flags, _ = lm_eval_args(profile)
    assert flags[1] == profile.backend
    assert profile.warnings() == []  # shipped profiles are sane as shipped


def test_data_parallel_and_vlm_profiles():
    flags, _ = lm_eval_args(load_profile("llama-3.1-8b-instruct-dp4"))
    assert "data_parallel_size=4" in flags[3]
    flags, _ = lm_eval_args(load_profile("qwen2.5-vl-7b-instruct"))
    assert flags[1] == "vllm-vlm" and "max_images=6" in flags[3]
    flags, _ = lm_eval_args(load_profile("openai-compatible"))
    assert flags[1] == "local-chat-completions" and "--batch_size" not in flags and "--apply_chat_template" in flags
    assert "max_images=6" in flags[3] and "tokenized_requests=False" in flags[3]


def test_profile_warnings():
    p = ModelProfile(name="x", backend="vllm", path="m", max_model_len=4096, max_gen_toks=3584, batch_size=1)
    text = " | ".join(p.warnings())
    assert "leaves 512 tokens for the prompt" in text
    assert "batch_size 1" in text
    r = ModelProfile(name="r", backend="vllm", path="m", reasoning={"enabled": True}, max_gen_toks=2048)
    assert any("cut off" in w for w in r.warnings())


def test_bad_profiles_name_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nbackend: vllm\npath: m\ntensor_parallel_size: 0\nmax_gen_tokens: 5\n")
    with pytest.raises(ProfileError) as err:
        load_profile(str(bad))
    assert str(bad) in str(err.value)
    assert "tensor_parallel_size" in str(err.value) and "max_gen_tokens" in str(err.value)
    api = tmp_path / "api.yaml"
    api.write_text("name: a\nbackend: local-chat-completions\npath: m\n")
    with pytest.raises(ProfileError, match="needs base_url"):
        load_profile(str(api))
    with pytest.raises(ProfileError, match="shipped profiles: .*qwen2.5-7b-instruct"):
        load_profile("no-such-profile")


def test_profile_command_prints_the_command_and_warnings(tmp_path):
    tight = tmp_path / "tight.yaml"
    tight.write_text("name: t\nbackend: vllm\npath: m\nmax_model_len: 4096\nmax_gen_toks: 4000\n")
    proc = medxpert("profile", str(tight))
    assert proc.returncode == 0
    assert proc.stdout.startswith("medxpert lm-eval --model vllm --model_args pretrained=m,")
    assert "leaves 96 tokens" in proc.stderr
    bad = medxpert("profile", "nope")
    assert bad.returncode == 2 and "no profile 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_lm_eval_with_missing_data_gives_a_clean_error(tmp_path):
    proc = medxpert(
        "lm-eval", "--model", "local-chat-completions", "--model_args", "model=m,base_url=http://127.0.0.1:9/v1",
        "--apply_chat_template", "--tasks", "medbench_medqa", "--metadata", json.dumps({"data_dir": str(tmp_path)}),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"missing data file {tmp_path}/medbench/medqa_test.jsonl" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_think_end_token_model_arg_warns():
    proc = medxpert("lm-eval", "--model", "hf", "--model_args", "pretrained=x,think_end_token=</think>",
                    "--tasks", "no_such_task_xyz")  # fmt: skip
    assert "think_end_token keeps the whole text" in proc.stderr


def test_extract_command_reads_and_writes_jsonl():
    lines = [
        {"response": "A 45-year-old man... Therefore the answer is (C).", "letters": "ABCD"},
        {"response": "<think>long reasoning, answer is B", "letters": "A-E", "think_end": "</think>"},
        {"response": "Answer: H", "letters": "A-J", "id": 7},
        {"response": "Answer: H"},  # default --letters A-E: H is out of range
        {"response": "I think it's the radial head.", "letters": "AB", "options": {"A": "Radial head", "B": "Ulna"}},
    ]
    proc = medxpert("extract", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["extracted"] for o in out[:4]] == ["C", None, "H", None]
    assert out[2]["id"] == 7  # everything else is written back unchanged


@pytest.mark.parametrize(
    "bad, message",
    [("{not json", "Expecting property name"), ('{"response": 5}', 'string \\"response\\"'),
     ('{"response": "x", "letters": "A-Z9"}', "A-Z9"), ('{"response": "x", "letters": null}', "omit it"),
     ('{"response": "x", "letters": ""}', "omit it"), ('{"response": "x", "think_end": 5}', "think_end"),
     ('{"response": "x", "options": ["a", "b"]}', "options"), ('{"response": "x", "options": {"A": 1}}', "options"),
     ("[" * 50_000, "nested too deeply")],
)  # fmt: skip
def test_extract_bad_line_gets_an_error_object_and_the_stream_goes_on(bad, message):
    good = [json.dumps({"response": f"Answer: ({k})", "n": i}) for i, k in enumerate("ABCDE")]
    proc = medxpert("extract", stdin="\n".join([good[0], bad, *good[1:]]) + "\n")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(out) == 6 and out[1]["line"] == 2 and message in json.dumps(out[1]["error"])
    assert [o["extracted"] for o in out[:1] + out[2:]] == list("ABCDE")  # the 4 lines after the bad one too


def test_extract_lone_surrogate_and_reason_field():
    stdin = '{"response": "\\ud800 Answer: (A)"}\n{"response": "Answer: (H)"}\n{"response": "I am not sure."}\n'
    proc = medxpert("extract", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert out[0]["response"] == "\ud800 Answer: (A)" and out[0]["extracted"] == "A"
    assert [(o["extracted"], o["reason"]) for o in out] == [("A", "ok"), (None, "out_of_range"), (None, "no_answer")]
