"""``medxpert sweep``: evaluate every checkpoint of a training run, resumably, on the scheduler already in use.

discover (which checkpoints, in step order) -> plan (per checkpoint: harness, judge; then ingest, leaderboard,
gate) -> state (what is finished, atomically recorded) -> launchers (local / slurm / ray run the per-checkpoint
work; the driver runs the store stages in step order).
"""
