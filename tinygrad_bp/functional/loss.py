"""Losses: cross_entropy (the fused primitive on its default path), nll_loss, mse_loss,
binary_cross_entropy_with_logits, with PyTorch's ``reduction=``, ``label_smoothing=`` and
``ignore_index=``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import ops
from ..autograd import Function
from ..ops._common import promote_types
from ..ops.loss import ClassIndexError
from ..tensor import Tensor, _to_array
from ._util import as_tensor, check_reduction, reduce
from ._util import reduce as _reduce

__all__ = [
    "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits", "l1_loss",
    "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "kl_div",
]  # fmt: skip


def _target_array(target: Any) -> Any:
    t = target.data if isinstance(target, Tensor) else target
    return np.asarray(t) if isinstance(t, (list, tuple, int, float, np.generic)) else t


def _deprecated(op: str, size_average: Any, reduce: Any) -> None:
    if size_average is not None or reduce is not None:
        raise TypeError(
            f"{op}: size_average= and reduce= are PyTorch's deprecated spellings; pass "
            f"reduction='mean', 'sum' or 'none'"
        )


def _weight_array(weight: Any, c: int, dtype: Any, op: str) -> Any:
    if weight is None:
        return None
    if isinstance(weight, str):
        raise TypeError(
            f"{op}: the third argument is weight (PyTorch's order: input, target, weight); "
            f"pass reduction={weight!r} by name"
        )
    if isinstance(weight, Tensor) and weight.requires_grad:
        raise ValueError(
            f"{op}: weight is a constant here (its gradient is not computed); pass weight.detach()"
        )
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.shape != (c,) or w.dtype.kind not in "fiu":
        raise ValueError(
            f"{op}: weight must be a float tensor of shape ({c},), one per class, got shape "
            f"{w.shape} and dtype {w.dtype}"
        )
    return w.astype(dtype, copy=False)


def _rows(x: Tensor, op: str, what: str) -> tuple[Tensor, tuple[int, ...]]:
    """Input ``(C,)`` or ``(N, C, d1, ...)`` as rows ``(M, C)``, and the shape of one
    loss per row (``()`` or ``(N, d1, ...)``)."""
    if x.ndim == 0:
        raise ValueError(
            f"{op}: {what} must have shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor"
        )
    if x.ndim == 1:
        return ops.reshape(x, (1, x.shape[0])), ()
    if x.ndim == 2:
        return x, (x.shape[0],)
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    c = x.shape[1]
    return ops.reshape(ops.transpose(x, perm), (-1, c)), (x.shape[0],) + x.shape[2:]


def _class_targets(
    t: Any, shape: tuple[int, ...], c: int, ignore_index: int, op: str
) -> tuple[Any, Any]:
    """Class indices as a flat ``intp`` array (ignored rows pointing at class 0) and the
    mask of rows that count."""
    if t.dtype.kind == "f" and np.all(t == np.round(t)):
        t = t.astype(np.int64)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class indices must be integers, got dtype {t.dtype}")
    flat = t.reshape(-1)
    valid = flat != ignore_index
    tt = np.where(valid, flat, 0).astype(np.intp)
    if tt.size and (tt.min() < 0 or tt.max() >= c):
        bad = tt[(tt < 0) | (tt >= c)][0]
        raise ValueError(
            f"{op}: class index {bad} is out of range for {c} classes (valid: 0..{c - 1}"
            f"{f', or ignore_index={ignore_index}' if ignore_index != -100 else ''})"
        )
    return tt, valid


def _nll_rows(logp: Tensor, tt: Any, valid: Any, w: Any) -> tuple[Tensor, Any]:
    """``−w[t_i]·logp[i, t_i]`` per row (0 for ignored rows, whatever their logits: a −∞
    elsewhere in the row never makes NaN), and the weight of each row."""
    picked = ops.reshape(ops.gather(logp, 1, tt[:, None]), (-1,))
    if not valid.all():
        picked = ops.where(valid, picked, 0.0)
    if w is None:
        rw = valid.astype(logp.dtype)
        return -picked, rw
    rw = np.where(valid, w[tt], 0).astype(w.dtype, copy=False)
    return -(picked * rw), rw


def _finish(rows: Tensor, shape: tuple[int, ...], reduction: str, denom: Any) -> Tensor:
    if reduction == "none":
        return ops.reshape(rows, shape)
    total = rows.sum()
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / np.asarray(denom, dtype=rows.dtype)


def _loss(
    logp: Tensor,
    shape: tuple[int, ...],
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    op: str,
    input_shape: tuple[int, ...],
    probs_ok: bool,
) -> Tensor:
    m, c = logp.shape
    t = _target_array(target)
    if not isinstance(t, np.ndarray) or t.dtype.kind not in "fiub":
        raise TypeError(
            f"{op}: target must be class indices or probabilities, got {type(target).__name__}"
        )
    w = _weight_array(weight, c, logp.dtype, op)
    if (
        tuple(t.shape) == tuple(input_shape)
        and t.dtype.kind == "f"
        and len(input_shape) != len(shape)
    ):
        if not probs_ok:
            raise ValueError(
                f"{op}: target must be class indices of shape {shape} for input "
                f"{input_shape}, got a target of the input's shape (nll_loss takes class "
                f"indices; for probabilities use cross_entropy)"
            )
        # probabilities: −Σ_c (w_c·) y_c log p_c per row, the mean over rows
        if isinstance(target, Tensor):
            y_t = target if target.ndim < 2 else _rows(target, op, "target")[0]
            y: Any = ops.reshape(y_t, (m, c))
        else:
            y = (
                t.astype(logp.dtype, copy=False).reshape(m, c)
                if t.ndim < 3
                else (_rows(Tensor(t), op, "target")[0].data.astype(logp.dtype, copy=False))
            )
        if label_smoothing:
            y = y * (1.0 - label_smoothing) + label_smoothing / c
        lw = logp * w if w is not None else logp
        rows = -(lw * y).sum(axis=1)
        return _finish(rows, shape, reduction, m if m else np.nan)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(
            f"{op}: target must be class indices of shape {shape}"
            + (f" or probabilities of shape {input_shape}" if probs_ok else "")
            + f" for input {input_shape}, got shape {tuple(t.shape)}"
        )
    tt, valid = _class_targets(t, shape, c, ignore_index, op)
    rows, rw = _nll_rows(logp, tt, valid, w)
    wsum = rw.sum()
    loss = _finish(rows, shape, reduction, wsum)
    if not label_smoothing:
        return loss
    smooth = -((logp * w) if w is not None else logp).sum(axis=1)
    if not valid.all():
        smooth = ops.where(valid, smooth, 0.0)
    sm = _finish(smooth, shape, reduction, wsum if w is not None else valid.sum())
    return loss * (1.0 - label_smoothing) + sm * (label_smoothing / c)


def cross_entropy(
    input: Tensor,  # noqa: A002  (PyTorch's name)
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,  # noqa: A002
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax + cross-entropy, as ``torch.nn.functional.cross_entropy`` (same arguments,
    same order): ``input`` of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` against
    class indices of shape ``()``, ``(N,)`` or ``(N, d1, ...)``, or probabilities of the
    input's shape.

    ``weight`` (one per class) weighs each row by its class, and the mean divides by the
    weights' sum; ``ignore_index`` rows count for nothing (the mean is over the rest);
    ``label_smoothing`` ε mixes the target with the uniform ε/C; ``reduction`` is "mean",
    "sum" or "none".  With the defaults on ``(N, C)`` logits this is the fused primitive
    :func:`tinygrad_bp.ops.cross_entropy`, whose gradient is ``(softmax − onehot) / N``.
    A −∞ logit (a mask) is fine as long as it is not the target's.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> z = tg.Tensor([[0.0, 0.0], [0.0, 0.0]])
    >>> round(F.cross_entropy(z, [0, 1]).item(), 6)  # log 2
    0.693147
    >>> F.cross_entropy(z, [0, -100], reduction="sum").item() == F.cross_entropy(z, [0, 1]).item()
    True
    """
    if (  # the common call first, with as few checks as it needs: the fused primitive
        weight is None
        and reduction == "mean"
        and label_smoothing == 0.0
        and size_average is None
        and reduce is None
        and input.__class__ is Tensor
        and input.data.ndim == 2
        and target.__class__ is np.ndarray
        and target.ndim == 1
        and target.dtype.kind in "iu"
        and not (0 <= ignore_index < input.data.shape[1] and (target == ignore_index).any())
    ):
        try:  # (its one range check also finds a negative ignored label)
            return ops.cross_entropy(input, target)
        except ClassIndexError:
            if not (target == ignore_index).any():
                raise
    _deprecated("cross_entropy", size_average, reduce)
    check_reduction(reduction, "cross_entropy")
    if (
        isinstance(label_smoothing, bool)
        or not isinstance(label_smoothing, (int, float, np.floating))
        or not 0.0 <= label_smoothing <= 1.0
    ):
        raise ValueError(
            f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}"
        )
    x = as_tensor(input, "cross_entropy")
    if x.dtype.kind != "f":
        raise TypeError(
            f"cross_entropy: logits must be floating point, got dtype {x.dtype} (as in "
            f"PyTorch; convert with .float() or .double())"
        )
    if isinstance(weight, str):
        _weight_array(weight, 0, None, "cross_entropy")
    t = _target_array(target)
    if isinstance(target, (Tensor, np.ndarray)) and t.dtype.kind == "f" and t.ndim == x.ndim:
        dt = promote_types(x.dtype, t.dtype)  # a float64 probability target: float64 loss
        if dt != x.dtype:
            x = ops.cast(x, dt)
    if (
        x.ndim == 2
        and weight is None
        and reduction == "mean"
        and not label_smoothing
        and not (
            0 <= ignore_index < x.shape[1]
            and isinstance(t, np.ndarray)
            and t.ndim == 1
            and (t == ignore_index).any()
        )
    ):
        try:  # the fused primitive; its one range check also finds a negative ignored label
            return ops.cross_entropy(x, target)
        except ClassIndexError:
            if not (isinstance(t, np.ndarray) and t.ndim == 1 and (t == ignore_index).any()):
                raise
    rows, shape = _rows(x, "cross_entropy", "input")
    logp = ops.log_softmax(rows, 1)
    return _loss(
        logp, shape, target, weight, ignore_index, reduction, label_smoothing,
        "cross_entropy", x.shape, True,
    )  # fmt: skip


def nll_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,  # noqa: A002
    reduction: str = "mean",
) -> Tensor:
    """``−w[t]·input[..., t, ...]`` per element, as ``torch.nn.functional.nll_loss``:
    ``input`` (log-probabilities) of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``,
    class indices of the input's shape without ``C``; the mean divides by the weights of
    the rows that are not ``ignore_index``.  A −∞ log-probability outside the target
    classes changes nothing (it is never multiplied by 0).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> loss = F.nll_loss(tg.Tensor(np.log([[0.5, 0.5], [0.25, 0.75]])), np.array([0, 1]))
    >>> bool(np.isclose(loss.item(), -(np.log(0.5) + np.log(0.75)) / 2))
    True
    """
    _deprecated("nll_loss", size_average, reduce)
    check_reduction(reduction, "nll_loss")
    x = as_tensor(input, "nll_loss")
    rows, shape = _rows(x, "nll_loss", "input")
    return _loss(
        rows, shape, target, weight, ignore_index, reduction, 0.0, "nll_loss", x.shape, False
    )


def _check_pair(pred: Any, target: Any, op: str) -> Any:
    """Refuse a target whose shape differs from the prediction's (broadcasting them would
    silently average the wrong pairs); returns the target, a list or tuple as an array
    (so that its shape is checked too, and it keeps the prediction's float dtype)."""
    if not isinstance(pred, Tensor):
        raise TypeError(f"{op}: pred must be a Tensor, got {type(pred).__name__}")
    if isinstance(target, (list, tuple)):
        dtype = pred.dtype if pred.dtype.kind == "f" else None
        target = _to_array(target, dtype, op)
    tshape = target.shape if hasattr(target, "shape") else None
    if tshape is not None and tuple(tshape) != pred.shape:
        raise ValueError(
            f"{op}: target shape {tuple(tshape)} differs from prediction shape {pred.shape}"
        )
    return target


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean over all elements of ``(pred - target) ** 2`` (PyTorch's ``mse_loss``);
    ``reduction="sum"`` or ``"none"`` as in PyTorch.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.mse_loss(tg.Tensor([1.0, 2.0]), tg.Tensor([0.0, 0.0])).item()
    2.5
    """
    check_reduction(reduction, "mse_loss")
    if not isinstance(pred, Tensor):
        raise TypeError(f"mse_loss: pred must be a Tensor, got {type(pred).__name__}")
    if isinstance(target, (str, bytes)):
        raise TypeError(f"mse_loss: target must be numbers, got a string {target!r}")
    if isinstance(target, (list, tuple)):
        target = _to_array(target, pred.dtype if pred.dtype.kind == "f" else None, "mse_loss")
    tshape = tuple(np.shape(target.data if isinstance(target, Tensor) else target))
    if tshape != pred.shape:
        try:
            np.broadcast_shapes(tshape, pred.shape)
        except ValueError:
            raise ValueError(
                f"mse_loss: target shape {tshape} does not broadcast with the prediction's "
                f"shape {pred.shape}"
            ) from None
        warnings.warn(  # PyTorch's warning, and then PyTorch's broadcast
            f"mse_loss: using a target size {tshape} that is different to the input size "
            f"{pred.shape}. This will likely lead to incorrect results due to broadcasting. "
            f"Please ensure they have the same size.",
            UserWarning,
            stacklevel=2,
        )
    d = pred - target
    return reduce(d * d, reduction)


def binary_cross_entropy_with_logits(
    logits: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """``softplus(z) − z·y`` = −[y log σ(z) + (1 − y) log(1 − σ(z))], stable for any z.
    ∂/∂z = σ(z) − y (over N for the mean).  Computed as ``z(1 − y) + log(1 + e^−z)`` for
    z ≥ 0 and ``−z·y + log(1 + e^z)`` below, so that z = +inf gives inf (as PyTorch) and
    z = −inf gives inf too (PyTorch's formula gives NaN there: see benchmarks/fuzz_torch.py).
    With ``pos_weight`` (broadcast along the last axis, one per class) the positive term
    is weighted, PyTorch's ``(1 − y)·z + (1 + (p − 1)·y)·softplus(−z)``; ``weight``
    (broadcast to the loss) multiplies each element's loss, as PyTorch's.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> round(F.binary_cross_entropy_with_logits(tg.Tensor([0.0]), [1.0]).item(), 6)
    0.693147
    >>> round(F.binary_cross_entropy_with_logits(
    ...     tg.Tensor([0.0]), [1.0], pos_weight=tg.Tensor([3.0])).item(), 6)
    2.079442
    """
    _deprecated("binary_cross_entropy_with_logits", size_average, reduce)
    if isinstance(weight, str):
        raise TypeError(
            f"binary_cross_entropy_with_logits: the third argument is weight, as in PyTorch; "
            f"pass reduction={weight!r} by name"
        )
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = as_tensor(logits, "binary_cross_entropy_with_logits")
    t = _target_array(target)
    if tuple(np.shape(t)) != logits.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {tuple(np.shape(t))} differs "
            f"from the logits' shape {logits.shape}"
        )
    y = target if isinstance(target, Tensor) else np.asarray(t, dtype=logits.dtype)
    pos = logits.data >= 0
    zp, zn = ops.where(pos, logits, 0.0), ops.where(pos, 0.0, logits)  # (z = zp + zn)
    soft = ops.log1p(ops.exp(zn - zp))  # log(1 + e^−|z|)  (zn − zp = −|z|)
    if pos_weight is None:
        loss = zp * (1.0 - y) - zn * y + soft
    else:  # softplus(−z) = log(1 + e^−|z|) − zn
        pw = _loss_weight(pos_weight, logits, "pos_weight")
        loss = (1.0 - y) * logits + (1.0 + (pw - 1.0) * y) * (soft - zn)
    if weight is not None:
        loss = loss * _loss_weight(weight, logits, "weight")
    return _reduce(loss, reduction)


def _loss_weight(w: Any, like: Tensor, name: str) -> Any:
    """A loss's ``weight``/``pos_weight``: a Tensor as it is, else an array of the
    prediction's dtype; it must broadcast to the prediction's shape."""
    wt = w if isinstance(w, Tensor) else np.asarray(w, dtype=like.dtype)
    shape = wt.shape
    try:
        if np.broadcast_shapes(tuple(shape), like.shape) != like.shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"binary_cross_entropy_with_logits: {name} of shape {tuple(shape)} does not "
            f"broadcast to the logits' shape {like.shape}"
        ) from None
    return wt


# ---------------------------------------------------------------- more of PyTorch's losses
def _pred_target(pred: Any, target: Any, op: str) -> tuple[Tensor, Any]:
    pred = as_tensor(pred, op)
    if pred.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating prediction, got dtype {pred.dtype}")
    return pred, _check_pair(pred, target, op)


def l1_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """``|pred − target|``, reduced (``torch.nn.functional.l1_loss``); ∂/∂pred =
    sign(pred − target), 0 where they are equal."""
    check_reduction(reduction, "l1_loss")
    pred, target = _pred_target(pred, target, "l1_loss")
    return _reduce(ops.abs(pred - target), reduction)


def smooth_l1_loss(pred: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``½d²/β`` where ``|d| < β``, else ``|d| − ½β`` (``d = pred − target``), as PyTorch's;
    ``beta=0`` is the L1 loss."""
    check_reduction(reduction, "smooth_l1_loss")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be a non-negative number, got {beta!r}")
    pred, target = _pred_target(pred, target, "smooth_l1_loss")
    d = pred - target
    a = ops.abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    with np.errstate(invalid="ignore"):
        small = a.data < beta
    return _reduce(ops.where(small, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(pred: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``½d²`` where ``|d| < δ``, else ``δ(|d| − ½δ)``, as ``torch.nn.functional.huber_loss``."""
    check_reduction(reduction, "huber_loss")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
        raise ValueError(f"huber_loss: delta must be a positive number, got {delta!r}")
    pred, target = _pred_target(pred, target, "huber_loss")
    d = pred - target
    a = ops.abs(d)
    with np.errstate(invalid="ignore"):
        small = a.data < delta
    return _reduce(ops.where(small, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)


def _clamped_logs(p: Any) -> tuple[Any, Any]:
    """``max(log p, −100)`` and ``max(log(1 − p), −100)``, on arrays or Tensors."""
    with np.errstate(divide="ignore"):
        return ops.clamp(ops.log(p), min=-100.0), ops.clamp(ops.log(1.0 - p), min=-100.0)


class _BinaryCrossEntropy(Function):
    """``−[y·log p + (1 − y)·log(1 − p)]``, each log clamped at −100, as one node with
    PyTorch's derivatives: ∂/∂p = (p − y) / max(p·(1 − p), 1e-12), finite at p = 0 and 1
    (a saturated sigmoid), where the composed ``clamp(log p)`` gives 0·∞ = NaN and poisons
    training; ∂/∂y = log(1 − p) − log p (unclamped, as PyTorch's).  The backward is
    written with Tensor ops, so create_graph differentiates it again."""

    @staticmethod
    def forward(ctx: Any, p: Tensor, y: Tensor) -> Any:
        ctx.save_for_backward(p, y)
        log_p, log_q = (t.data for t in _clamped_logs(p))
        return -(y.data * log_p + (1.0 - y.data) * log_q)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Any, Any]:
        p, y = ctx.saved_tensors
        gp = gy = None
        if ctx.needs_input_grad[0]:
            gp = g * (p - y) / ops.clamp(p * (1.0 - p), min=1e-12)
        if ctx.needs_input_grad[1]:  # (PyTorch's target gradient: the logs unclamped)
            with np.errstate(divide="ignore"):
                gy = g * (ops.log(1.0 - p) - ops.log(p))
        return gp, gy


def binary_cross_entropy(pred: Tensor, target: Any, weight: Any = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """``−[y·log p + (1 − y)·log(1 − p)]`` of probabilities ``p`` in [0, 1], each log
    clamped at −100 (PyTorch's), times ``weight``.  Prefer
    :func:`binary_cross_entropy_with_logits` on logits: it is stable."""
    _deprecated("binary_cross_entropy", size_average, reduce)
    check_reduction(reduction, "binary_cross_entropy")
    pred, target = _pred_target(pred, target, "binary_cross_entropy")
    pd = pred.data
    if pd.size and not ((pd >= 0) & (pd <= 1)).all():
        raise ValueError(
            "binary_cross_entropy: all elements of the input should be between 0 and 1 (pass "
            "logits to binary_cross_entropy_with_logits instead)"
        )
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=pred.dtype))
    loss = _BinaryCrossEntropy.apply(pred, y)
    if weight is not None:
        loss = loss * (weight if isinstance(weight, Tensor) else np.asarray(weight, pred.dtype))
    return _reduce(loss, reduction)


def kl_div(pred: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:  # fmt: skip
    """``target·(log target − pred)`` with ``pred`` log-probabilities (0 where target is 0),
    as ``torch.nn.functional.kl_div``; ``reduction="batchmean"`` divides the sum by the
    batch size (the KL divergence), ``"mean"`` by the number of elements (PyTorch's
    default)."""
    _deprecated("kl_div", size_average, reduce)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(
            f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}"
        )
    pred, target = _pred_target(pred, target, "kl_div")
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=pred.dtype))
    if log_target:
        loss = ops.exp(t) * (t - pred)
    else:
        pos = t.data > 0
        one = np.ones((), dtype=t.data.dtype)
        safe_log = ops.log(ops.where(pos, t, one))
        loss = ops.where(pos, t * safe_log, np.zeros((), dtype=t.data.dtype)) - t * pred
    if reduction == "batchmean":
        return loss.sum() / (pred.shape[0] if pred.ndim else 1)
    if reduction == "mean":
        warnings.warn(  # PyTorch's warning
            "kl_div: reduction='mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size, and aligns with the KL "
            "divergence's definition",
            UserWarning,
            stacklevel=2,
        )
    return _reduce(loss, reduction)
