"""Where the pack's shipped folders live, in a wheel install and in a source checkout.

`tasks/` and `configs/` sit at the top of the repository (lm-eval's own layout) and are copied into the wheel
as `medxpert_ext/tasks` and `medxpert_ext/configs`. An editable install or a plain checkout has them one level
up instead, so both places are looked at, installed copy first.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_DATA = PACKAGE_DIR / "_data"


def _shipped(name: str) -> Path:
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"medxpert-ext: the shipped '{name}/' folder is missing (looked in {PACKAGE_DIR} and {PACKAGE_DIR.parent}); "
        "reinstall the package: pip install --force-reinstall medxpert-ext"
    )


def tasks_dir() -> Path:
    """The lm-eval task folder to pass as --include_path (also the `lm_eval.tasks` entry point)."""
    return _shipped("tasks")


def configs_dir() -> Path:
    return _shipped("configs")


def sampled_ids(name: str) -> list[str]:
    """Official MedXpertQA random subsets (`text_sampled`, `mm_sampled`) as shipped id lists."""
    path = PACKAGE_DATA / f"{name}_ids.txt"
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
