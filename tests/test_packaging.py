"""The installed wheel (not only an editable checkout) carries the task folder, configs and data files."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.helpers import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                           "-w", str(out), "-q"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("medxpert_ext-*.whl")
    return path


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "medxpert_ext/tasks/medxpert/_medxpert.yaml",
        "medxpert_ext/tasks/medxpert/utils.py",
        "medxpert_ext/tasks/medbench/_default_template_yaml",
        "medxpert_ext/tasks/medvqa/_medvqa.yaml",
        "medxpert_ext/tasks/medlfqa/_medlfqa.yaml",
        "medxpert_ext/configs/models/qwen2.5-7b-instruct.yaml",
        "medxpert_ext/_data/text_sampled_ids.txt",
        "medxpert_ext/_data/mm_sampled_ids.txt",
        "medxpert_ext/_data/demo/medxpertqa/text_sampled.jsonl",
    ):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[lm_eval.tasks]" in text and "medxpert = medxpert_ext.resources:tasks_dir" in text
    assert "medxpert = medxpert_ext.cli:main" in text


def test_installed_wheel_finds_its_own_tasks(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    code = "from medxpert_ext.resources import tasks_dir, configs_dir; print(tasks_dir()); print(configs_dir())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, check=True)  # fmt: skip
    tasks, configs = proc.stdout.split()
    assert tasks == str(target / "medxpert_ext" / "tasks")
    assert configs == str(target / "medxpert_ext" / "configs")
