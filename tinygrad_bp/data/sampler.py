"""``DistributedSampler``: each process's share of a data set, as
``torch.utils.data.distributed.DistributedSampler``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["DistributedSampler"]


def _nonneg_int(value: Any, name: str, positive: bool = False) -> int:
    low = 1 if positive else 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"DistributedSampler: {name} must be a {kind} int, got {value!r}")
    return int(value)


class DistributedSampler:
    """The indices of ``dataset`` that process ``rank`` of ``num_replicas`` trains on, a
    different share for each process, as PyTorch's ``DistributedSampler``.

    Each epoch the indices ``0 .. len(dataset)-1`` are put in one order, the same in every
    process (shuffled by ``numpy.random.default_rng(seed + epoch)``, or kept in order),
    padded with its own first indices to a multiple of ``num_replicas`` (or, with
    ``drop_last``, cut to one), and dealt round-robin: process ``r`` gets positions
    ``r, r + num_replicas, ...``.  Without padding the shares are disjoint and together
    cover the data set exactly once.  Call :meth:`set_epoch` before each epoch for a new
    order (the same in every process); pass the sampler to ``DataLoader(sampler=...)``.

    Parameters
    ----------
    dataset : any object with ``__len__``
    num_replicas, rank : int or None
        How many processes and which one this is; ``None`` asks
        :mod:`tinygrad_bp.distributed` (after its ``init()``).
    shuffle : bool
    seed : int
        The same in every process.
    drop_last : bool
        Drop the tail that does not divide evenly instead of padding.

    Examples
    --------
    >>> from tinygrad_bp.data import DistributedSampler
    >>> s0 = DistributedSampler(range(5), num_replicas=2, rank=0, shuffle=False)
    >>> s1 = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
    >>> list(s0), list(s1)          # padded with index 0 to 6 = 2 x 3
    ([0, 2, 4], [1, 3, 0])
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DistributedSampler: dataset must have __len__, got {type(dataset).__name__}"
            )
        if num_replicas is None or rank is None:
            from ..distributed import comm

            if not comm.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: call tinygrad_bp.distributed.init() first, or pass "
                    "num_replicas= and rank="
                )
            num_replicas = comm.world_size() if num_replicas is None else num_replicas
            rank = comm.rank() if rank is None else rank
        self.num_replicas = _nonneg_int(num_replicas, "num_replicas", positive=True)
        self.rank = _nonneg_int(rank, "rank")
        if self.rank >= self.num_replicas:
            raise ValueError(
                f"DistributedSampler: rank must be below num_replicas={self.num_replicas}, "
                f"got {self.rank}"
            )
        for label, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DistributedSampler: {label} must be True or False, got {flag!r}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = _nonneg_int(seed, "seed")
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (call it in every process with the same number)."""
        self.epoch = _nonneg_int(epoch, "epoch")

    def indices(self) -> np.ndarray:
        """This process's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n and n:
            order = np.resize(order, self.total_size)  # repeats the order from its start
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(len={len(self.dataset)}, num_replicas={self.num_replicas}, "
            f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
            f"drop_last={self.drop_last})"
        )
