"""OpenCompass adapter: the pack's tasks as OpenCompass 0.5.4 datasets, scored by the SAME core as lm-eval.

- :mod:`.datasets`: ``MedxpertDataset`` loads a task by its canonical (lm-eval) name through the shared loader
  and adds the shared prompt (a ``prompt`` column, or chat ``messages`` with image parts for image tasks);
- :mod:`.evaluators`: one evaluator per task kind, each a loop over the core's per-sample scoring functions, so
  the same model output gets the same ``acc`` / ``extract_fail`` / VQA / MedLFQA / judge numbers in both harnesses
  (OpenCompass shows them on a 0-100 scale, lm-eval on 0-1);
- :mod:`.models`: OpenCompass model dicts from the pack's model profiles;
- :mod:`.postprocess`: the model-level ``pred_postprocessor`` that applies the pack's think rule.

Config modules importable with ``read_base`` live in ``medxpert_ext/configs/opencompass/``. OpenCompass runs
every task in a subprocess from a dumped config with dotted ``type`` strings, so everything here is importable
by path and holds no state between calls.
"""

from .datasets import MedxpertDataset
from .evaluators import (
    LfqaEvaluator,
    LfqaJudgeEvaluator,
    McqEvaluator,
    McqJudgeEvaluator,
    VqaClosedEvaluator,
    VqaMedEvaluator,
    VqaOpenEvaluator,
    VqaOpenJudgeEvaluator,
)
from .models import models_from_profile
from .postprocess import strip_think

__all__ = [
    "LfqaEvaluator", "LfqaJudgeEvaluator", "McqEvaluator", "McqJudgeEvaluator", "MedxpertDataset",
    "VqaClosedEvaluator", "VqaMedEvaluator", "VqaOpenEvaluator", "VqaOpenJudgeEvaluator", "models_from_profile",
    "strip_think",
]
