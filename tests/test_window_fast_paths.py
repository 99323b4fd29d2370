"""The fast paths of the window primitives agree with the plain definitions and PyTorch:
max_pool's running maximum (ties, NaN, padding, overlapping windows, second order),
max_last's short-axis path against argmax, and unfold's memory layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp.ops.window import LAYOUTS, max_last, max_pool, unfold


def _grad_pair(x: np.ndarray, k, s, p) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    w = np.random.default_rng(3).standard_normal
    t = tg.Tensor(x, requires_grad=True)
    y = F.max_pool2d(t, k, s, p)
    g = w(y.shape)
    (y * g).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    ty = TF.max_pool2d(tt, k, s, p)
    (ty * torch.from_numpy(g)).sum().backward()
    return y.data, ty.detach().numpy(), t.grad, tt.grad.numpy()


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 0))])
def test_max_pool_with_nan_and_ties_matches_torch(k, s, p):
    x = np.round(np.random.default_rng(0).standard_normal((2, 3, 7, 6)))  # many ties
    x[0, 1, 2, 3] = np.nan
    x[1, 0, 0, 0] = np.nan
    x[1, 0, 0, 1] = np.nan  # two NaNs in one window: the last takes the gradient, as in PyTorch
    ours, theirs, g_ours, g_theirs = _grad_pair(x, k, s, p)
    np.testing.assert_array_equal(ours, theirs)
    # overlapping windows add in another order than PyTorch: rounding only
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k", [2, (2, 3), (3, 1)])
@pytest.mark.parametrize("channel_major", [False, True])
def test_max_pool_tiling_windows_match_torch(k, channel_major):
    # windows that tile the input (stride = kernel, no padding) take the upsampling path
    x = np.round(np.random.default_rng(4).standard_normal((3, 2, 6, 6)))  # many ties
    x[0, 1, 2, 3] = np.nan
    x[2, 0, 0, 0] = x[2, 0, 0, 1] = np.nan  # the last NaN of a window takes the gradient
    if channel_major:  # memory (C, N, H, W), as a convolution's output is laid out
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    ours, theirs, g_ours, g_theirs = _grad_pair(x, k, None, 0)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(g_ours, g_theirs)


def test_max_pool_tiling_windows_same_gradient_under_create_graph():
    x = np.round(np.random.default_rng(5).standard_normal((2, 3, 4, 6)))
    g = np.random.default_rng(6).standard_normal((2, 3, 2, 3))
    grads = []
    for create_graph in (False, True):
        t = tg.Tensor(x, requires_grad=True)
        (gx,) = tg.autograd.grad((max_pool(t, 2, 2) * g).sum(), [t], create_graph=create_graph)
        grads.append(gx.data if isinstance(gx, tg.Tensor) else gx)
    np.testing.assert_array_equal(grads[0], grads[1])
    t = tg.Tensor(np.random.default_rng(7).standard_normal((1, 2, 4, 4)), requires_grad=True)
    assert tg.gradgradcheck(lambda u: max_pool(u * u, 2, 2), [t])


def test_max_pool_overlapping_windows_differentiate_twice():
    x = tg.Tensor(np.random.default_rng(1).standard_normal((1, 2, 5, 5)), requires_grad=True)
    assert tg.gradgradcheck(lambda t: max_pool(t * t, 3, 1, 1), [x])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_max_last_short_axis_matches_argmax(axis):
    x = np.round(np.random.default_rng(2).standard_normal((3, 4, 5)) * 2)
    x[1, 2, 3] = np.nan
    t = tg.Tensor(x, requires_grad=True)
    y = max_last(t, axis)
    np.testing.assert_array_equal(y.data, x.max(axis=axis))
    y.sum().backward()
    idx = np.expand_dims(x.argmax(axis=axis), axis % 3)
    want = np.zeros_like(x)
    np.put_along_axis(want, idx, 1.0, axis=axis % 3)
    np.testing.assert_array_equal(t.grad, want)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_unfold_layouts_give_the_same_windows_and_gradients(layout):
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 4))
    a, b = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    ya, yb = unfold(a, 3, (2, 1), 1), unfold(b, 3, (2, 1), 1, layout=layout)
    np.testing.assert_array_equal(ya.data, yb.data)
    g = np.random.default_rng(5).standard_normal(ya.shape)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    np.testing.assert_array_equal(a.grad, b.grad)


def test_unfold_refuses_an_unknown_layout():
    with pytest.raises(ValueError, match="unfold: layout must be one of"):
        unfold(tg.Tensor(np.zeros((1, 1, 3, 3))), 2, layout="nhwc")
