"""Real OpenCompass 0.5.4 runs of the pack's dataset configs against the scripted OpenAI-compatible server.

One OpenCompass run covers MedXpertQA Text and MM (sampled; placeholder images), MedQA, VQA-RAD (synthetic
images; closed and open) and MedLFQA live_qa (lexical metrics). Scores are exact (every reply style has a known
outcome), and the same replies through lm-eval give identical per-sample and per-task numbers: the test fails if
either adapter drifts from the shared core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import SHARED_DATA, needs_shared_data
from tests.mcq_script import McqScript, items_from_rows, style_by_hash
from tests.opencompass_helpers import failure_log, per_sample, results, run, tokenizer_dir, write_config
from tests.scripted_server import user_images, user_text
from tests.vqa_synth import VqaModel, write_dataset

pytestmark = [pytest.mark.e2e, needs_shared_data]

MODULES = {
    "medxpert_sampled_gen": ["medxpert_text_sampled", "medxpert_mm_sampled"],
    "medbench_gen": ["medbench_medqa"],
    "medvqa_gen": ["medvqa_vqarad_closed", "medvqa_vqarad_open"],
    "medlfqa_gen": ["medlfqa_live_qa"],
}
TASKS = [t for abbrs in MODULES.values() for t in abbrs]
MCQ_TASKS = ["medxpert_text_sampled", "medxpert_mm_sampled", "medbench_medqa"]
N_MEDQA = 300  # OpenCompass test_range / lm-eval --limit on MedQA: the first 300 of 1,273


class Model:
    """One scripted model for every task: MCQ prompts by McqScript (images checked), VQA from the decoded image,
    MedLFQA by echoing a fixed answer (or nothing) per question."""

    def __init__(self, mcq: McqScript):
        self.mcq, self.vqa = mcq, VqaModel()
        self.image_messages: list[tuple[int, str]] = []  # (images, text) of every request with images

    def __call__(self, body):
        text = user_text(body)
        if user_images(body):
            self.image_messages.append((len(user_images(body)), text))
        if "Let's think step by step" in text:
            return self.mcq(body)
        if "Answer the question using a single word or phrase" in text:
            return self.vqa(body)
        return "" if len(text) % 5 == 0 else "Drink water and rest; see a doctor if the fever lasts."


@pytest.fixture(scope="module")
def setup(mm_images_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("oc_root")
    for name in ("medxpertqa", "medbench"):
        (root / name).symlink_to(mm_images_root / name)
    (root / "medlfqa").symlink_to(SHARED_DATA / "medlfqa")
    vqa = write_dataset(root, "vqarad", n=24)
    rows = []
    for f in ("medxpertqa/text_sampled.jsonl", "medxpertqa/mm_sampled.jsonl", "medbench/medqa_test.jsonl"):
        rows += [json.loads(line) for line in (SHARED_DATA / f).read_text().splitlines() if line.strip()]
    script = McqScript(items_from_rows(rows), style_by_hash, max_images=6)
    questions = {str(r["id"]): r["question"].strip() for r in rows}
    return {"root": root, "vqa": vqa, "script": script, "questions": questions,
            "tok": tokenizer_dir(tmp_path_factory.mktemp("tok"))}  # fmt: skip


@pytest.fixture(scope="module")
def oc_run(setup, tmp_path_factory):
    from tests.scripted_server import ScriptedServer

    model = Model(setup["script"])
    server = ScriptedServer(model).start()
    try:
        base = tmp_path_factory.mktemp("oc")
        config = write_config(base / "run.py", modules=MODULES, base_url=server.base_url, tokenizer=setup["tok"],
                              evaluator_extra={"factuality": "none"})  # fmt: skip
        # MedQA limited like lm-eval's --limit (other datasets are whole)
        text = config.read_text() + (f"for _d in datasets:\n    if _d['abbr'] == 'medbench_medqa':\n"
                                     f"        _d['reader_cfg'] = dict(_d['reader_cfg'], test_range='[0:{N_MEDQA}]')\n")
        config.write_text(text)
        proc = run(config, base / "work", {"MEDXPERT_DATA_DIR": str(setup["root"])})
        assert proc.returncode == 0, proc.stderr[-3000:] + failure_log(base / "work")
        assert not server.errors, server.errors[0]
        return {"results": results(base / "work"), "requests": server.count, "model": model, "proc": proc,
                "work": base / "work"}  # fmt: skip
    finally:
        server.stop()


def test_opencompass_scores_exactly(oc_run, setup):
    res, script = oc_run["results"], setup["script"]
    assert set(TASKS) <= set(res), sorted(res)
    assert script.image_mismatches == 0, script.mismatch_examples[:3]
    assert oc_run["model"].vqa.no_image == 0
    for task in MCQ_TASKS:
        acc, fail = script.expected([setup["questions"][sid] for sid in per_sample(res[task])])
        assert res[task]["acc"] == pytest.approx(100 * acc, abs=1e-9), task
        assert res[task]["extract_fail"] == pytest.approx(100 * fail, abs=1e-9), task
    assert len(res["medbench_medqa"]["details"]) == N_MEDQA
    assert len(res["medxpert_mm_sampled"]["details"]) == 199 and len(res["medxpert_text_sampled"]["details"]) == 244
    # the style mix covers right, wrong and unreadable answers
    assert 0 < res["medbench_medqa"]["extract_fail"] < 100 and 0 < res["medbench_medqa"]["acc"] < 100
    from tests.test_vqa_e2e import expected_closed, expected_open

    for key, value in expected_closed(setup["vqa"]).items():
        assert res["medvqa_vqarad_closed"][key] == pytest.approx(100 * value, abs=1e-9), key
    for key, value in expected_open(setup["vqa"]).items():
        assert res["medvqa_vqarad_open"][key] == pytest.approx(100 * value, abs=1e-9), key
    lfqa = res["medlfqa_live_qa"]
    assert len(lfqa["details"]) == 100
    assert 0 < lfqa["no_answer"] < 100 and lfqa["hallucination"] != lfqa["hallucination"]  # factuality=none: NaN


@pytest.fixture(scope="module")
def lm_eval_run(setup, tmp_path_factory):
    from tests.scripted_server import ScriptedServer

    model = Model(setup["script"])
    server = ScriptedServer(model).start()
    out = tmp_path_factory.mktemp("lm")
    try:
        cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
               "--model_args", f"model=scripted,base_url={server.chat_url},num_concurrent=32,max_retries=1,"
               "tokenized_requests=False,max_images=6", "--apply_chat_template", "--tasks", ",".join(TASKS),
               "--metadata", json.dumps({"data_dir": str(setup["root"]), "factuality": "none"}),
               "--output_path", str(out), "--log_samples"]  # fmt: skip
        # lm-eval's --limit applies to every task; run MedQA limited and the rest whole, as OpenCompass did
        whole = [t for t in TASKS if t != "medbench_medqa"]
        for tasks, extra in ((whole, []), (["medbench_medqa"], ["--limit", str(N_MEDQA)])):
            c = list(cmd)
            c[c.index(",".join(TASKS))] = ",".join(tasks)
            c[c.index(str(out))] = str(out / tasks[0])
            proc = subprocess.run(c + extra, capture_output=True, text=True, timeout=1200)
            assert proc.returncode == 0, proc.stderr[-3000:]
        samples = {}
        for path in out.rglob("samples_*.jsonl"):
            task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
            samples[task] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        res = {}
        for path in out.rglob("results_*.json"):
            res |= json.loads(path.read_text())["results"]
        return {"samples": samples, "results": res, "out": out, "model": model}
    finally:
        server.stop()


METRICS = {"mcq": ("acc", "extract_fail"), "medvqa_vqarad_closed": ("closed_acc", "closed_unreadable"),
           "medvqa_vqarad_open": ("recall", "f1", "exact_match"), "medlfqa_live_qa": ("rouge1", "rouge2", "rougeL",
           "bleu", "no_answer")}  # fmt: skip
FILTER = {"mcq": "extract", "medvqa_vqarad_closed": "answer", "medvqa_vqarad_open": "answer", "medlfqa_live_qa": "olaph"}


def test_same_outputs_same_scores_in_both_harnesses(oc_run, lm_eval_run):
    """Per sample and per task, lm-eval and OpenCompass agree to the last digit (OpenCompass x 100)."""
    for task in TASKS:
        kind = "mcq" if task in MCQ_TASKS else task
        oc = per_sample(oc_run["results"][task])
        lm = {s["doc"]["id"]: s for s in lm_eval_run["samples"][task]}
        assert set(oc) == set(lm), task
        for sid, scores in oc.items():
            for metric in METRICS[kind]:
                assert scores[metric] == pytest.approx(lm[sid][metric], abs=1e-12, nan_ok=True), (task, sid, metric)
        for metric in METRICS[kind]:
            lm_value = lm_eval_run["results"][task][f"{metric},{FILTER[kind]}"]
            assert oc_run["results"][task][metric] == pytest.approx(100 * lm_value, abs=1e-9, nan_ok=True), (task, metric)


def test_both_harnesses_send_the_same_image_messages(oc_run, lm_eval_run):
    """Same images, same text: lm-eval's API path drops the ``<image>`` lines meant for local backends, as the
    OpenCompass path never adds them (a served model would otherwise read them as words, or as image tokens)."""
    sent = sorted(oc_run["model"].image_messages)
    assert len(sent) == 199 + 24  # MedXpertQA MM sampled + VQA-RAD
    assert sorted(lm_eval_run["model"].image_messages) == sent
    assert not any("<image>" in text for _, text in sent)


def test_judge_through_opencompass_then_lm_eval_pays_nothing(setup, scripted_server, tmp_path):
    """The judge config scores through OpenCompass; the same samples judged through lm-eval's judge task hit the
    shared cache: 0 judge requests."""
    from tests.test_judge_e2e import ScriptedJudge, _env, _expected

    rows = [json.loads(line) for line in (SHARED_DATA / "medxpertqa" / "text_sampled.jsonl").read_text().splitlines()]
    model = scripted_server(McqScript(items_from_rows(rows), style_by_hash))
    judge = ScriptedJudge(rows)
    judge.broken = set()  # no faults here: every verdict is bought once
    judge_server = scripted_server(judge)
    env = _env(tmp_path, judge_server.base_url) | {"MEDXPERT_DATA_DIR": str(SHARED_DATA)}
    config = write_config(tmp_path / "judge.py", modules={"medxpert_judge_gen": ["medxpert_text_sampled_judge"]},
                          base_url=model.base_url, tokenizer=setup["tok"])  # fmt: skip
    proc = run(config, tmp_path / "work", env)
    assert proc.returncode == 0, proc.stderr[-3000:] + failure_log(tmp_path / "work")
    assert not judge_server.errors, judge_server.errors[0]
    row = results(tmp_path / "work")["medxpert_text_sampled_judge"]
    for key, value in _expected(judge, rows).items():
        assert row[key] == pytest.approx(100 * value, abs=1e-9), key
    bought = judge_server.count
    assert bought == sum(style_by_hash(r["question"].strip()) != "truncated_reasoning" for r in rows)
    assert env["MEDXPERT_JUDGE_API_KEY"] not in "".join(p.read_text(errors="ignore") for p in (tmp_path / "work").rglob("*") if p.is_file())

    cmd = [sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
           "--model_args", f"model=scripted,base_url={model.chat_url},num_concurrent=16,max_retries=1,tokenized_requests=False",
           "--apply_chat_template", "--tasks", "medxpert_text_sampled_judge",
           "--metadata", json.dumps({"data_dir": str(SHARED_DATA)}), "--output_path", str(tmp_path / "lm")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert judge_server.count == bought  # every verdict came from the cache
    (results_file,) = (tmp_path / "lm").rglob("results_*.json")
    lm = json.loads(results_file.read_text())["results"]["medxpert_text_sampled_judge"]
    assert 100 * lm["judge_acc,judge"] == pytest.approx(row["judge_acc"], abs=1e-9)


def test_a_profile_runs_opencompass_at_the_profiles_concurrency(setup, tmp_path):
    """`medxpert opencompass --profile`: the OpenAISDK model written from an endpoint profile keeps exactly
    ``num_concurrent`` requests in flight, as lm-eval does (OpenCompass' ``query_per_second`` token bucket set to
    num_concurrent let ~2 of 4 run at this latency, and made 1,517 requests at 32 concurrent 9x slower), and the
    run scores exactly."""
    import yaml

    from tests.scripted_server import ScriptedServer

    n, concurrent = 48, 4
    with ScriptedServer(setup["script"], latency=0.3) as server:
        profile = tmp_path / "endpoint.yaml"
        profile.write_text(yaml.safe_dump({"name": "endpoint", "backend": "local-chat-completions", "path": "scripted",
                                           "base_url": server.chat_url, "tokenizer": str(setup["tok"]),
                                           "num_concurrent": concurrent, "max_gen_toks": 1024}))  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDXPERT_", "OPENAI_"))}
        env |= {"OPENAI_API_KEY": "EMPTY", "HF_HUB_OFFLINE": "1", "MEDXPERT_DATA_DIR": str(setup["root"])}
        proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "opencompass", "--profile", str(profile),
                               "--tasks", "medbench_medqa", "--limit", str(n), "-w", str(tmp_path / "work")],
                              capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:] + failure_log(tmp_path / "work")
        assert (server.count, server.max_in_flight) == (n, concurrent)
    res = results(tmp_path / "work", model="endpoint")["medbench_medqa"]
    acc, fail = setup["script"].expected([setup["questions"][sid] for sid in per_sample(res)])
    assert (res["acc"], res["extract_fail"]) == (pytest.approx(100 * acc), pytest.approx(100 * fail))
    assert len(res["details"]) == n


def test_missing_image_is_the_same_named_error_in_both_harnesses(setup, tmp_path):
    """A data root whose MM images lack one file: both wrappers stop before any request with the loader's
    message naming the image, not a traceback from an OpenCompass worker."""
    root = tmp_path / "root"
    (root / "medxpertqa" / "images").mkdir(parents=True)
    (root / "medxpertqa" / "mm_sampled.jsonl").symlink_to(SHARED_DATA / "medxpertqa" / "mm_sampled.jsonl")
    images = setup["root"] / "medxpertqa" / "images"
    names = sorted(p.name for p in images.iterdir())
    for name in names:
        (root / "medxpertqa" / "images" / name).symlink_to(images / name)
    first = json.loads((SHARED_DATA / "medxpertqa" / "mm_sampled.jsonl").read_text().splitlines()[0])
    gone = first["images"][0]["image_path"]
    (root / "medxpertqa" / "images" / gone).unlink()
    config = write_config(tmp_path / "cfg.py", modules={"medxpert_sampled_gen": ["medxpert_mm_sampled"]},
                          base_url="http://127.0.0.1:9/v1", tokenizer=setup["tok"])  # fmt: skip
    oc = run(config, tmp_path / "work", {"MEDXPERT_DATA_DIR": str(root)})
    lm = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "lm-eval", "--model", "local-chat-completions",
                         "--model_args", "model=x,base_url=http://127.0.0.1:9/v1/chat/completions",
                         "--apply_chat_template", "--tasks", "medxpert_mm_sampled",
                         "--metadata", json.dumps({"data_dir": str(root)})],
                        capture_output=True, text=True, timeout=600)  # fmt: skip
    for proc in (oc, lm):
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert f"missing image {root.resolve() / 'medxpertqa' / 'images' / gone}" in proc.stderr
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("predictions"))


def test_one_leaderboard_over_both_harnesses(oc_run, lm_eval_run, tmp_path):
    """Both runs ingested into one store: the leaderboard shows the same numbers as each harness (percent), and
    the two harnesses' rows agree on every MCQ task."""
    pytest.importorskip("sqlalchemy")
    db = tmp_path / "store.db"
    for path in (oc_run["work"], lm_eval_run["out"]):
        proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "ingest", str(path), "--db", str(db)],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "medxpert_ext.cli", "leaderboard", "--db", str(db), "--by", "run",
                           "--format", "json", "--no-published"], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)["rows"]
    by_harness: dict[str, dict] = {}
    for row in rows:
        by_harness.setdefault(row["harness"], {}).update(row["scores"])
    assert set(by_harness) == {"lm-eval", "opencompass"}, [r["harness"] for r in rows]
    for task in MCQ_TASKS:
        oc, lm = by_harness["opencompass"][task], by_harness["lm-eval"][task]
        assert oc["value"] == pytest.approx(oc_run["results"][task]["acc"], abs=1e-9), task
        assert lm["value"] == pytest.approx(100 * lm_eval_run["results"][task]["acc,extract"], abs=1e-9), task
        assert oc["value"] == pytest.approx(lm["value"], abs=1e-9), task
        assert oc["extract_fail"] == pytest.approx(lm["extract_fail"], abs=1e-9), task
