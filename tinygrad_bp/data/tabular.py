"""Tabular data: Iris, the synthetic regression set, CSV files, splits and batches.

``load_iris()`` reads Fisher's Iris data (1936; public domain) from the copy inside the
package: 150 flowers, 4 measurements in cm, 3 species.  Nothing is downloaded.

``make_regression()`` generates the regression set used by ``tinygrad-bp train --task
regress`` and the regression half of ``tinygrad-bp compare``: a seeded synthetic set with
4 inputs and 3 smooth nonlinear targets, so the tutorial's 4-10-5-3 shape fits it too.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "load_iris",
    "make_regression",
    "read_csv_dataset",
    "read_csv_regression",
    "standardize",
    "train_test_split",
    "batches",
    "IRIS_CLASSES",
]

IRIS_CLASSES = ("setosa", "versicolor", "virginica")


def read_csv_dataset(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a CSV of numeric feature columns and a last label column (a header row first).

    Returns ``(X float64 (N, D), y int64 (N,), class names in order of first appearance)``.
    Raises ``FileNotFoundError`` or ``ValueError`` naming the file, row and column.
    """
    path = os.fspath(path)
    return _parse_rows(_read_rows(path), path)


def _read_rows(path: str) -> list[list[str]]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and at least one data row")
    return rows


def _numbers(body: list[list[str]], header: list[str], ncols: int, source: str) -> np.ndarray:
    """The first ``ncols`` fields of every row as float64, naming the row and column of
    anything that is not a number."""
    width = len(header)
    table = np.empty((len(body), ncols))
    for i, row in enumerate(body, start=2):
        if len(row) != width:
            raise ValueError(f"{source}: row {i} has {len(row)} fields, the header has {width}")
        for j, cell in enumerate(row[:ncols]):
            try:
                table[i - 2, j] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{source}: row {i}, column {header[j]!r}: {cell!r} is not a number"
                ) from None
    return table


def _parse_rows(rows: list[list[str]], source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if len(rows) < 2:
        raise ValueError(f"{source}: expected a header row and at least one data row")
    header, body = rows[0], [r for r in rows[1:] if r]
    width = len(header)
    if width < 2:
        raise ValueError(f"{source}: expected feature columns and a label column, got {header}")
    feats = _numbers(body, header, width - 1, source)
    labels = [row[-1].strip() for row in body]
    ints = _as_int_labels(labels)
    if ints is not None:  # numeric labels are class indices, used as they are
        if ints.size and ints.min() < 0:
            bad = int(ints[ints < 0][0])
            raise ValueError(
                f"{source}: labels out of range: class index {bad} in column "
                f"{header[-1]!r}; integer labels must be 0, 1, 2, ..."
            )
        classes = [str(i) for i in range(int(ints.max()) + 1 if ints.size else 0)]
        return feats, ints, classes
    classes: list[str] = []
    for lab in labels:
        if lab not in classes:
            classes.append(lab)
    y = np.array([classes.index(lab) for lab in labels], dtype=np.int64)
    return feats, y, classes


def _as_int_labels(labels: list[str]) -> np.ndarray | None:
    try:
        return np.array([int(lab) for lab in labels], dtype=np.int64)
    except ValueError:
        return None


def read_csv_regression(
    path: str | os.PathLike[str], n_targets: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV of numeric columns (a header row first); the last ``n_targets`` columns
    are the targets.  Returns ``(X float64 (N, D), Y float64 (N, n_targets))``."""
    path = os.fspath(path)
    rows = _read_rows(path)
    header, body = rows[0], [r for r in rows[1:] if r]
    width = len(header)
    if width <= n_targets:
        raise ValueError(
            f"{path}: expected feature columns and {n_targets} target column(s), got {header}"
        )
    table = _numbers(body, header, width, path)
    if not np.isfinite(table).all():
        raise ValueError(f"{path}: the data holds NaN or infinite values")
    return table[:, :-n_targets], table[:, -n_targets:]


def make_regression(
    n_samples: int = 200, noise: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded synthetic regression set: ``X (n, 4)`` uniform on [-1, 1], ``Y (n, 3)``::

        y0 = sin(π x0) · cos(π x1 / 2)
        y1 = x2 · x3 + x0 / 2
        y2 = tanh(2 x1 − x3)

    each plus Gaussian noise of standard deviation ``noise``.  The same ``seed`` always
    gives the same arrays, and the first rows do not depend on ``n_samples``.

    Examples
    --------
    >>> from tinygrad_bp.data import make_regression
    >>> X, Y = make_regression(100, seed=0)
    >>> X.shape, Y.shape
    ((100, 4), (100, 3))
    >>> bool((make_regression(10, seed=0)[1] == Y[:10]).all())
    True
    """
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, (int, np.integer))
        or n_samples <= 0
    ):
        raise ValueError(f"make_regression: n_samples must be a positive int, got {n_samples!r}")
    if noise < 0:
        raise ValueError(f"make_regression: noise must be >= 0, got {noise}")
    # Inputs and noise come from two streams of one seed, each drawn row by row, so a
    # longer set extends a shorter one with the same seed.
    rng_x, rng_noise = (np.random.default_rng([seed, k]) for k in (0, 1))
    X = rng_x.uniform(-1.0, 1.0, size=(n_samples, 4))
    eps = rng_noise.standard_normal(size=(n_samples, 3))
    x0, x1, x2, x3 = X.T
    Y = np.stack(
        [np.sin(np.pi * x0) * np.cos(np.pi * x1 / 2), x2 * x3 + x0 / 2, np.tanh(2 * x1 - x3)],
        axis=1,
    )
    return X, Y + noise * eps


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Iris as ``(X (150, 4) float64 in cm, y (150,) int64 in {0, 1, 2})``.

    Examples
    --------
    >>> from tinygrad_bp.data import load_iris
    >>> X, y = load_iris()
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((150, 4), (150,), [0, 1, 2])
    """
    text = resources.files("tinygrad_bp").joinpath("data_files/iris.csv").read_text("utf-8")
    rows = list(csv.reader(text.splitlines()))
    X, y, classes = _parse_rows(rows, "iris.csv")
    if tuple(classes) != IRIS_CLASSES:  # the shipped file's order
        raise ValueError(f"iris.csv: unexpected classes {classes}")
    return X, y


def standardize(X: np.ndarray, mean: Any = None, std: Any = None):
    """``(X - mean) / std`` per column (the notebook's preprocessing); returns
    ``(Z, mean, std)`` so a test split can reuse the training statistics."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0) if mean is None else np.asarray(mean)
    std = X.std(axis=0) if std is None else np.asarray(std)
    std = np.where(std == 0, 1.0, std)
    return (X - mean) / std, mean, std


def train_test_split(
    X: Any, y: Any, test_size: float = 0.2, seed: int = 0, stratify: bool = True
) -> tuple[Any, Any, Any, Any]:
    """A seeded split, returned as ``(X_train, y_train, X_test, y_test)``.

    (The order is this package's, pairs first, not scikit-learn's
    ``X_train, X_test, y_train, y_test``.)

    Parameters
    ----------
    X, y : arrays with the same first dimension
    test_size : float
        The fraction held out, in ``[0, 1)``; with ``stratify`` it is taken from every
        class (rounded per class), so each class keeps its share on both sides.
    seed : int
        The same seed always gives the same split.
    stratify : bool
        Stratify by class when ``y`` holds class indices (1-D integers).  Continuous
        targets (float or 2-D ``y``) cannot be stratified and are split at random, as
        with ``stratify=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_bp.data import train_test_split
    >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> X_tr, y_tr, X_te, y_te = train_test_split(X, y, test_size=0.4, seed=0)
    >>> len(X_tr), len(X_te), np.bincount(y_te).tolist()
    (6, 4, [2, 2])
    """
    test_fraction = test_size
    if isinstance(test_fraction, bool) or not isinstance(
        test_fraction, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"train_test_split: test_size must be a number, got {test_fraction!r}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_size must be in [0, 1), got {test_fraction}")
    if not isinstance(stratify, (bool, np.bool_)):
        raise TypeError(f"train_test_split: stratify must be True or False, got {stratify!r}")
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} rows, y {len(y)}")
    if test_fraction == 0.0:
        return X, y, X[:0], y[:0]
    rng = np.random.default_rng(seed)
    y_arr = np.asarray(y)
    if stratify and y_arr.ndim == 1 and y_arr.dtype.kind in "iu":
        test_idx = []
        for c in np.unique(y_arr):
            idx = np.flatnonzero(y_arr == c)
            rng.shuffle(idx)
            test_idx.extend(idx[: int(round(len(idx) * test_fraction))].tolist())
    else:
        test_idx = rng.permutation(len(y_arr))[: int(round(len(y_arr) * test_fraction))].tolist()
    mask = np.zeros(len(y_arr), dtype=bool)
    mask[test_idx] = True
    if mask.all() or not mask.any():
        raise ValueError(
            f"train_test_split: test_size {test_fraction} leaves "
            f"{'no training' if mask.all() else 'no test'} rows out of {len(y_arr)}"
        )
    return X[~mask], y[~mask], X[mask], y[mask]


def batches(
    X: np.ndarray, y: np.ndarray, batch_size: int | None, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mini-batches; ``batch_size=None`` (or >= N) gives the full batch, unshuffled."""
    n = len(X)
    if batch_size is None or batch_size >= n:
        yield X, y
        return
    if batch_size <= 0:
        raise ValueError(f"batches: batch_size must be positive, got {batch_size}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]
