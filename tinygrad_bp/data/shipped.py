"""The data sets shipped inside the package (``tinygrad_bp/data_files/``); nothing is
downloaded.

- ``digits.csv.gz``: the optical-recognition handwritten digits of E. Alpaydin and
  C. Kaynak (UCI Machine Learning Repository, 1998; CC BY 4.0), the UCI test split as
  scikit-learn ships it: 1797 images of 8x8 pixels, 0..16, and the digit.
- ``names.txt``: 32,033 lowercase first names (29,494 distinct), from the US Social
  Security Administration's baby-name lists (public data), the selection collected for
  Karpathy's MIT-licensed makemore (2022).
"""

from __future__ import annotations

import functools
import gzip
import io
from importlib import resources

import numpy as np

__all__ = ["load_digits", "load_names"]

DIGITS_SHAPE = (1797, 64)
N_NAMES = 32033


def _read_bytes(filename: str) -> bytes:
    return resources.files("tinygrad_bp").joinpath(f"data_files/{filename}").read_bytes()


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    text = gzip.decompress(_read_bytes("digits.csv.gz")).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (DIGITS_SHAPE[0], DIGITS_SHAPE[1] + 1):
        raise ValueError(f"digits.csv.gz: expected 1797 rows of 65 numbers, got {table.shape}")
    X, y = table[:, :-1].astype(np.float64), table[:, -1].copy()
    X.flags.writeable = y.flags.writeable = False  # the cached copy; callers get their own
    return X, y


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 handwritten digits: ``X float64 (1797, 64)``, each row an 8x8 image row
    by row with pixels 0..16, and ``y int64 (1797,)``, the digits 0..9.

    ``X.reshape(-1, 1, 8, 8)`` gives NCHW images for a convolutional network.  Each call
    returns new arrays.

    Examples
    --------
    >>> from tinygrad_bp.data import load_digits
    >>> X, y = load_digits()
    >>> X.shape, X.dtype, y.shape, y.dtype
    ((1797, 64), dtype('float64'), (1797,), dtype('int64'))
    >>> float(X.min()), float(X.max()), sorted(set(y.tolist())) == list(range(10))
    (0.0, 16.0, True)
    """
    X, y = _digits()
    return X.copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _names() -> tuple[str, ...]:
    names = tuple(_read_bytes("names.txt").decode("ascii").splitlines())
    if len(names) != N_NAMES:
        raise ValueError(f"names.txt: expected {N_NAMES} names, got {len(names)}")
    return names


def load_names() -> list[str]:
    """The 32,033 first names (lowercase ``a``-``z``, 29,494 distinct; a name listed for
    several years or both sexes appears more than once), in the file's order (by
    popularity).  Each call returns a new list.

    Examples
    --------
    >>> from tinygrad_bp.data import load_names
    >>> names = load_names()
    >>> len(names), len(set(names)), names[:3]
    (32033, 29494, ['emma', 'olivia', 'ava'])
    """
    return list(_names())
