"""``tinygrad-bp train`` under ``mpiexec -n N``: data-parallel, with the global batch split
over the processes.

The launcher's environment says whether this process is one of several (MPICH's
``PMI_SIZE``, Open MPI's ``OMPI_COMM_WORLD_SIZE``); then :func:`current` joins the job
(:func:`tinygrad_bp.distributed.init`) and the training loops take their share of every
batch, wrap the model in ``DistributedDataParallel`` and weight each process's mean loss
by its share of the batch's targets, so that the averaged gradient is the whole batch's.
Only process 0 shows progress and writes files.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

_LAUNCH_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")


def launched_size() -> int:
    """How many processes the launcher started (1 when not under mpiexec)."""
    for var in _LAUNCH_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


class Parallel:
    """This process's place in the job: ``rank``, ``size``, ``main`` (rank 0)."""

    def __init__(self) -> None:
        self.rank, self.size = 0, 1
        if launched_size() > 1:
            from .. import distributed as dist

            try:
                dist.init()
            except ImportError as exc:  # one line, exit status 2
                raise RuntimeError(f"under mpiexec, {exc}") from None
            self.rank, self.size = dist.rank(), dist.world_size()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def check_batch(self, rows: int, what: str = "batch") -> None:
        if rows < self.size:
            raise ValueError(
                f"train: a {what} of {rows} rows cannot be split over {self.size} processes; "
                f"use a batch of at least {self.size}"
            )

    def wrap(self, model: Any) -> Any:
        if self.size == 1:
            return model
        from ..distributed import DistributedDataParallel

        return DistributedDataParallel(model)

    def share(self, rows: Any) -> Any:
        """This process's rows of a global batch (every size-th, from its rank)."""
        return rows if self.size == 1 else rows[self.rank :: self.size]

    def weight(self, mine: np.ndarray, whole: np.ndarray) -> float:
        """The factor that turns this process's mean loss into its part of the whole
        batch's mean, times the number of processes (DDP divides by it): its targets over
        the batch's, times N (targets -1, padding, do not count)."""
        count = (lambda y: int((y >= 0).sum())) if mine.dtype.kind in "iu" else len
        return count(mine) * self.size / max(count(whole), 1)

    def total(self, value: float) -> float:
        """The whole batch's loss from each process's weighted one: their mean."""
        if self.size == 1:
            return value
        from .. import distributed as dist

        buf = np.array([value], dtype=np.float64)
        dist.all_reduce(buf)
        return float(buf[0]) / self.size


_current: list[Parallel] = []


def current() -> Parallel:
    """The job this process belongs to (joined on the first call)."""
    if not _current:
        _current.append(Parallel())
    return _current[0]


def end_all(status: int) -> int:
    """Under mpiexec, a process that fails ends every process (``MPI_Abort``) instead of
    leaving the others waiting for it; returns ``status`` otherwise."""
    if status and _current and _current[0].size > 1:
        from .. import distributed as dist

        dist.abort(status)
    return status
