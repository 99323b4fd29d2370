"""The fused softmax + cross-entropy primitive: the article's output-layer shortcut."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..autograd import _ones
from ..backend import xp
from ..tensor import Tensor, leaf, make_node
from . import dialect as D
from ._common import primitive, check_tensor

__all__ = ["cross_entropy", "ClassIndexError"]


class ClassIndexError(ValueError):
    """A class index outside ``0..C-1`` (``F.cross_entropy`` catches it to look for
    ``ignore_index`` labels, so the common call pays for one range check only)."""


# ---------------------------------------------------------------- the fused loss
@functools.lru_cache(maxsize=32)
def _row_starts(n: int, c: int) -> Any:
    """Read-only flat offsets of the rows of an (n, c) array (cached: the batch size
    rarely changes).  Flat indices are 2-3x faster than ``a[rows, idx]`` on a batch."""
    v = xp.arange(0, n * c, c, dtype=np.intp)
    v.flags.writeable = False
    return v


def _rowmax(z: Any) -> Any:
    """``z.max(axis=1, keepdims=True)``.  With few columns and many rows, as elementwise
    maxima of the columns: NumPy's reduction over a short last axis runs a tiny loop per
    row (150 rows x 3 classes: 8 µs; by columns 2 µs).  The same numbers, NaN included."""
    n, c = z.shape
    if c < 2 or n < 16 * c:
        return z.max(axis=1, keepdims=True)
    m = xp.maximum(z[:, 0], z[:, 1])
    for j in range(2, c):
        xp.maximum(m, z[:, j], out=m)
    return m[:, None]


def _rowsum(e: Any) -> Any:
    """``e.sum(axis=1)`` as one BLAS matrix-vector product for float32/64 (3x faster on
    a (150, 3) batch; rounding within a few ulps of the pairwise sum)."""
    char = e.dtype.char
    if char not in "fd":
        return e.sum(axis=1)
    return e @ _ones(e.shape[1], char)


@primitive("loss", ("(softmax({us}) − {v})/N", None), graph_formula=True)
def cross_entropy(logits: Tensor, target: Any) -> Tensor:
    """Softmax + cross-entropy in one primitive, the mean over the batch.

    ``L = −(1/N) Σ_i Σ_c y_ic · log softmax(z_i)_c`` with ``y`` one-hot rows for integer
    targets of shape ``(N,)``, or the given ``(N, C)`` probability rows.
    ∂L/∂z = (softmax(z)·Σ_c y − y) / N, which is ``(softmax − onehot) / N`` for one-hot or
    probability rows: the article's output-layer shortcut ∂L/∂a = ŷ − y, with the batch
    mean's 1/N.  Computed through logsumexp, so logits of ±1e4 are fine.
    """
    logits = check_tensor(logits, "cross_entropy")
    z = zd = logits.data
    if z.dtype.kind != "f":
        raise TypeError(
            f"cross_entropy: logits must be floating point, got dtype {z.dtype} (as in "
            f"PyTorch; convert with .float() or .double())"
        )
    if z.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got shape {z.shape}")
    n, c = z.shape
    if n == 0:
        raise ValueError("cross_entropy: the batch is empty (logits of shape (0, C))")
    tdata = target.data if isinstance(target, Tensor) else target
    if isinstance(tdata, (list, tuple)):
        tdata = np.asarray(tdata)
    if not isinstance(tdata, np.ndarray):
        raise TypeError(
            f"cross_entropy: target must be class indices of shape ({n},) or a ({n}, {c}) "
            f"matrix, got {type(target).__name__}"
        )
    if not z.flags.c_contiguous:  # (e.g. logits.T): keep every array below in C order,
        z = xp.ascontiguousarray(z)  # so that the flat target indices address them
    shifted = z - _rowmax(z)
    e = xp.exp(shifted)
    se = _rowsum(e)  # (N,): Σ_c e^{z_c − max}
    lse = xp.log(se)  # log softmax = shifted − lse (by rows)
    if tdata.ndim == 1:
        if tdata.shape[0] != n:
            raise ValueError(
                f"cross_entropy: target has {tdata.shape[0]} labels for a batch of {n} "
                f"(logits shape {z.shape})"
            )
        if tdata.dtype.kind == "f":
            if not np.all(tdata == np.round(tdata)):
                raise ValueError(
                    "cross_entropy: a 1-D target must hold class indices; got non-integer "
                    f"values of dtype {tdata.dtype}"
                )
        elif tdata.dtype.kind not in "iu":
            raise TypeError(
                f"cross_entropy: class indices must be integers, got dtype {tdata.dtype}"
            )
        # one reduction catches both ends: negative indices become huge as unsigned.
        # Labels already of dtype intp (int64, as NumPy makes them) are checked as they
        # are, without a copy; others are converted first.
        own = tdata.dtype != np.intp
        idx = tdata.astype(np.intp) if own else tdata
        if np.maximum.reduce(idx.view(np.uintp)) >= c:
            idx = idx.astype(np.intp)
            bad = idx[(idx < 0) | (idx >= c)][0]
            raise ClassIndexError(
                f"cross_entropy: class index {bad} is out of range for {c} classes "
                f"(valid: 0..{c - 1})"
            )
        # flat positions of the targets (a new array, or idx's own copy, written)
        rs = _row_starts(n, c)
        idx = xp.add(idx, rs, out=idx) if own else xp.add(idx, rs)
        per_row = shifted.take(idx)  # z_y − max, then each row's loss lse − (z_y − max)
        loss = xp.subtract(lse, per_row, out=per_row).sum() / n

        def backward(g: Any, z: Any) -> tuple[Any, None]:
            # ∂L/∂z = (softmax(z) − onehot)·g/N
            if D.is_tensor(z):  # under create_graph: softmax as an op, onehot a constant
                s = g / n
                onehot = xp.zeros(n * c, dtype=zd.dtype)
                onehot[idx] = 1
                return (z.softmax(axis=1) - onehot.reshape(n, c)) * s, None
            s = float(g) / n  # a Python float: float32 stays float32
            grad = e * (s / se)[:, None]  # the forward's exponentials: softmax · s
            # − onehot · s, in place in that fresh array (s of the array's dtype: `at`
            # would compute a float32 array in float64 otherwise)
            xp.subtract.at(grad.reshape(-1), idx, grad.dtype.type(s))
            return grad, None

    elif tdata.ndim == 2:
        if tdata.shape != z.shape:
            raise ValueError(
                f"cross_entropy: a probability target must have the logits' shape {z.shape}, "
                f"got {tdata.shape}"
            )
        if tdata.dtype.kind not in "fiub":
            raise TypeError(f"cross_entropy: target dtype {tdata.dtype} is not numeric")
        if isinstance(target, Tensor) and target.dtype != zd.dtype:
            from .shape import cast

            target = cast(target, zd.dtype)  # so that y below is the target parent's array
            tdata = target.data
        y = tdata.astype(zd.dtype, copy=False)
        logp = shifted - lse[:, None]
        loss = -(y * logp).sum() / n

        ry = isinstance(target, Tensor) and target.requires_grad

        def backward(g: Any, z: Any, y: Any) -> tuple[Any, Any]:  # type: ignore[misc]
            # ∂L/∂z = (softmax(z)·Σ_c y − y)·g/N, ∂L/∂y = −log softmax(z)·g/N
            s = D.scalar(g) / n
            if D.is_tensor(z):
                p, lp = z.softmax(axis=1), z.log_softmax(axis=1)
            else:
                p, lp = e / se[:, None], logp
            gy = -lp * s if ry else None
            return (p * y.sum(axis=1, keepdims=True) - y) * s, gy

    else:
        raise ValueError(
            f"cross_entropy: target must have shape ({n},) or ({n}, {c}), got {tdata.shape}"
        )
    tgt = target if isinstance(target, Tensor) else leaf(y if tdata.ndim == 2 else tdata, "const")
    saved = (logits,) if tdata.ndim == 1 else (logits, tgt)
    return make_node(
        xp.asarray(loss, dtype=z.dtype), (logits, tgt), "cross_entropy", backward, saved
    )
