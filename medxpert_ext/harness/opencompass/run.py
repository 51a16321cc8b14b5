"""``medxpert opencompass``: run ``opencompass`` on a config after checking, in the first seconds, what would
otherwise fail minutes later inside an OpenCompass subprocess log.

OpenCompass builds each dataset in a worker subprocess; a missing data file or image there ends as a traceback
in ``logs/infer/...`` while the main process only says the task failed. The preflight loads every pack dataset
of the config through the shared loader in this process (same named errors as lm-eval) and checks that
``OpenAISDK`` models have a local tokenizer, then hands the config to OpenCompass unchanged.

With ``--profile NAME`` (and ``--datasets``), a run config is written from the model profile and the pack's
dataset configs, so a user need not write one.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from ...errors import DataError
from ...profiles import ProfileError

log = logging.getLogger("medxpert_ext.opencompass")
DATASET_TYPE = "medxpert_ext.harness.opencompass.datasets.MedxpertDataset"
MODULES = ("medxpert_gen", "medxpert_sampled_gen", "medbench_gen", "medvqa_gen", "medlfqa_gen", "medxpert_judge_gen",
           "medbench_judge_gen", "medvqa_judge_gen", "medlfqa_judge_gen")  # fmt: skip


def _type_name(value: Any) -> str:
    return value if isinstance(value, str) else f"{value.__module__}.{value.__qualname__}"


def _test_range(docs: list, spec: Any) -> list:
    if not spec:
        return docs
    return eval(f"docs{spec}", {"docs": docs})  # OpenCompass' own syntax, e.g. "[0:20]"


def preflight(config_path: str | os.PathLike, max_num_workers: int = 1) -> list[str]:
    """Load the config; check every pack dataset's data and every API model's tokenizer. Returns a line per
    dataset checked; raises DataError / ProfileError naming the dataset and file.

    ``max_num_workers`` (OpenCompass' flag): with more than one, OpenCompass splits every dataset into that many
    infer tasks and runs them at once, each with its own ``max_workers`` threads, so an endpoint sees that many
    times the requests in flight; said in a warning, since a profile's ``num_concurrent`` promises otherwise."""
    from mmengine.config import Config

    from ...benchmarks import task

    cfg = Config.fromfile(str(config_path), format_python_code=False)
    lines = []
    for d in cfg.get("datasets", []):
        if _type_name(d.get("type")) != DATASET_TYPE and not str(d.get("type")).endswith("MedxpertDataset"):
            continue
        try:
            docs = _test_range(task(d["task"]).load(d.get("data_dir")), (d.get("reader_cfg") or {}).get("test_range"))
        except KeyError as exc:
            raise DataError(f"dataset {d.get('abbr')}: {exc.args[0]}") from None
        except DataError as exc:
            raise DataError(f"dataset {d.get('abbr')}: {exc}") from None
        lines.append(f"{d.get('abbr')}: {len(docs)} questions")
    for m in cfg.get("models", []):
        if _type_name(m.get("type")).endswith("OpenAISDK"):
            tok = m.get("tokenizer_path")
            if not tok or not Path(tok).is_dir():
                raise ProfileError(f"model {m.get('abbr')}: OpenAISDK needs a LOCAL tokenizer_path (got {tok!r}); "
                                   "offline it dies trying to download one")  # fmt: skip
            if "OPENAI_API_KEY" not in os.environ:
                raise ProfileError(f"model {m.get('abbr')}: OpenAISDK reads its key from OPENAI_API_KEY; set it "
                                   "(OPENAI_API_KEY=EMPTY for a keyless local server)")  # fmt: skip
            workers = m.get("max_workers") or 1
            if max_num_workers > 1:
                log.warning("medxpert: WARNING: model %s: --max-num-workers %d runs %d infer tasks at once, each "
                            "with max_workers=%d: up to %d requests in flight at the endpoint (divide max_workers "
                            "by %d in the config to keep %d)", m.get("abbr"), max_num_workers, max_num_workers,
                            workers, max_num_workers * workers, max_num_workers, workers)  # fmt: skip
    return lines


def _max_num_workers(args: list[str]) -> int:
    """OpenCompass' ``--max-num-workers`` among pass-through flags (its default is 1)."""
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "--max-num-workers" and i + 1 < len(args) else None
        if arg.startswith("--max-num-workers="):
            value = arg.split("=", 1)[1]
        if value is not None:
            return int(value) if value.isdigit() else 1  # OpenCompass' argparse rejects the rest itself
    return 1


def write_config(path: Path, profile: str, datasets: list[str] | None = None, *, tasks: list[str] | None = None,
                 limit: int | None = None, tokenizer_path: str | None = None, data_dir: str | None = None) -> Path:  # fmt: skip
    """A run config for ``opencompass``: the profile's model and either whole dataset config modules
    (``datasets``) or single tasks by canonical name (``tasks``, e.g. from the sweep); ``limit`` keeps the first
    N questions of each (OpenCompass' ``test_range``, like lm-eval's ``--limit``)."""
    from ...benchmarks import GROUPS, JUDGE_OF, TASKS
    from .models import models_from_profile

    if tasks:  # groups by their lm-eval names: medxpert, medxpert_text, medbench, medvqa, medlfqa ...
        tasks = [t for name in tasks for t in GROUPS.get(name) or _family(name, TASKS) or (name,)]

    modules = list(datasets or (MODULES if tasks else ["medxpert_gen"]))
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ProfileError(f"unknown dataset config {', '.join(unknown)}; known: {', '.join(MODULES)}")
    bad = [t for t in tasks or [] if t not in TASKS and t not in JUDGE_OF]
    if bad:
        raise ProfileError(f"unknown task {', '.join(bad)} (`medxpert tasks` lists them)")
    models = models_from_profile(profile, **({"tokenizer_path": tokenizer_path} if tokenizer_path else {}))
    imports = "\n".join(f"    from medxpert_ext.configs.opencompass.datasets.{m} import {m.removesuffix('_gen')}_datasets"
                        for m in modules)  # fmt: skip
    names = " + ".join(f"{m.removesuffix('_gen')}_datasets" for m in modules)
    select = f"datasets = [d for d in {names} if d['abbr'] in {list(tasks)!r}]\n" if tasks else f"datasets = {names}\n"
    text = (
        '"""Written by `medxpert opencompass --profile`; edit freely."""\n'
        "from mmengine.config import read_base\n\nwith read_base():\n"
        f"{imports}\n    from medxpert_ext.configs.opencompass.summarizers.medxpert import medxpert_summary_groups\n\n"
        + select
        + (f"for _d in datasets:\n    _d['data_dir'] = {data_dir!r}\n" if data_dir else "")
        + (f"for _d in datasets:\n    _d['reader_cfg'] = dict(_d['reader_cfg'], test_range='[0:{int(limit)}]')\n"
           if limit else "")
        + f"models = {models!r}\nsummarizer = dict(summary_groups=medxpert_summary_groups)\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _family(name: str, tasks: dict) -> tuple[str, ...]:
    """``medvqa`` / ``medlfqa``: every task of the family (lm-eval's groups of the same names)."""
    if name not in ("medvqa", "medlfqa"):
        return ()
    return tuple(t for t in tasks if t.startswith(name + "_") and t != "medvqa_omnimedvqa")


def run_opencompass(config: str | os.PathLike, args: list[str]) -> int:
    """Preflight, then ``opencompass CONFIG ARGS`` in this process; returns its exit status.

    In this process, not a child: loading the config already imported OpenCompass (the pack's dataset configs
    import its dataset base class, which imports all of ``opencompass.datasets``: ~9 s here), and a child would
    pay that again before its first line of work. OpenCompass still runs each infer and eval task in its own
    subprocess."""
    for line in preflight(config, _max_num_workers(args)):
        sys.stderr.write(f"medxpert: ok {line}\n")
    from opencompass.cli.main import main

    saved = sys.argv
    sys.argv = ["opencompass", str(config), *args]
    try:
        main()
    except SystemExit as exc:  # argparse errors, --help, and OpenCompass' own exits
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return 0
