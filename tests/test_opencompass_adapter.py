"""The OpenCompass adapter without a model run: configs load with read_base, model dicts come from the profiles,
the think rule, the summarizer's paper columns, and the evaluators agree with the lm-eval filter per sample."""

from __future__ import annotations

import csv
import json
import math

import pytest

pytest.importorskip("opencompass", reason="OpenCompass not installed (pip install -e '.[opencompass]')")

from medxpert_ext.benchmarks import JUDGE_OF, TASKS  # noqa: E402
from medxpert_ext.harness.opencompass import McqEvaluator, models_from_profile, strip_think  # noqa: E402
from medxpert_ext.harness.opencompass.postprocess import UNTERMINATED  # noqa: E402
from medxpert_ext.profiles import ProfileError  # noqa: E402
from medxpert_ext.resources import configs_dir  # noqa: E402
from tests.helpers import SHARED_DATA, needs_shared_data  # noqa: E402

MODULES = {
    "medxpert_gen": 4, "medxpert_sampled_gen": 2, "medbench_gen": 3, "medvqa_gen": 11, "medlfqa_gen": 5,
    "medxpert_judge_gen": 4, "medbench_judge_gen": 3, "medvqa_judge_gen": 5, "medlfqa_judge_gen": 5,
}  # fmt: skip


def _load(tmp_path, body: str):
    from mmengine.config import Config

    path = tmp_path / "cfg.py"
    path.write_text(body)
    return Config.fromfile(str(path), format_python_code=False)


def test_every_dataset_config_imports_with_read_base_and_uses_canonical_names(tmp_path):
    imports = "\n".join(f"    from medxpert_ext.configs.opencompass.datasets.{m} import {m[:-4]}_datasets" for m in MODULES)
    cfg = _load(tmp_path, "from mmengine.config import read_base\nwith read_base():\n" + imports + "\n")
    for module, n in MODULES.items():
        datasets = cfg[f"{module[:-4]}_datasets"]
        assert len(datasets) == n, module
        for d in datasets:
            assert d["abbr"] in TASKS or d["abbr"] in JUDGE_OF, d["abbr"]  # abbr == the lm-eval task name
            assert d["task"] in TASKS, d["task"]
            assert d["type"].endswith("MedxpertDataset") if isinstance(d["type"], str) else True
            assert d["eval_cfg"]["evaluator"]["task"] == d["abbr"]


def test_example_run_configs_match_the_profiles(tmp_path):
    for name, profile, overrides in (("eval_medxpert_vllm.py", "qwen2.5-7b-instruct", {}),
                                     ("eval_medxpert_api.py", "openai-compatible",
                                      {"tokenizer_path": "/path/to/local/tokenizer"})):  # fmt: skip
        cfg = _load(tmp_path, (configs_dir() / "opencompass" / name).read_text())
        assert [dict(m) for m in cfg["models"]] == models_from_profile(profile, **overrides), name
        assert cfg["datasets"] and cfg["summarizer"]["summary_groups"]


def test_models_from_profile(tmp_path):
    (vllm,) = models_from_profile("qwen2.5-7b-instruct")
    assert vllm["type"] == "opencompass.models.VLLMwithChatTemplate"
    assert vllm["model_kwargs"]["tensor_parallel_size"] == vllm["run_cfg"]["num_gpus"] == 2
    assert vllm["model_kwargs"]["max_model_len"] == 16384 and vllm["model_kwargs"]["gpu_memory_utilization"] == 0.9
    assert vllm["max_out_len"] == 8192 and vllm["generation_kwargs"] == {"temperature": 0.0}
    assert "pred_postprocessor" not in vllm
    (r1,) = models_from_profile("deepseek-r1-distill-qwen-7b")
    assert r1["pred_postprocessor"] == {"type": "medxpert_ext.harness.opencompass.postprocess.strip_think",
                                        "think_end": "</think>"}  # fmt: skip
    with pytest.raises(ProfileError, match="local tokenizer"):
        models_from_profile("openai-compatible")
    (api,) = models_from_profile("openai-compatible", tokenizer_path=str(tmp_path))
    assert api["openai_api_base"] == "http://localhost:8000/v1/" and api["key"] == "ENV"
    assert api["tokenizer_path"] == str(tmp_path) and api["temperature"] == 0.0
    # requests in flight = the profile's num_concurrent; rate limit and batch barrier above it (e2e test checks)
    assert (api["max_workers"], api["query_per_second"], api["batch_size"]) == (64, 640, 256)
    with pytest.raises(ProfileError, match="vllm serve"):
        models_from_profile("qwen2.5-vl-7b-instruct")


def test_think_rule():
    assert strip_think("<think>long reasoning</think>\nThe answer is (B).").strip() == "The answer is (B)."
    assert strip_think("<think>cut off by the token lim") == UNTERMINATED
    assert strip_think("reasoning without the tag, answer (C)") == UNTERMINATED  # think_end expected, never came
    assert strip_think(None) == UNTERMINATED


def test_summary_groups_reproduce_the_papers_gpt4o_columns(tmp_path):
    """GPT-4o's counts in the MedXpertQA paper -> the weighted groups give its Avg_Text / Avg_MM / overall."""
    from mmengine.config import ConfigDict
    from opencompass.summarizers import DefaultSummarizer

    counts = {"medxpert_text_reasoning": (570, 1861), "medxpert_text_understanding": (174, 589),
              "medxpert_mm_reasoning": (589, 1446), "medxpert_mm_understanding": (267, 554)}  # fmt: skip
    work = tmp_path / "work"
    (work / "results" / "gpt4o").mkdir(parents=True)
    for abbr, (right, n) in counts.items():
        (work / "results" / "gpt4o" / f"{abbr}.json").write_text(json.dumps({"acc": 100 * right / n, "extract_fail": 0.0}))
    cfg = _load(tmp_path, "from mmengine.config import read_base\nwith read_base():\n"
                "    from medxpert_ext.configs.opencompass.summarizers.medxpert import medxpert_summary_groups\n"
                "    from medxpert_ext.configs.opencompass.datasets.medxpert_gen import medxpert_datasets\n")  # fmt: skip
    config = ConfigDict(models=[dict(abbr="gpt4o", type="x", path="x")], datasets=cfg["medxpert_datasets"],
                        work_dir=str(work))  # fmt: skip
    DefaultSummarizer(config, summary_groups=cfg["medxpert_summary_groups"]).summarize(time_str="t")
    rows = list(csv.DictReader((work / "summary" / "summary_t.csv").open()))
    got = {r["dataset"]: float(r["gpt4o"]) for r in rows if r["metric"] == "acc"}
    assert {g: got[g] for g in ("medxpert_text", "medxpert_mm", "medxpert")} == \
        {"medxpert_text": 30.37, "medxpert_mm": 42.80, "medxpert": 35.96}  # fmt: skip


REPLIES = [
    "Therefore, among A through D, the answer is ({g}).",
    "<think>maybe {w}</think>\nThe answer is **{g}**.",
    "<think>A 45-year-old man, option {g} looks right, the answer is ({g}) unless",
    "No idea. A doctor should be consulted.",
    "The answer is ({g}) or ({w}).",
    '{{"answer": "{w}"}}',
    "A 45-year-old man presents with...",
]


@needs_shared_data
@pytest.mark.parametrize("think_end", [None, "</think>"])
def test_evaluator_and_lm_eval_filter_agree_per_sample(think_end):
    """The two adapters over the same raw responses: lm-eval's filter (think_end from metadata on the doc) vs
    OpenCompass' evaluator after the model's pred_postprocessor (the profile's think rule)."""
    from datasets import Dataset

    from medxpert_ext.benchmarks import task
    from medxpert_ext.harness.lmeval import ExtractChoice, process_results
    from medxpert_ext.harness.opencompass.datasets import _row

    docs = task("medbench_medqa").load(SHARED_DATA)[:60]
    responses = []
    for i, doc in enumerate(docs):
        wrong = "ABCD"[("ABCD".index(doc["answer"]) + 1) % 4]
        responses.append(REPLIES[i % len(REPLIES)].format(g=doc["answer"], w=wrong))
    lm_docs = [dict(d, think_end=think_end) for d in docs]
    filtered = ExtractChoice().apply([[r] for r in responses], lm_docs)
    lm = [process_results(d, f) for d, f in zip(lm_docs, filtered)]
    preds = [strip_think(r, think_end) if think_end else r for r in responses]
    rows = Dataset.from_list([_row(d, "prompt") for d in docs])
    oc = McqEvaluator(task="medbench_medqa").score(preds, [d["answer"] for d in docs], rows)
    for lm_scores, detail in zip(lm, oc["details"]):
        assert detail["scores"] == lm_scores, detail["id"]
    assert oc["acc"] == pytest.approx(100 * sum(s["acc"] for s in lm) / len(lm))
    assert oc["extract_fail"] == pytest.approx(100 * sum(s["extract_fail"] for s in lm) / len(lm))
    assert 0 < oc["extract_fail"] < 100 and not math.isnan(oc["acc"])


def test_run_config_from_a_profile_selects_tasks_by_name(tmp_path):
    """What `medxpert opencompass --profile P --tasks ... --limit N` (and the sweep) writes."""
    from mmengine.config import Config

    from medxpert_ext.harness.opencompass.run import write_config

    path = write_config(tmp_path / "run.py", "qwen2.5-7b-instruct", tasks=["medbench_medqa", "medxpert_text_sampled_judge"],
                        limit=5, data_dir="/data")  # fmt: skip
    cfg = Config.fromfile(str(path), format_python_code=False)
    assert sorted(d["abbr"] for d in cfg["datasets"]) == ["medbench_medqa", "medxpert_text_sampled_judge"]
    assert all(d["reader_cfg"]["test_range"] == "[0:5]" and d["data_dir"] == "/data" for d in cfg["datasets"])
    assert [dict(m) for m in cfg["models"]] == models_from_profile("qwen2.5-7b-instruct")
    with pytest.raises(ProfileError, match="unknown task medbench_medq"):
        write_config(tmp_path / "bad.py", "qwen2.5-7b-instruct", tasks=["medbench_medq"])


def test_parallel_infer_tasks_multiply_the_endpoints_concurrency_and_say_so(tmp_path, monkeypatch, caplog):
    """`--max-num-workers 4` splits every dataset into 4 infer tasks that run at once, each with the profile's
    max_workers: the preflight says how many requests the endpoint will see in flight."""
    import logging

    from medxpert_ext.harness.opencompass.run import _max_num_workers, preflight, write_config
    from medxpert_ext.cli.demo import BUNDLED_ROOT

    monkeypatch.setenv("OPENAI_API_KEY", "EMPTY")
    path = write_config(tmp_path / "run.py", "openai-compatible", tasks=["medxpert_text_sampled"], limit=3,
                        tokenizer_path=str(tmp_path), data_dir=str(BUNDLED_ROOT))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="medxpert_ext.opencompass"):
        assert preflight(path) == ["medxpert_text_sampled: 3 questions"]
        assert not caplog.records
        preflight(path, _max_num_workers(["-w", "out", "--max-num-workers", "4", "-r"]))
    assert "--max-num-workers 4 runs 4 infer tasks at once, each with max_workers=64: up to 256 requests" in caplog.text
    assert [_max_num_workers(a) for a in (["--max-num-workers=2"], [], ["--max-num-workers"])] == [2, 1, 1]
