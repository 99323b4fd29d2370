"""Convolution and pooling over NCHW images, through the input's windows (im2col).

``conv2d`` takes the windows of the padded input as a ``(C·kH·kW, OH·OW·N)`` matrix
(:func:`~tinygrad_bp.ops.window.unfold`) and multiplies the weight reshaped to
``(C_out, C·kH·kW)`` by it: one matrix product for the whole batch, as CS231n's fast
layers do.  Pooling reduces the same windows over their kernel axes.  The gradients come
from the engine:
``unfold``'s derivative is col2im, the matmul's the article's ``xᵀ·g`` and ``g·Wᵀ``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..autograd import release
from ..ops.window import _pair, _plain, max_pool, unfold, window_shape
from ..tensor import Tensor, leaf
from ._util import as_tensor

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "max_unpool2d"]


def _check_image(x: Tensor, op: str) -> None:
    if x.data.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape {x.shape}")


_ONE, _ZERO = (1, 1), (0, 0)


def _conv_padding(
    padding: Any, kernel: tuple[int, int], strides: tuple[int, int], dil: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(top/left pads, extra bottom/right pads)`` for an int, a pair, ``"valid"`` or
    ``"same"`` (PyTorch's: the total ``d·(k − 1)`` split with the odd one at the end)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if strides != (1, 1):
                raise ValueError(
                    f"conv2d: padding='same' is not supported for strided convolutions "
                    f"(stride {strides}), as in PyTorch"
                )
            total = [d * (k - 1) for d, k in zip(dil, kernel)]
            lead = (total[0] // 2, total[1] // 2)
            return lead, (total[0] - 2 * lead[0], total[1] - 2 * lead[1])
        raise ValueError(
            f"conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}"
        )
    return _pair(padding, "padding", "conv2d", 0), (0, 0)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch): ``x (N, C_in, H, W)``,
    ``weight (C_out, C_in/groups, kH, kW)``, ``bias (C_out,)`` -> ``(N, C_out, OH, OW)``.

    ``padding`` an int, a pair, ``"valid"`` (none) or ``"same"`` (the output as large as
    the input; stride 1); ``dilation`` spaces the kernel's taps; ``groups`` splits the
    channels into that many independent convolutions (``groups = C_in``: depthwise).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.ones((1, 1, 4, 4)))
    >>> w = tg.Tensor(np.ones((2, 1, 3, 3)), requires_grad=True)
    >>> y = F.conv2d(x, w, padding=1)
    >>> y.shape, float(y.data[0, 0, 0, 0]), float(y.data[0, 0, 1, 1])
    ((1, 2, 4, 4), 4.0, 9.0)
    >>> F.conv2d(x, w, padding="same", dilation=2).shape
    (1, 2, 4, 4)
    """
    x = as_tensor(x, "conv2d")
    weight = as_tensor(weight, "conv2d")
    _check_image(x, "conv2d")
    if weight.data.ndim != 4:
        raise ValueError(
            f"conv2d: weight must have shape (C_out, C_in/groups, kH, kW), got shape {weight.shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    n, c, h, w = x.shape
    cout, cin, kh, kw = weight.shape
    if c % groups or cout % groups:
        raise ValueError(
            f"conv2d: groups={groups} must divide both the input's {c} channels and the "
            f"weight's {cout} output channels"
        )
    if cin * groups != c:
        raise ValueError(
            f"conv2d: the input has {c} channels (shape {x.shape}) but the weight expects "
            f"{cin * groups} ({cin} per group × groups={groups}; weight shape {weight.shape})"
        )
    if bias is not None:
        bias = as_tensor(bias, "conv2d")
        if bias.shape != (cout,):
            raise ValueError(
                f"conv2d: bias must have shape ({cout},) for weight {weight.shape}, got "
                f"{bias.shape}"
            )
    strides = _pair(stride, "stride", "conv2d", 1)
    dil = (
        _ONE
        if dilation.__class__ is int and dilation == 1
        else _pair(dilation, "dilation", "conv2d", 1)
    )
    if isinstance(padding, str):
        pads, extra = _conv_padding(padding, (kh, kw), strides, dil)
    else:
        pads, extra = _pair(padding, "padding", "conv2d", 0), _ZERO
    if extra != _ZERO:  # 'same' with an even dilated kernel: the odd pad row at the end
        x = x.pad(((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
        h, w = x.shape[2:]
    if groups > 1:
        window_shape((h, w), (kh, kw), strides, pads, "conv2d", dil)  # before the split
        cg, og = c // groups, cout // groups
        outs = [
            _conv(x[:, g * cg : (g + 1) * cg], weight[g * og : (g + 1) * og], strides, pads, dil)
            for g in range(groups)
        ]
        y = ops.cat(outs, 1)
        if bias is not None:
            y = ops.add(y, ops.reshape(bias, cout, 1, 1))
        return y
    return _conv(x, weight, strides, pads, dil, bias)


def _conv(
    x: Tensor,
    weight: Tensor,
    strides: tuple[int, int],
    pads: tuple[int, int],
    dil: tuple[int, int],
    bias: Tensor | None = None,
) -> Tensor:
    n, c = x.shape[:2]
    cout, _, kh, kw = weight.shape
    # the windows laid out as (C, kH, kW, OH, OW, N) in memory, so that the product is
    # one 2-D (C_out, K) @ (K, OH·OW·N): the weight's gradient is then one matrix product
    # over all images and positions (a batched product would make one (C_out, K) per
    # image and sum them), and the input's gradient another; with the images innermost
    # every copy and add over the windows (and the ReLU and pooling after) runs over long
    # contiguous stretches rather than rows of OW elements
    # Every node made here but the last is seen by this graph only, and no backward reads
    # its own output: each value is released as soon as its backward has run (the
    # windows, the product and the sum are the step's largest arrays; freed early, a
    # backward's temporaries reuse their memory)
    cols = release(unfold(x, (kh, kw), strides, pads, op="conv2d", layout="ckhwn", dilation=dil))
    oh, ow = cols.shape[4:]
    k = c * kh * kw
    cols2 = ops.reshape(release(ops.transpose(cols, 1, 2, 3, 4, 5, 0)), k, oh * ow * n)
    y = release(ops.matmul(ops.reshape(weight, cout, k), release(cols2)))  # (C_out, OH·OW·N)
    if bias is not None:  # (added in place in the product's array)
        y = release(ops.add(release(y, reuse=True), ops.reshape(bias, cout, 1)))
    return ops.transpose(release(ops.reshape(y, cout, oh, ow, n)), 3, 0, 1, 2)


def _pool_args(
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    op: str,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """The pooling's kernel, strides, pads, dilation and output size, checked; with
    ``ceil_mode`` the output size rounds up, as PyTorch (a last window that starts in the
    right padding is dropped)."""
    _check_image(x, op)
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    strides = kernel if stride is None or stride == [] else _pair(stride, "stride", op, 1)
    pads = _pair(padding, "padding", op, 0)
    dil = _ONE if _plain(dilation) else _pair(dilation, "dilation", op, 1)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{op}: ceil_mode must be a bool, got {ceil_mode!r}")
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise ValueError(
            f"{op}: padding {pads} must be at most half the kernel size {kernel} (as PyTorch)"
        )
    out = window_shape(x.shape[2:], kernel, strides, pads, op, dil)
    if ceil_mode:
        sizes = []
        for size, k, s, p, d, o in zip(x.shape[2:], kernel, strides, pads, dil, out):
            span = size + 2 * p - d * (k - 1) - 1
            o = -(-span // s) + 1
            if (o - 1) * s >= size + p:
                o -= 1
            sizes.append(o)
        out = (sizes[0], sizes[1])
    return kernel, strides, pads, dil, out


def _overhang(
    x: Tensor, kernel: Any, strides: Any, pads: Any, dil: Any, out: Any
) -> tuple[int, int]:
    """How far ceil_mode's last windows reach beyond the padded input, per axis."""
    return tuple(
        max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
        for size, k, s, p, d, o in zip(x.shape[2:], kernel, strides, pads, dil, out)
    )  # type: ignore[return-value]


def max_pool2d(
    x: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window (padding counts as −∞); ``stride`` defaults to the kernel
    size; ``dilation`` and ``ceil_mode`` as PyTorch.  The gradient goes to the first
    maximal element of each window, as in PyTorch.  With ``return_indices=True`` the pair
    ``(pooled, indices)``: each window's maximum as a flat index ``h * W + w`` into its
    input plane (int64, what :func:`max_unpool2d` takes), as PyTorch's.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> F.max_pool2d(x, 2).data
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> F.max_pool2d(x, 3, 2, ceil_mode=True).shape
    (1, 1, 2, 2)
    """
    x = as_tensor(x, "max_pool2d")
    if not isinstance(return_indices, (bool, np.bool_)):
        raise TypeError(f"max_pool2d: return_indices must be a bool, got {return_indices!r}")
    kernel, strides, pads, dil, out = _pool_args(
        x, kernel_size, stride, padding, "max_pool2d", dilation, ceil_mode
    )
    eh, ew = _overhang(x, kernel, strides, pads, dil, out) if ceil_mode else _ZERO
    if return_indices:
        idx = _pool_indices(x.data, kernel, strides, pads, dil, out, (eh, ew))
        values = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        return values, leaf(idx)
    if eh or ew:  # ceil_mode's windows past the edge: −∞ there, then no padding left
        ph, pw = pads
        x = x.pad(((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), value=-np.inf)
        pads = (0, 0)
    # one primitive: the windows' maximum straight from strided views of the input
    # (max_last over unfold's kernel axes, without copying the windows out)
    return max_pool(x, kernel, strides, pads, dil)


def _pool_indices(
    xd: Any, kernel: Any, strides: Any, pads: Any, dil: Any, out: Any, over: Any
) -> Any:
    """PyTorch's max pooling indices: for each window, the flat index ``h * W + w`` into
    its (unpadded) input plane of the first maximal entry (of the last NaN where there is
    one, as PyTorch's CPU kernel), int64."""
    *lead, H, W = xd.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, strides, pads, dil, out
    widths = ((ph, ph + over[0]), (pw, pw + over[1]))
    grid = np.pad(np.arange(H * W, dtype=np.int64).reshape(H, W), widths, constant_values=-1)
    fill = -np.inf if xd.dtype.kind == "f" else np.iinfo(xd.dtype).min
    padded = np.pad(xd, [(0, 0)] * len(lead) + list(widths), constant_values=fill)
    rows = (np.arange(oh) * sh)[:, None] + np.arange(kh) * dh  # (oh, kh)
    cols = (np.arange(ow) * sw)[:, None] + np.arange(kw) * dw  # (ow, kw)
    r, c = rows[:, None, :, None], cols[None, :, None, :]
    win = padded[..., r, c].reshape(*lead, oh, ow, kh * kw)
    k = win.argmax(axis=-1)
    if xd.dtype.kind == "f":
        nan = np.isnan(win)
        if nan.any():
            last = kh * kw - 1 - nan[..., ::-1].argmax(axis=-1)
            k = np.where(nan.any(axis=-1), last, k)
    where = np.broadcast_to(grid[r, c].reshape(oh, ow, kh * kw), win.shape)
    return np.take_along_axis(where, k[..., None], axis=-1)[..., 0]


def max_unpool2d(
    x: Tensor,
    indices: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """The partial inverse of :func:`max_pool2d` (``torch.nn.functional.max_unpool2d``):
    zeros of the pooled input's size with each value of ``x`` put back at its index
    (from ``max_pool2d(..., return_indices=True)``).  ∂/∂x gathers g at the indices.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> y, i = F.max_pool2d(x, 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2).data[0, 0]
    array([[ 0.,  0.,  0.,  0.],
           [ 0.,  5.,  0.,  7.],
           [ 0.,  0.,  0.,  0.],
           [ 0., 13.,  0., 15.]])
    """
    x = as_tensor(x, "max_unpool2d")
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"max_unpool2d: indices must be an int64 tensor, got dtype {idx.dtype}")
    if x.ndim not in (3, 4) or idx.shape != x.shape:
        raise ValueError(
            f"max_unpool2d: expected a 3-D or 4-D input and indices of its shape, got "
            f"{x.shape} and {idx.shape}"
        )
    k = _pair(kernel_size, "kernel_size", "max_unpool2d", 1)
    s = k if stride is None else _pair(stride, "stride", "max_unpool2d", 1)
    p = _pair(padding, "padding", "max_unpool2d", 0)
    if output_size is None:
        hw = tuple((n - 1) * st - 2 * pd + kk for n, st, pd, kk in zip(x.shape[-2:], s, p, k))
    else:
        hw = tuple(int(n) for n in tuple(output_size)[-2:])
        if len(hw) != 2:
            raise ValueError(f"max_unpool2d: output_size needs 2 sizes, got {output_size!r}")
    lead = x.shape[:-2]
    flat = idx.reshape(*lead, -1)
    n = hw[0] * hw[1]
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        bad = int(flat.max() if flat.max() >= n else flat.min())
        raise IndexError(
            f"max_unpool2d: found an invalid max index {bad} for an output of size {hw} "
            f"({n} places)"
        )
    zeros = leaf(np.zeros((*lead, n), dtype=x.data.dtype))
    values = ops.reshape(x, (*lead, -1))
    return ops.reshape(ops.scatter(zeros, len(lead), flat, values), (*lead, *hw))


def avg_pool2d(
    x: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window: padded zeros counted with ``count_include_pad=True``
    (PyTorch's default), left out of the divisor otherwise; ``ceil_mode`` as PyTorch
    (its windows past the padded edge count only what they cover); ``divisor_override``
    divides every window's sum by that number instead.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.ones((1, 1, 2, 2)))
    >>> F.avg_pool2d(x, 2, padding=1).data[0, 0, 0, 0], F.avg_pool2d(
    ...     x, 2, padding=1, count_include_pad=False).data[0, 0, 0, 0]
    (np.float64(0.25), np.float64(1.0))
    """
    x = as_tensor(x, "avg_pool2d")
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"avg_pool2d: count_include_pad must be a bool, got {count_include_pad!r}")
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, (int, np.integer))
        or divisor_override <= 0
    ):
        raise ValueError(
            f"avg_pool2d: divisor_override must be a positive int or None, got {divisor_override!r}"
        )
    kernel, strides, pads, _, out = _pool_args(
        x, kernel_size, stride, padding, "avg_pool2d", 1, ceil_mode
    )
    eh, ew = _overhang(x, kernel, strides, pads, _ONE, out) if ceil_mode else _ZERO
    plain = not (eh or ew) and (count_include_pad or pads == (0, 0))
    if plain and divisor_override is None:
        cols = unfold(x, kernel, strides, pads, op="avg_pool2d")
        return ops.mean(cols, axis=(2, 3))
    (ph, pw), in_hw = pads, x.shape[2:]
    if eh or ew:
        x = x.pad(((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)))
        pads = (0, 0)
    cols = unfold(x, kernel, strides, pads, op="avg_pool2d")
    total = ops.sum(cols, axis=(2, 3))
    if divisor_override is not None:
        return total * (1.0 / divisor_override)
    # each window's divisor: the rows and columns it covers inside the input (and the
    # padding, with count_include_pad), never the overhang past the padded edge
    counts = []
    for size, k, s, p, o in zip(in_hw, kernel, strides, (ph, pw), out):
        start = np.arange(o) * s - p
        lo, hi = (-p, size + p) if count_include_pad else (0, size)
        counts.append(np.clip(np.minimum(start + k, hi) - np.maximum(start, lo), 0, None))
    div = (counts[0][:, None] * counts[1][None, :]).astype(total.dtype)
    return total / div
