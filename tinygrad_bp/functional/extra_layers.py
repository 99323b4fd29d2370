"""More of PyTorch's layer functions, composed of the primitives: ``conv1d`` (a
``conv2d`` of height 1), ``adaptive_avg_pool1d``/``adaptive_avg_pool2d`` (the means of
PyTorch's bins), ``adaptive_max_pool2d``, ``interpolate`` (nearest, linear, bilinear:
PyTorch's source positions, read by indexing), ``group_norm``,
``instance_norm``, ``prelu``, ``dropout2d``, ``unfold`` and ``fold`` (the window
primitives with PyTorch's ``(N, C·kH·kW, L)`` layout), ``conv_transpose2d`` (an einsum
folded back: the adjoint of ``conv2d``), ``conv_transpose1d``, ``max_pool1d``,
``avg_pool1d`` (2-d pools of height 1) and ``bilinear``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops.window import window_shape
from ..tensor import Tensor
from ._util import float_tensor
from .conv import conv2d

__all__ = [
    "conv1d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "group_norm", "instance_norm",
    "prelu", "dropout2d", "adaptive_max_pool2d", "interpolate", "unfold", "fold",
    "conv_transpose2d", "conv_transpose1d", "max_pool1d", "avg_pool1d", "bilinear",
]  # fmt: skip


def _one(v: Any, name: str, op: str) -> int:
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    return int(v)


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch): ``x (N, C_in, L)`` (or ``(C_in,
    L)``), ``weight (C_out, C_in/groups, K)`` -> ``(N, C_out, L_out)``; ``padding`` an
    int, ``"same"`` or ``"valid"``.  A :func:`conv2d` of height 1.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.conv1d(tg.Tensor(np.ones((1, 2, 5))), tg.Tensor(np.ones((3, 2, 2)))).shape
    (1, 3, 4)
    """
    x, weight = float_tensor(x, "conv1d"), float_tensor(weight, "conv1d")
    if x.ndim == 2:  # unbatched (C, L), as PyTorch
        return conv1d(ops.unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups)[0]
    if x.ndim != 3:
        raise ValueError(f"conv1d: expected an input of shape (N, C, L), got shape {x.shape}")
    if weight.ndim != 3:
        raise ValueError(
            f"conv1d: weight must have shape (C_out, C_in/groups, K), got shape {weight.shape}"
        )
    s = _one(stride, "stride", "conv1d")
    d = _one(dilation, "dilation", "conv1d")
    p = padding if isinstance(padding, str) else (0, _one(padding, "padding", "conv1d"))
    y = conv2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias, (1, s), p, (1, d), groups)
    return ops.squeeze(y, 2)


def _bin_means(x: Tensor, axis: int, n_out: int) -> Tensor:
    """The means over PyTorch's adaptive bins along ``axis`` (``[floor(i·n/n_out),
    ceil((i+1)·n/n_out))``), stacked there."""
    n = x.shape[axis]
    at = (slice(None),) * (axis % x.ndim)
    parts = [
        ops.mean(x[at + (slice((i * n) // n_out, -(-((i + 1) * n) // n_out)),)], axis, True)
        for i in range(n_out)
    ]
    return ops.cat(parts, axis)


def _sizes(output_size: Any, shape: tuple[int, ...], k: int, op: str) -> tuple[int, ...]:
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * k
    if len(sizes) != k:
        raise ValueError(f"{op}: output_size must be an int or {k} ints, got {output_size!r}")
    out = []
    for s, n in zip(sizes, shape):
        if s is None:
            s = n
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"{op}: output sizes must be positive ints, got {output_size!r}")
        out.append(int(s))
    return tuple(out)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """The mean over PyTorch's adaptive bins of ``(…, H, W)`` giving ``output_size`` (an
    int, a pair, None keeping that size), one axis after the other; the gradient spreads
    g evenly over each bin.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.adaptive_avg_pool2d(tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 1).data
    array([[[[7.5]]]])
    """
    x = float_tensor(x, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape {x.shape}")
    oh, ow = _sizes(output_size, x.shape[-2:], 2, "adaptive_avg_pool2d")
    return _bin_means(_bin_means(x, -1, ow), -2, oh)


def adaptive_avg_pool1d(x: Tensor, output_size: Any) -> Tensor:
    """The mean over PyTorch's adaptive bins of ``(…, L)`` giving ``output_size``."""
    x = float_tensor(x, "adaptive_avg_pool1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"adaptive_avg_pool1d: expected a 2-D or 3-D input, got shape {x.shape}")
    (ol,) = _sizes(output_size, x.shape[-1:], 1, "adaptive_avg_pool1d")
    return _bin_means(x, -1, ol)


def _affine(y: Tensor, weight: Any, bias: Any, c: int, op: str) -> Tensor:
    shape = (c,) + (1,) * (y.ndim - 2)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(np.shape(p.data if isinstance(p, Tensor) else p)) != (c,):
            raise ValueError(f"{op}: {name} must have shape ({c},), got {np.shape(p)}")
    if weight is not None:
        y = (
            y * ops.reshape(weight, shape)
            if isinstance(weight, Tensor)
            else y * np.reshape(weight, shape)
        )
    if bias is not None:
        y = (
            y + ops.reshape(bias, shape)
            if isinstance(bias, Tensor)
            else y + np.reshape(bias, shape)
        )
    return y


def group_norm(x: Tensor, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """``torch.nn.functional.group_norm``: ``x (N, C, *)``'s channels in ``num_groups``
    groups, each normalised over its channels and positions (biased variance), then
    ``weight`` and ``bias`` per channel."""
    x = float_tensor(x, "group_norm")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got {x.shape}")
    n, c = x.shape[:2]
    if (
        isinstance(num_groups, bool)
        or not isinstance(num_groups, (int, np.integer))
        or (num_groups < 1 or c % num_groups)
    ):
        raise ValueError(
            f"group_norm: num_groups must be a positive int dividing the {c} channels, got "
            f"{num_groups!r}"
        )
    g = ops.reshape(x, (n, int(num_groups), -1))
    d = g - ops.mean(g, -1, True)
    v = ops.mean(d * d, -1, True)
    y = ops.reshape(d / ops.sqrt(v + eps), x.shape)
    return _affine(y, weight, bias, c, "group_norm")


def instance_norm(x: Tensor, running_mean: Any = None, running_var: Any = None,
                  weight: Any = None, bias: Any = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """``torch.nn.functional.instance_norm`` with the input's own statistics: each
    channel of each sample normalised over its positions (``group_norm`` with one group
    per channel).  Running statistics are not built: they are refused by name."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise ValueError(
            "instance_norm: running statistics are not built (PyTorch's InstanceNorm keeps "
            "none by default); normalise with the input's own statistics"
        )
    x = float_tensor(x, "instance_norm")
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *), got {x.shape}")
    return group_norm(x, x.shape[1], weight, bias, eps)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """``x`` where ``x > 0``, else ``weight · x``; ``weight`` has one entry, or one per
    channel (dim 1), as PyTorch's."""
    x = float_tensor(x, "prelu")
    w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, dtype=x.dtype))
    k = w.data.size
    if w.ndim > 1 or (k != 1 and (x.ndim < 2 or x.shape[1] != k)):
        raise ValueError(
            f"prelu: weight must have 1 entry or one per channel (dim 1 of {x.shape}), got "
            f"shape {w.shape}"
        )
    if k != 1:
        w = ops.reshape(w, (k,) + (1,) * (x.ndim - 2))
    with np.errstate(invalid="ignore"):
        pos = x.data > 0
    return ops.where(pos, x, w * x)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, rng: Any = None) -> Tensor:
    """Channel dropout, as ``torch.nn.functional.dropout2d``: each whole channel of
    ``(N, C, H, W)`` (or ``(C, H, W)``) zeroed with probability ``p``, the rest scaled by
    ``1/(1 − p)``; the identity when not training."""
    x = float_tensor(x, "dropout2d")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"dropout2d: p must be a probability in [0, 1], got {p!r}")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got shape {x.shape}")
    if not training or p == 0:
        return x
    from ..creation import default_generator

    g = (
        rng
        if isinstance(rng, np.random.Generator)
        else (default_generator() if rng is None else np.random.default_rng(rng))
    )
    keep = g.random(x.shape[:-2] + (1, 1)) >= p
    scale = (keep * (0.0 if p == 1 else 1.0 / (1.0 - p))).astype(x.dtype, copy=False)
    return ops.mul(x, scale)


def adaptive_max_pool2d(x: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum over PyTorch's adaptive bins of ``(…, H, W)``; the gradient goes to
    each bin's first maximum (as PyTorch's).  ``return_indices=True`` also gives the
    flat ``h * W + w`` indices, int64."""
    x = float_tensor(x, "adaptive_max_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: expected a 3-D or 4-D input, got shape {x.shape}")
    h, w = x.shape[-2:]
    oh, ow = _sizes(output_size, (h, w), 2, "adaptive_max_pool2d")
    rows, idx = [], []
    for i in range(oh):
        h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        cols, cidx = [], []
        for j in range(ow):
            w0, w1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            win = ops.reshape(x[..., h0:h1, w0:w1], x.shape[:-2] + (-1,))
            best = win.max(-1)
            cols.append(best.values)
            k = best.indices.data
            cidx.append((h0 + k // (w1 - w0)) * w + w0 + k % (w1 - w0))
        rows.append(ops.stack(cols, -1))
        idx.append(np.stack(cidx, -1))
    out = ops.stack(rows, -2)
    if return_indices:
        from ..tensor import leaf

        return out, leaf(np.stack(idx, -2).astype(np.int64))
    return out


def _interp_source(n_in: int, n_out: int, mode: str, align_corners: bool | None,
                   scale: float | None) -> tuple[Any, Any, Any]:  # fmt: skip
    """PyTorch's 1-D source positions: ``(i0, i1, λ)``, each output reading
    ``(1 − λ)·x[i0] + λ·x[i1]`` (nearest: ``i1 = i0``, ``λ = 0``)."""
    dst = np.arange(n_out, dtype=np.float64)
    if mode == "nearest":
        r = (1.0 / scale) if scale else n_in / n_out
        src = np.minimum(np.floor(dst * r).astype(np.int64), n_in - 1)
        return src, src, None
    if align_corners:
        pos = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        r = (1.0 / scale) if scale else n_in / n_out
        pos = np.maximum((dst + 0.5) * r - 0.5, 0.0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, pos - i0


def interpolate(x: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:  # fmt: skip
    """``torch.nn.functional.interpolate`` for ``mode`` ``"nearest"``, ``"linear"`` (3-D
    input) and ``"bilinear"`` (4-D): PyTorch's source positions along each spatial axis,
    read by indexing and mixed with its weights, so the gradient adds g back at the
    sources.  Other modes are refused by name.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.interpolate(tg.Tensor([[[1.0, 2.0]]]), scale_factor=2).data
    array([[[1., 1., 2., 2.]]])
    >>> F.interpolate(tg.Tensor([[[1.0, 2.0]]]), size=4, mode="linear").data
    array([[[1.  , 1.25, 1.75, 2.  ]]])
    """
    x = float_tensor(x, "interpolate")
    if mode not in ("nearest", "linear", "bilinear"):
        raise ValueError(
            f"interpolate: mode {mode!r} is not built; 'nearest', 'linear' and 'bilinear' are"
        )
    k = x.ndim - 2
    if k < 1 or k > 2 or (mode == "linear" and k != 1) or (mode == "bilinear" and k != 2):
        raise ValueError(
            f"interpolate: mode {mode!r} does not take a {x.ndim}-D input (shape {x.shape}): "
            f"'linear' takes (N, C, L), 'bilinear' (N, C, H, W), 'nearest' either"
        )
    if align_corners is not None and mode == "nearest":
        raise ValueError("interpolate: align_corners only applies to 'linear' and 'bilinear'")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    spatial = x.shape[2:]
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * k
        scales: tuple[Any, ...] = (None,) * k
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (
            scale_factor,) * k  # fmt: skip
        sizes = tuple(int(np.floor(n * float(s))) for n, s in zip(spatial, scales))
    if len(sizes) != k or any(int(s) < 1 for s in sizes):
        raise ValueError(f"interpolate: output size must be {k} positive ints, got {sizes}")
    out = x
    # the last axis first, then the one before (PyTorch's bilinear order of operations)
    for axis in reversed(range(k)):
        n_in, n_out, s = spatial[axis], int(sizes[axis]), scales[axis]
        i0, i1, lam = _interp_source(n_in, n_out, mode, align_corners, s)
        at = (slice(None),) * (2 + axis)
        a = ops.getitem(out, at + (i0,))
        if lam is None:
            out = a
            continue
        shape = (n_out,) + (1,) * (k - 1 - axis)
        w1 = lam.astype(x.dtype).reshape(shape)
        out = a * (1 - w1) + ops.getitem(out, at + (i1,)) * w1
    return out


def unfold(
    x: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """``torch.nn.functional.unfold`` (im2col): the sliding windows of ``x (N, C, H, W)``
    as ``(N, C·kH·kW, L)``, ``L`` the number of windows (the unfold primitive, reshaped).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.unfold(tg.Tensor(np.ones((1, 2, 4, 5))), 2).shape
    (1, 8, 12)
    """
    x = float_tensor(x, "unfold")
    if x.ndim == 3:  # unbatched (C, H, W), as PyTorch
        return unfold(ops.unsqueeze(x, 0), kernel_size, dilation, padding, stride)[0]
    if x.ndim != 4:
        raise ValueError(f"unfold: expected an input of shape (N, C, H, W), got shape {x.shape}")
    cols = ops.unfold(x, kernel_size, stride, padding, dilation=dilation, op="unfold")
    n, c, kh, kw, oh, ow = cols.shape
    return ops.reshape(cols, (n, c * kh * kw, oh * ow))


def fold(
    x: Tensor,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """``torch.nn.functional.fold`` (col2im), the adjoint of :func:`unfold`: the columns
    ``(N, C·kH·kW, L)`` summed back into ``(N, C, *output_size)``, overlaps added."""
    x = float_tensor(x, "fold")
    if x.ndim == 2:  # unbatched (C·kH·kW, L)
        return fold(ops.unsqueeze(x, 0), output_size, kernel_size, dilation, padding, stride)[0]
    if x.ndim != 3:
        raise ValueError(f"fold: expected an input of shape (N, C·kH·kW, L), got shape {x.shape}")
    kernel = _pair2(kernel_size, "kernel_size", 1)
    strides = _pair2(stride, "stride", 1)
    pads = _pair2(padding, "padding", 0)
    dil = _pair2(dilation, "dilation", 1)
    hw = _pair2(output_size, "output_size", 1)
    oh, ow = window_shape(hw, kernel, strides, pads, "fold", dil)
    n, ck, length = x.shape
    k = kernel[0] * kernel[1]
    if ck % k or length != oh * ow:
        raise ValueError(
            f"fold: expected (N, C·{kernel[0]}·{kernel[1]}, {oh * ow}) for output_size {hw}, "
            f"got shape {x.shape}"
        )
    cols = ops.reshape(x, (n, ck // k) + kernel + (oh, ow))
    return ops.fold(cols, (n, ck // k) + hw, kernel, strides, pads, dil)


def _pair2(v: Any, name: str, minimum: int) -> tuple[int, int]:
    from ..ops.window import _pair

    return _pair(v, name, "fold", minimum)


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """The transposed convolution (``torch.nn.functional.conv_transpose2d``), the adjoint
    of :func:`conv2d` with respect to its input: ``x (N, C_in, H, W)``, ``weight (C_in,
    C_out/groups, kH, kW)`` -> ``(N, C_out, (H − 1)·s − 2p + d·(k − 1) + output_padding +
    1, …)``.  Each input pixel's products with the kernel (an einsum) are added into the
    output by ``fold``, so every derivative is the primitives'.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.conv_transpose2d(tg.Tensor(np.ones((1, 2, 3, 3))), tg.Tensor(np.ones((2, 4, 2, 2))),
    ...                    stride=2).shape
    (1, 4, 6, 6)
    """
    from ..ops.window import _pair

    x, weight = float_tensor(x, "conv_transpose2d"), float_tensor(weight, "conv_transpose2d")
    if x.ndim == 3:  # unbatched (C, H, W), as PyTorch
        return conv_transpose2d(
            ops.unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation
        )[0]
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"conv_transpose2d: expected x (N, C_in, H, W) and weight (C_in, C_out/groups, kH, "
            f"kW), got shapes {x.shape} and {weight.shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv_transpose2d: groups must be a positive int, got {groups!r}")
    n, cin, h, w = x.shape
    if weight.shape[0] != cin or cin % groups:
        raise ValueError(
            f"conv_transpose2d: the input has {cin} channels but the weight {weight.shape} "
            f"expects {weight.shape[0]} (and groups={groups} must divide them)"
        )
    op = "conv_transpose2d"
    s, p = _pair(stride, "stride", op, 1), _pair(padding, "padding", op, 0)
    d, op_ = _pair(dilation, "dilation", op, 1), _pair(output_padding, "output_padding", op, 0)
    if any(o >= max(si, di) for o, si, di in zip(op_, s, d)):
        raise ValueError(
            f"{op}: output_padding {op_} must be smaller than stride {s} or dilation {d}"
        )
    kh, kw = weight.shape[2:]
    cout_g = weight.shape[1]
    hw = tuple(
        (n_ - 1) * si - 2 * pi + di * (k - 1) + oi + 1
        for n_, si, pi, di, k, oi in zip((h, w), s, p, d, (kh, kw), op_)
    )
    if min(hw) < 1:
        raise ValueError(f"{op}: the output size {hw} is not positive")
    cg = cin // groups
    parts = []
    for g in range(groups):
        xg = x if groups == 1 else x[:, g * cg : (g + 1) * cg]
        wg = weight if groups == 1 else weight[g * cg : (g + 1) * cg]
        cols = ops.einsum("nchw,cdpq->ndpqhw", xg, wg)
        parts.append(ops.fold(cols, (n, cout_g) + hw, (kh, kw), s, p, d))
    y = parts[0] if groups == 1 else ops.cat(parts, 1)
    if bias is not None:
        y = y + ops.reshape(bias, (-1, 1, 1))
    return y


def conv_transpose1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """``torch.nn.functional.conv_transpose1d``: :func:`conv_transpose2d` of height 1."""
    x, weight = float_tensor(x, "conv_transpose1d"), float_tensor(weight, "conv_transpose1d")
    if x.ndim == 2:
        return conv_transpose1d(
            ops.unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation
        )[0]
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv_transpose1d: expected x (N, C_in, L) and weight (C_in, C_out/groups, K), "
            f"got shapes {x.shape} and {weight.shape}"
        )
    one = "conv_transpose1d"
    y = conv_transpose2d(
        ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias,
        (1, _one(stride, "stride", one)), (0, _one(padding, "padding", one)),
        (0, _one(output_padding, "output_padding", one)), groups,
        (1, _one(dilation, "dilation", one)),
    )  # fmt: skip
    return ops.squeeze(y, 2)


def max_pool1d(
    x: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """``torch.nn.functional.max_pool1d``: :func:`max_pool2d` of height 1 (indices into
    the length, int64)."""
    from .conv import max_pool2d

    x = float_tensor(x, "max_pool1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"max_pool1d: expected a 2-D or 3-D input, got shape {x.shape}")
    if x.ndim == 2:  # unbatched (C, L), as PyTorch
        out = max_pool1d(ops.unsqueeze(x, 0), kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices)  # fmt: skip
        if return_indices:
            from ..tensor import leaf

            return out[0][0], leaf(out[1].data[0])
        return out[0]
    k = _one(kernel_size, "kernel_size", "max_pool1d")
    s = k if stride is None else _one(stride, "stride", "max_pool1d")
    out = max_pool2d(
        ops.unsqueeze(x, -2), (1, k), (1, s), (0, _one(padding, "padding", "max_pool1d")),
        (1, _one(dilation, "dilation", "max_pool1d")), ceil_mode, return_indices,
    )  # fmt: skip
    if return_indices:
        from ..tensor import leaf

        return ops.squeeze(out[0], -2), leaf(out[1].data[..., 0, :])
    return ops.squeeze(out, -2)


def avg_pool1d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:  # fmt: skip
    """``torch.nn.functional.avg_pool1d``: :func:`avg_pool2d` of height 1."""
    from .conv import avg_pool2d

    x = float_tensor(x, "avg_pool1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"avg_pool1d: expected a 2-D or 3-D input, got shape {x.shape}")
    if x.ndim == 2:  # unbatched (C, L), as PyTorch
        return avg_pool1d(ops.unsqueeze(x, 0), kernel_size, stride, padding, ceil_mode,
                          count_include_pad)[0]  # fmt: skip
    k = _one(kernel_size, "kernel_size", "avg_pool1d")
    s = k if stride is None else _one(stride, "stride", "avg_pool1d")
    y = avg_pool2d(
        ops.unsqueeze(x, -2), (1, k), (1, s), (0, _one(padding, "padding", "avg_pool1d")),
        ceil_mode, count_include_pad,
    )  # fmt: skip
    return ops.squeeze(y, -2)


def bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``torch.nn.functional.bilinear``: ``y_k = x1ᵀ·A_k·x2 + b_k`` with ``weight (out,
    in1, in2)``, over any leading axes."""
    x1, x2 = float_tensor(x1, "bilinear"), float_tensor(x2, "bilinear")
    weight = float_tensor(weight, "bilinear")
    if weight.ndim != 3 or x1.shape[-1:] != weight.shape[1:2] or x2.shape[-1:] != weight.shape[2:]:
        raise ValueError(
            f"bilinear: expected weight (out, in1, in2) matching x1 (..., in1) and x2 (..., "
            f"in2), got {weight.shape}, {x1.shape} and {x2.shape}"
        )
    lead = x1.shape[:-1]
    if x2.shape[:-1] != lead:
        raise ValueError(f"bilinear: x1 {x1.shape} and x2 {x2.shape} differ before the last axis")
    a, b = ops.reshape(x1, (-1, x1.shape[-1])), ops.reshape(x2, (-1, x2.shape[-1]))
    y = ops.reshape(ops.einsum("ni,kij,nj->nk", a, weight, b), lead + (weight.shape[0],))
    return y if bias is None else y + bias
