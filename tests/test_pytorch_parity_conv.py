"""Issue 20: conv2d's groups, dilation and padding="same"/"valid"/int/pair, MaxPool2d's
ceil_mode and dilation, AvgPool2d's count_include_pad, ceil_mode and divisor_override,
against PyTorch (values and gradients, float64) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CONV = [
    # (x shape, weight shape, kwargs)
    ((2, 4, 7, 6), (6, 2, 3, 3), dict(groups=2)),
    ((2, 4, 7, 6), (4, 1, 3, 2), dict(groups=4, padding=1)),  # depthwise
    ((1, 3, 9, 8), (2, 3, 3, 3), dict(dilation=2)),
    ((1, 3, 9, 8), (2, 3, 3, 2), dict(dilation=(2, 3), stride=(2, 1), padding=(1, 2))),
    ((2, 2, 6, 7), (3, 2, 3, 3), dict(padding="same")),
    ((2, 2, 6, 7), (3, 2, 4, 2), dict(padding="same")),  # even kernel: odd pad at the end
    ((2, 2, 9, 7), (3, 2, 2, 3), dict(padding="same", dilation=(3, 2))),
    ((2, 2, 6, 7), (3, 2, 3, 3), dict(padding="valid", stride=2)),
    ((2, 6, 8, 8), (6, 3, 3, 3), dict(groups=2, dilation=2, padding="same")),
]


@pytest.mark.parametrize("xs,ws,kw", CONV)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_values_and_gradients_equal_torch(xs, ws, kw, bias) -> None:
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    xo, wo = tg.Tensor(x, requires_grad=True), tg.Tensor(w, requires_grad=True)
    bo = tg.Tensor(b, requires_grad=True) if bias else None
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    y = F.conv2d(xo, wo, bo, **kw)
    ref = TF.conv2d(xt, wt, bt, **kw)
    assert y.shape == tuple(ref.shape)
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wo.grad, wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    if bias:
        np.testing.assert_allclose(bo.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_dilated_grouped_gradcheck() -> None:
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((1, 4, 6, 5)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True)
    assert tg.gradcheck(lambda a, b: F.conv2d(a, b, dilation=2, groups=2, padding="same"), [x, w])
    assert tg.gradgradcheck(
        lambda a, b: F.conv2d(a, b, dilation=(1, 2), padding=1, groups=2), [x, w]
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(groups=3, dilation=2, padding="same"),
        dict(groups=1, dilation=(1, 2), padding=(2, 1), stride=2),
        dict(padding="valid"),
    ],
)
def test_conv2d_layer_copies_weights_from_torch(kw: dict) -> None:
    ours = nn.Conv2d(6, 9, 3, **kw, rng=0)
    theirs = torch.nn.Conv2d(6, 9, 3, **kw).double()
    assert ours.weight.shape == tuple(theirs.weight.shape)
    with torch.no_grad():
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 6, 8, 9))
    np.testing.assert_allclose(
        ours(tg.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(  # unbatched (C, H, W), as PyTorch
        ours(tg.Tensor(x[0])).data, theirs(torch.tensor(x[0])).detach().numpy(), rtol=1e-10
    )
    # the bound is PyTorch's 1/sqrt(fan_in), fan_in = C_in/groups·kH·kW
    bound = 1 / np.sqrt(6 // kw.get("groups", 1) * 9)
    assert np.abs(ours.weight.data).max() <= bound


POOLS = [
    # (input shape, kwargs)
    ((2, 3, 7, 7), dict(kernel_size=2, ceil_mode=True)),
    ((1, 2, 8, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 9, 9), dict(kernel_size=(3, 2), stride=(2, 3), ceil_mode=True)),
    ((1, 2, 6, 6), dict(kernel_size=2, stride=2)),
    ((1, 2, 7, 8), dict(kernel_size=3, stride=1, padding=1)),
]


@pytest.mark.parametrize("shape,kw", POOLS)
@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool2d_ceil_mode_and_dilation_equal_torch(shape, kw, dilation) -> None:
    x = np.random.default_rng(3).standard_normal(shape)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    try:
        ref = TF.max_pool2d(xt, dilation=dilation, **kw)
    except RuntimeError as exc:  # PyTorch refuses: so do we
        with pytest.raises(ValueError):
            F.max_pool2d(xo, dilation=dilation, **kw)
        assert "size" in str(exc).lower() or "pad" in str(exc).lower()
        return
    y = F.max_pool2d(xo, dilation=dilation, **kw)
    np.testing.assert_array_equal(y.data, ref.detach().numpy())
    g = np.random.default_rng(4).standard_normal(y.shape)
    y.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    layer = nn.MaxPool2d(dilation=dilation, **kw)
    np.testing.assert_array_equal(layer(tg.Tensor(x)).data, ref.detach().numpy())


@pytest.mark.parametrize("shape,kw", POOLS)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
def test_avg_pool2d_options_equal_torch(shape, kw, count_include_pad, divisor_override) -> None:
    x = np.random.default_rng(5).standard_normal(shape)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    opts = dict(count_include_pad=count_include_pad, divisor_override=divisor_override, **kw)
    y = F.avg_pool2d(xo, **opts)
    ref = TF.avg_pool2d(xt, **opts)
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(6).standard_normal(y.shape)
    y.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    layer = nn.AvgPool2d(**opts)
    np.testing.assert_allclose(layer(tg.Tensor(x)).data, ref.detach().numpy(), rtol=1e-12)


def test_avg_pool2d_ceil_mode_gradcheck() -> None:
    x = tg.Tensor(np.random.default_rng(7).standard_normal((1, 1, 5, 5)), requires_grad=True)
    assert tg.gradcheck(
        lambda t: F.avg_pool2d(t, 2, padding=1, ceil_mode=True, count_include_pad=False), [x]
    )
    assert tg.gradcheck(lambda t: F.max_pool2d(t, 2, ceil_mode=True, dilation=1), [x])


BAD = [
    (lambda: F.conv2d(tg.Tensor(np.zeros((1, 4, 5, 5))), tg.Tensor(np.zeros((3, 2, 3, 3))),
                      groups=2), ValueError, "conv2d: groups=2 must divide"),
    (lambda: F.conv2d(tg.Tensor(np.zeros((1, 4, 5, 5))), tg.Tensor(np.zeros((4, 4, 3, 3))),
                      groups=2), ValueError, r"conv2d: the input has 4 channels .* expects 8"),
    (lambda: F.conv2d(tg.Tensor(np.zeros((1, 1, 5, 5))), tg.Tensor(np.zeros((1, 1, 3, 3))),
                      padding="same", stride=2), ValueError, "padding='same' is not supported"),
    (lambda: F.conv2d(tg.Tensor(np.zeros((1, 1, 5, 5))), tg.Tensor(np.zeros((1, 1, 3, 3))),
                      padding="full"), ValueError, "conv2d: padding must be"),
    (lambda: F.conv2d(tg.Tensor(np.zeros((1, 1, 5, 5))), tg.Tensor(np.zeros((1, 1, 3, 3))),
                      dilation=3), ValueError, r"conv2d: kernel size \(3, 3\) dilated by"),
    (lambda: F.conv2d(tg.Tensor(np.zeros((1, 1, 5, 5))), tg.Tensor(np.zeros((1, 1, 3, 3))),
                      dilation=0), ValueError, "conv2d: dilation must be >= 1"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "Conv2d: groups=4 must divide"),
    (lambda: nn.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError,
     "Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular'"),
    (lambda: nn.MaxPool2d(2, return_indices=1), TypeError, "return_indices must be a bool"),
    (lambda: nn.MaxPool2d(2)(np.zeros((1, 1, 4, 4))), TypeError, "MaxPool2d: expected a Tensor"),
    (lambda: nn.AvgPool2d(2, count_include_pad=None), TypeError, "count_include_pad"),
    (lambda: F.avg_pool2d(tg.Tensor(np.zeros((1, 1, 4, 4))), 2, divisor_override=0),
     ValueError, "divisor_override"),
]  # fmt: skip


@pytest.mark.parametrize("call,exc,match", BAD)
def test_bad_conv_and_pool_arguments_are_named(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_im2col_larger_than_the_machine_is_refused_by_name() -> None:
    """conv2d asking for more than the machine's memory: refused, naming conv2d, before
    NumPy is asked (it would say 'Unable to allocate', naming nothing)."""
    x = tg.Tensor(np.zeros((1, 1, 2000, 2000), dtype=np.float32))
    w = tg.Tensor(np.zeros((1, 1, 120, 120), dtype=np.float32))
    with pytest.raises(ValueError, match=r"conv2d: the windows .* would need .* GiB"):
        F.conv2d(x, w)
