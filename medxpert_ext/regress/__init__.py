"""Regression gate between two runs (``medxpert regress BASE CAND``): paired statistics per sample, a decision
with exit codes for CI, and reports. ``inputs`` reads runs, ``stats`` compares, ``gate`` decides, ``report``
renders."""

from .gate import (
           EXIT_CANNOT_COMPARE,
           EXIT_OK,
           EXIT_REGRESSION,
           GateConfig,
           GateResult,
           evaluate,
           load_config,
)
from .inputs import RunSamples, TaskSamples, load_run, read_lmeval, register_reader

__all__ = ["EXIT_CANNOT_COMPARE", "EXIT_OK", "EXIT_REGRESSION", "GateConfig", "GateResult", "RunSamples",
           "TaskSamples", "evaluate", "load_config", "load_run", "read_lmeval", "register_reader"]  # fmt: skip
