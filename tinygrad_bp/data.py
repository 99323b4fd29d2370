"""Small data sets shipped with the package, and batching.

``load_iris()`` reads Fisher's Iris data (1936; public domain) from the copy inside the
package: 150 flowers, 4 measurements in cm, 3 species.  Nothing is downloaded.
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
    "read_csv_dataset",
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
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return _parse_rows(rows, path)


def _parse_rows(rows: list[list[str]], source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if len(rows) < 2:
        raise ValueError(f"{source}: expected a header row and at least one data row")
    header, body = rows[0], [r for r in rows[1:] if r]
    width = len(header)
    if width < 2:
        raise ValueError(f"{source}: expected feature columns and a label column, got {header}")
    feats = np.empty((len(body), width - 1))
    labels: list[str] = []
    for i, row in enumerate(body, start=2):
        if len(row) != width:
            raise ValueError(f"{source}: row {i} has {len(row)} fields, the header has {width}")
        for j, cell in enumerate(row[:-1]):
            try:
                feats[i - 2, j] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{source}: row {i}, column {header[j]!r}: {cell!r} is not a number"
                ) from None
        labels.append(row[-1].strip())
    classes: list[str] = []
    for lab in labels:
        if lab not in classes:
            classes.append(lab)
    y = np.array([classes.index(lab) for lab in labels], dtype=np.int64)
    return feats, y, classes


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


def train_test_split(X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int = 0):
    """A seeded, stratified split: ``(X_train, y_train, X_test, y_test)``."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in [0, 1), got {test_fraction}")
    if test_fraction == 0.0:
        return X, y, X[:0], y[:0]
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test_idx.extend(idx[: int(round(len(idx) * test_fraction))].tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
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
