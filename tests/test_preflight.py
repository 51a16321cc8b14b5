"""Preflight: unknown tasks and missing/bad data fail in the first seconds, before a model is loaded, with one
line per problem; `medxpert check` runs it alone; every results file records where its data came from."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from medxpert_ext.data import Benchmark, DataSpec, provenance
from medxpert_ext.data.mcq import MEDXPERTQA_REVISION
from medxpert_ext.preflight import check, task_needs
from medxpert_ext.resources import PACKAGE_DATA

BUNDLED = PACKAGE_DATA / "demo"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MEDXPERT_DATA_DIR"}
    return subprocess.run([sys.executable, "-m", "medxpert_ext.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_typo_in_a_task_name_suggests_and_hints(tmp_path):
    res = _cli("check", "--tasks", "medxpert_txt_sampled", cwd=tmp_path)
    assert res.returncode == 2
    assert "unknown task 'medxpert_txt_sampled'; did you mean medxpert_text_sampled" in res.stderr
    assert '--include_path "$(medxpert tasks-dir)"' in res.stderr and "Traceback" not in res.stderr


def test_lm_eval_missing_data_fails_before_the_model_loads(tmp_path):
    root = tmp_path / "root"
    (root / "medbench").mkdir(parents=True)
    # the model does not exist: had lm-eval got as far as loading it, the error would be about the model
    res = _cli("lm-eval", "--model", "hf", "--model_args", f"pretrained={tmp_path / 'no-such-model'}",
               "--tasks", "medbench", "--metadata", json.dumps({"data_dir": str(root)}), cwd=tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]
    err = res.stderr.strip().splitlines()
    assert err[0] == "medxpert: error: 3 problem(s) before the run could start:"
    assert any(line.startswith("medbench_medqa: missing data file ") and "medqa_test.jsonl" in line for line in err)
    assert "no-such-model" not in res.stderr and "Traceback" not in res.stderr


def test_check_reports_every_problem_and_the_good_tasks(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(BUNDLED, root)
    bad = root / "medxpertqa" / "text_sampled.jsonl"
    lines = bad.read_text().splitlines()
    row = json.loads(lines[5])
    row["question_type"] = "Other"
    bad.write_text("\n".join(lines[:5] + [json.dumps(row)] + lines[6:]) + "\n")
    report = check(["medxpert_text_sampled", "medbench_medqa", "not_ours"], root)
    assert [c.task for c in report.checks] == ["medxpert_text_sampled", "medbench_medqa"]
    assert report.problems[0].startswith(f"medxpert_text_sampled: {bad}:6: sample {row['id']}: question_type 'Other'")
    assert report.problems[1].startswith("medbench_medqa: missing data file")


def test_check_ok_on_the_bundled_sample(tmp_path):
    res = _cli("check", "--tasks", "medxpert_text_sampled", "--data-dir", str(BUNDLED), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"ok  medxpert_text_sampled: 244 questions, {BUNDLED.resolve()}" in res.stdout


def test_tasks_lists_groups_with_published_sizes(tmp_path):
    res = _cli("tasks", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [line.split() for line in res.stdout.splitlines()]
    assert ["medxpert", "4,450"] == lines[[l[0] if l else "" for l in lines].index("medxpert")][:2]
    assert ["medbench", "6,545"] in [l[:2] for l in lines]
    assert ["medxpert_text_sampled", "244"] in [l[:2] for l in lines]


def test_task_needs_judge_and_images():
    needs = task_needs("medxpert_mm_sampled_judge")
    assert needs.judge and needs.images and needs.data.bench.sampled == "mm_sampled"
    assert task_needs("medvqa_slake_judge").data.answer_type == "open"
    assert task_needs("hellaswag") is None


def test_provenance_local_checksums_and_hub_revision():
    spec = DataSpec("mcq", bench=Benchmark("medxpertqa_text", "medxpertqa_text", sampled="text_sampled"))
    local = provenance(spec, BUNDLED)
    path = BUNDLED / "medxpertqa" / "text_sampled.jsonl"
    assert local == {"source": "local", "data_root": str(BUNDLED.resolve()),
                     "files": {"medxpertqa/text_sampled.jsonl": {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                                                  "bytes": path.stat().st_size}}}  # fmt: skip
    env = os.environ.pop("MEDXPERT_DATA_DIR", None)
    try:
        hub = provenance(spec, None)
    finally:
        if env is not None:
            os.environ["MEDXPERT_DATA_DIR"] = env
    assert hub == {"source": "hub", "repo": "TsinghuaC3I/MedXpertQA", "revision": MEDXPERTQA_REVISION,
                   "config": "Text", "split": "test", "sampled": "text_sampled"}  # fmt: skip


def test_only_the_pack_index_when_every_task_is_ours():
    import lm_eval.tasks

    from medxpert_ext.harness.lmeval_run import _ours_only_index, resolve_tasks
    from medxpert_ext.resources import tasks_dir

    includes = [str(tasks_dir())]
    ours = resolve_tasks(["medxpert", "medbench_medqa"], includes)
    assert ours.ours_only and "medxpert_mm_reasoning" in ours.leaves and "medbench_medqa" in ours.leaves
    with _ours_only_index(True):  # what lm-eval's run builds inside
        manager = lm_eval.tasks.TaskManager(include_path=includes)
    assert "medxpert_text_sampled" in manager.all_tasks and "hellaswag" not in manager.all_tasks
    assert lm_eval.tasks.TaskManager.__name__ == "TaskManager"  # restored afterwards


def test_judge_task_without_openai_is_a_preflight_problem(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    report = check(["medxpert_text_sampled_judge"], BUNDLED)
    assert report.checks[0].docs == 244
    assert len(report.problems) == 1 and "pip install 'medxpert-ext[api]'" in report.problems[0]
    assert "medxpert_text_sampled_judge (LLM judge)" in report.problems[0]
