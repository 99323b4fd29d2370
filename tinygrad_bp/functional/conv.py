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

from .. import ops
from ..ops.window import _pair, max_pool, unfold, window_shape
from ..tensor import Tensor
from ._util import as_tensor

__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]


def _check_image(x: Tensor, op: str) -> None:
    if x.data.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape {x.shape}")


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch): ``x (N, C_in, H, W)``,
    ``weight (C_out, C_in, kH, kW)``, ``bias (C_out,)`` -> ``(N, C_out, OH, OW)``.

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
    """
    x = as_tensor(x, "conv2d")
    weight = as_tensor(weight, "conv2d")
    _check_image(x, "conv2d")
    if weight.data.ndim != 4:
        raise ValueError(
            f"conv2d: weight must have shape (C_out, C_in, kH, kW), got shape {weight.shape}"
        )
    n, c, h, w = x.shape
    cout, cin, kh, kw = weight.shape
    if cin != c:
        raise ValueError(
            f"conv2d: the input has {c} channels (shape {x.shape}) but the weight expects "
            f"{cin} (weight shape {weight.shape})"
        )
    if bias is not None:
        bias = as_tensor(bias, "conv2d")
        if bias.shape != (cout,):
            raise ValueError(
                f"conv2d: bias must have shape ({cout},) for weight {weight.shape}, got "
                f"{bias.shape}"
            )
    strides = _pair(stride, "stride", "conv2d", 1)
    pads = _pair(padding, "padding", "conv2d", 0)
    oh, ow = window_shape((h, w), (kh, kw), strides, pads, "conv2d")
    # the windows laid out as (C, kH, kW, OH, OW, N) in memory, so that the product is
    # one 2-D (C_out, K) @ (K, OH·OW·N): the weight's gradient is then one matrix product
    # over all images and positions (a batched product would make one (C_out, K) per
    # image and sum them), and the input's gradient another; with the images innermost
    # every copy and add over the windows (and the ReLU and pooling after) runs over long
    # contiguous stretches rather than rows of OW elements
    cols = unfold(x, (kh, kw), strides, pads, op="conv2d", layout="ckhwn")
    k = c * kh * kw
    cols2 = ops.reshape(ops.transpose(cols, 1, 2, 3, 4, 5, 0), k, oh * ow * n)  # no copy
    y = ops.matmul(ops.reshape(weight, cout, k), cols2)  # (C_out, OH·OW·N)
    if bias is not None:
        y = ops.add(y, ops.reshape(bias, cout, 1))
    return ops.transpose(ops.reshape(y, cout, oh, ow, n), 3, 0, 1, 2)


def _pool_args(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, op: str
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    _check_image(x, op)
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    strides = kernel if stride is None else _pair(stride, "stride", op, 1)
    pads = _pair(padding, "padding", op, 0)
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise ValueError(
            f"{op}: padding {pads} must be at most half the kernel size {kernel} (as PyTorch)"
        )
    window_shape(x.shape[2:], kernel, strides, pads, op)
    return kernel, strides, pads


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The maximum of each window (padding counts as −∞); ``stride`` defaults to the kernel
    size.  The gradient goes to the first maximal element of each window, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> F.max_pool2d(x, 2).data
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    x = as_tensor(x, "max_pool2d")
    kernel, strides, pads = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    # one primitive: the windows' maximum straight from strided views of the input
    # (max_last over unfold's kernel axes, without copying the windows out)
    return max_pool(x, kernel, strides, pads)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """The mean of each window (padded zeros counted, PyTorch's ``count_include_pad``)."""
    x = as_tensor(x, "avg_pool2d")
    kernel, strides, pads = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    cols = unfold(x, kernel, strides, pads, op="avg_pool2d")
    return ops.mean(cols, axis=(2, 3))
