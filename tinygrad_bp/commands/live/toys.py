"""Seeded 2-D toy classification sets for the live page: spirals and moons.

Both return ``(X float64 (n, 2), y int64 (n,))`` with the classes as balanced as ``n``
allows, and the same arrays for the same arguments (a NumPy generator seeded by ``seed``).

Examples
--------
>>> from tinygrad_bp.commands.live.toys import make_moons, make_spirals
>>> X, y = make_spirals(300, arms=3, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((300, 2), [0, 1, 2])
>>> X2, y2 = make_moons(200, seed=1)
>>> X2.shape, int(y2.sum())
((200, 2), 100)
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_spirals", "make_moons"]


def _check(n: int, noise: float, fn: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"{fn}: n must be an integer of at least 2, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"{fn}: noise must be a number >= 0, got {noise!r}")


def _split(n: int, k: int) -> np.ndarray:
    """Class labels 0..k-1 for ``n`` points, as even as possible, in blocks."""
    return np.repeat(np.arange(k), [n // k + (i < n % k) for i in range(k)])


def make_spirals(
    n: int = 300, arms: int = 2, noise: float = 0.2, turns: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``arms`` interleaved spirals around the origin, one class per arm.

    Point ``i`` of an arm sits at radius ``r ∈ (0, 1]`` and angle ``turns·2π·r`` plus the
    arm's offset ``2π·arm/arms``, with Gaussian noise (``noise`` radians) on the angle, so
    the classes stay separable for small noise but no straight line splits them.
    """
    _check(n, noise, "make_spirals")
    if isinstance(arms, bool) or not isinstance(arms, (int, np.integer)) or arms < 2:
        raise ValueError(f"make_spirals: arms must be an integer of at least 2, got {arms!r}")
    rng = np.random.default_rng(seed)
    y = _split(int(n), int(arms))
    X = np.empty((len(y), 2))
    for k in range(arms):
        idx = np.flatnonzero(y == k)
        r = np.linspace(0.08, 1.0, len(idx))
        theta = turns * 2 * np.pi * r + 2 * np.pi * k / arms
        theta = theta + rng.normal(0.0, noise, len(idx)) * r  # less noise near the centre
        X[idx, 0] = r * np.cos(theta)
        X[idx, 1] = r * np.sin(theta)
    return X, y.astype(np.int64)


def make_moons(n: int = 300, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (upper: class 0, lower: class 1), centred near 0.

    The points are spread evenly along each half circle with Gaussian noise of standard
    deviation ``noise`` on both coordinates.
    """
    _check(n, noise, "make_moons")
    rng = np.random.default_rng(seed)
    y = _split(int(n), 2)
    t = np.empty(len(y))
    for k in range(2):
        idx = np.flatnonzero(y == k)
        t[idx] = np.linspace(0.0, np.pi, len(idx))
    X = np.where(
        (y == 0)[:, None],
        np.stack([np.cos(t), np.sin(t)], axis=1),
        np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1),
    )
    X = X - np.array([0.5, 0.25]) + rng.normal(0.0, noise, X.shape)
    return X, y.astype(np.int64)
