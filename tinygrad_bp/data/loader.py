"""Datasets and mini-batches, as ``torch.utils.data.TensorDataset`` and ``DataLoader``.

What a batch holds: every field of floating dtype becomes a :class:`~tinygrad_bp.Tensor`
of that dtype (float32 stays float32; it does not require grad); every other field
(integer class labels, token indices, booleans, uint8 pixels) stays an integer NumPy
array, because a Tensor made from integers would turn them into floats, and the losses
and ``F.embedding`` take their indices as integer arrays.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..creation import default_generator
from ..tensor import Tensor, get_default_dtype, leaf

__all__ = ["TensorDataset", "DataLoader"]


def _as_array(a: Any, where: str, i: int) -> np.ndarray:
    if isinstance(a, Tensor):
        a = a.numpy()
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: array {i} has dtype {arr.dtype}; expected numbers")
    if arr.ndim == 0:
        raise ValueError(f"{where}: array {i} is 0-d; every array needs a first dimension")
    return arr


class TensorDataset:
    """Arrays that share their first dimension, item ``i`` being ``(a[i] for a in
    arrays)``, as ``torch.utils.data.TensorDataset``.

    ``arrays`` may be NumPy arrays, nested lists or Tensors (their data is used, not
    copied).  ``dataset[i]`` (or a slice, or an integer array) returns a tuple of NumPy
    arrays; :class:`DataLoader` turns batches into Tensors.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_bp.data import TensorDataset
    >>> ds = TensorDataset(np.zeros((5, 3)), np.arange(5))
    >>> len(ds), ds[2][0].shape, int(ds[2][1])
    (5, (3,), 2)
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays: tuple[np.ndarray, ...] = tuple(
            _as_array(a, "TensorDataset", i) for i, a in enumerate(arrays)
        )
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(
                f"TensorDataset: every array needs the same first dimension, got shapes {shapes}"
            )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        return f"TensorDataset({', '.join(f'{a.dtype}{list(a.shape)}' for a in self.arrays)})"


def _to_batch(arr: np.ndarray) -> Any:
    # `arr` is a fresh array (fancy indexing or stacking copied it), so the Tensor may
    # take it without another copy
    return leaf(arr) if arr.dtype.kind == "f" else arr


def _collate(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(not isinstance(it, (tuple, list)) or len(it) != width for it in items):
            raise ValueError("DataLoader: the dataset's items have different numbers of fields")
        return tuple(_collate([it[k] for it in items]) for k in range(width))
    arrays = [it.numpy() if isinstance(it, Tensor) else it for it in items]
    try:
        arr = np.stack([np.asarray(a) for a in arrays])
    except ValueError as exc:
        raise ValueError(f"DataLoader: cannot batch the dataset's items: {exc}") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"DataLoader: the dataset's items have dtype {arr.dtype}; expected numbers")
    if arr.dtype.kind == "f" and all(isinstance(a, float) for a in arrays):
        arr = arr.astype(get_default_dtype())  # Python floats take the default dtype
    return _to_batch(arr)


class DataLoader:
    """Mini-batches of a dataset, as ``torch.utils.data.DataLoader`` (no workers).

    Parameters
    ----------
    dataset : TensorDataset, or any object with ``__len__`` and ``__getitem__(int)``
        An item of a general dataset is a tuple of fields (or a single field); fields are
        stacked along a new first axis.
    batch_size : int
        Items per batch (a positive int); the last batch is smaller unless ``drop_last``.
    shuffle : bool
        A new random order every epoch (every ``iter(loader)``).
    drop_last : bool
        Leave out a last, incomplete batch.
    sampler : iterable of int, optional
        Where the indices come from, as in PyTorch (e.g. a
        :class:`~tinygrad_bp.data.DistributedSampler`, whose ``set_epoch`` the caller
        calls); ``iter(sampler)`` is called once per epoch.  Not with ``shuffle=True``.
    seed : int or None
        Seeds the shuffle, as a ``torch.Generator`` given to a DataLoader: the loader
        draws each epoch's order from one ``np.random.default_rng(seed)``, so the orders
        differ from epoch to epoch and two loaders with the same seed give the same
        sequence of epochs.  ``None``: the library's generator, which
        ``tg.manual_seed`` seeds (as PyTorch's loader draws from the global generator).

    Yields
    ------
    tuple
        For a TensorDataset, one entry per array: floating arrays as Tensors (their
        dtype kept, no grad), integer and boolean arrays as NumPy arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_bp.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1]))
    >>> loader = DataLoader(ds, batch_size=2)
    >>> len(loader)
    3
    >>> xb, yb = next(iter(loader))
    >>> type(xb).__name__, xb.shape, yb.dtype, yb.tolist()
    ('Tensor', (2, 2), dtype('int64'), [0, 1])
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        sampler: Any = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        for label, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {label} must be True or False, got {flag!r}")
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        if sampler is not None:
            if shuffle:
                raise ValueError(
                    "DataLoader: sampler and shuffle=True exclude each other (as in PyTorch); "
                    "let the sampler shuffle (DistributedSampler(..., shuffle=True))"
                )
            if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
                raise TypeError(
                    f"DataLoader: sampler must be an iterable of indices with __len__, got "
                    f"{type(sampler).__name__}"
                )
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        # None: each epoch's order from the library's generator (tg.manual_seed seeds it)
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            return self._batches(order)
        n = len(self.dataset)
        # the order is drawn now, not at the first next(): epochs follow iter() calls
        rng = default_generator() if self._rng is None else self._rng
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[Any]:
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        ds = self.dataset
        for start in range(0, stop, bs):
            idx = order[start : start + bs]
            if isinstance(ds, TensorDataset):
                yield tuple(_to_batch(a[idx]) for a in ds.arrays)
            else:
                yield _collate([ds[int(i)] for i in idx])

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})"
        )
