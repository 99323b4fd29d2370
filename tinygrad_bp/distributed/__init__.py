"""Data-parallel training over several processes, on MPI (``mpi4py`` and an MPI library:
``pip install 'tinygrad-bp[mpi]'``, which brings the ``mpich`` wheel and its ``mpiexec``).

Every process runs the same script on its own share of each batch::

    mpiexec -n 2 python train.py
    mpiexec -n 2 tinygrad-bp train --data digits --model cnn

- :func:`init`, :func:`rank`, :func:`world_size`: join the job, who am I, how many.
- :func:`all_reduce` (in place, MPI's ``Allreduce`` on the array's own buffer),
  :func:`broadcast`, :func:`barrier`, :func:`broadcast_parameters`.
- :class:`DistributedDataParallel`: gradients averaged over the processes after every
  ``backward()``, in buckets; ``no_sync()`` for gradient accumulation.
- ``tg.data.DistributedSampler``: each process's disjoint share of a data set.

``mpi4py`` is imported by :func:`init` only: importing this package needs nothing.
"""

from __future__ import annotations

from .comm import (
    abort,
    all_reduce,
    barrier,
    broadcast,
    broadcast_parameters,
    init,
    is_initialized,
    rank,
    world_size,
)
from .ddp import DistributedDataParallel

__all__ = [
    "init",
    "is_initialized",
    "rank",
    "world_size",
    "all_reduce",
    "broadcast",
    "barrier",
    "abort",
    "broadcast_parameters",
    "DistributedDataParallel",
]
