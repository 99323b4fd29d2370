"""Data sets shipped with the package, readers, splits and batching.  Nothing is
downloaded.

- Tabular (:mod:`tinygrad_bp.data.tabular`): ``load_iris()`` (Fisher's Iris, 1936;
  public domain), ``make_regression()`` (the seeded synthetic set of ``tinygrad-bp train
  --task regress``), CSV readers, ``standardize``, ``train_test_split``, ``batches``.
- Shipped (:mod:`tinygrad_bp.data.shipped`): ``load_digits()`` (1797 8x8 handwritten
  digits), ``load_names()`` (32,033 first names).
- Files the user has (:mod:`tinygrad_bp.data.mnist`): ``load_mnist(folder, kind)``,
  ``read_idx(path)``.
- Batching (:mod:`tinygrad_bp.data.loader`): ``TensorDataset``, ``DataLoader``;
  ``DistributedSampler`` (:mod:`tinygrad_bp.data.sampler`), each process's share.
- Character-level names (:mod:`tinygrad_bp.data.names`): the 27-symbol vocabulary,
  ``names_split``, ``char_windows`` (contexts for an MLP), ``char_sequences`` (padded
  sequences for an RNN or a transformer).
"""

from __future__ import annotations

from .loader import DataLoader, TensorDataset
from .mnist import load_mnist, read_idx
from .names import (
    IGNORE_INDEX,
    NAMES_CHARS,
    char_sequences,
    char_windows,
    decode_chars,
    encode_chars,
    names_split,
    names_vocab,
)
from .sampler import DistributedSampler
from .shipped import load_digits, load_names
from .tabular import (
    IRIS_CLASSES,
    batches,
    load_iris,
    make_regression,
    read_csv_dataset,
    read_csv_regression,
    standardize,
    train_test_split,
)

__all__ = [
    "load_iris",
    "make_regression",
    "read_csv_dataset",
    "read_csv_regression",
    "standardize",
    "train_test_split",
    "batches",
    "IRIS_CLASSES",
    "load_digits",
    "load_names",
    "load_mnist",
    "read_idx",
    "TensorDataset",
    "DataLoader",
    "DistributedSampler",
    "NAMES_CHARS",
    "IGNORE_INDEX",
    "names_vocab",
    "encode_chars",
    "decode_chars",
    "names_split",
    "char_windows",
    "char_sequences",
]
