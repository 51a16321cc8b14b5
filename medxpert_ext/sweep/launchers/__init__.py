"""Where the per-checkpoint work runs. The sweep does not schedule anything itself: ``local`` runs it here
(sequentially or N at a time, each pinned to its own GPUs), ``slurm`` hands it to Slurm as an array job, ``ray``
to a Ray cluster. Every launcher reports through the same three calls, so the driver's store stages and the live
view do not care which one ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..plan import SweepPlan
from ..state import CheckpointState


class Events(Protocol):
    def started(self, index: int) -> None: ...
    def progress(self, index: int, what: str, n: int, total: int) -> None: ...
    def finished(self, index: int, state: CheckpointState) -> None: ...


class LaunchError(RuntimeError):
    """The scheduler refused or lost the work; the message says what it answered."""


Launcher = Callable[[SweepPlan, list[int], Events], None]


def get_launcher(name: str) -> Launcher:
    if name == "local":
        from .local import run_local

        return run_local
    if name == "slurm":
        from .slurm import run_slurm

        return run_slurm
    if name == "ray":
        from .ray import run_ray

        return run_ray
    raise ValueError(f"unknown launcher {name!r} (local, slurm, ray)")
