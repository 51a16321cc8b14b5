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
        "medxpert_ext/configs/opencompass/datasets/medxpert_gen.py",
        "medxpert_ext/configs/opencompass/summarizers/medxpert.py",
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


def test_opencompass_configs_import_with_read_base_from_the_wheel(wheel, tmp_path):
    """mmengine's read_base reads <installed package>/configs/...py as files: check it against the wheel's copy."""
    pytest.importorskip("opencompass")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    (tmp_path / "cfg.py").write_text(
        "from mmengine.config import read_base\nwith read_base():\n"
        "    from medxpert_ext.configs.opencompass.datasets.medxpert_gen import medxpert_datasets\n"
        "    from medxpert_ext.configs.opencompass.summarizers.medxpert import medxpert_summary_groups\n"
    )
    code = ("from mmengine.config import Config; from mmengine.utils import get_installed_path\n"
            "c = Config.fromfile('cfg.py', format_python_code=False)\n"
            "print(get_installed_path('medxpert_ext')); print(','.join(d['abbr'] for d in c.medxpert_datasets))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed, abbrs = proc.stdout.split()
    assert installed == str(target / "medxpert_ext")
    assert abbrs == "medxpert_text_reasoning,medxpert_text_understanding,medxpert_mm_reasoning,medxpert_mm_understanding"
