"""Issue 20, the tensor, op and functional half: every item against PyTorch.

Each silent difference the issue lists is a test here (values, gradients and dtypes,
PyTorch as the oracle, or PyTorch's own refusal next to ours); then the gaps that used to
crash (empty and 0-d tensors, attention without keys, the general cross-entropy, ``//``,
``%``, ``F.pad``) and the Tensor habits (``size(0)``, ``t()``, ``long()``, ``to()``...),
and a habit that is not built raising an error that names what to write instead.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_bp as tg
from tinygrad_bp import Tensor
from tinygrad_bp import functional as F

RNG = np.random.default_rng(20)


def pair(a: np.ndarray, grad: bool = True) -> tuple[Tensor, torch.Tensor]:
    return Tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def close(x: Tensor, t: torch.Tensor, **kw) -> None:
    np.testing.assert_allclose(x.data, t.detach().numpy(), rtol=1e-10, atol=1e-12, **kw)
    assert str(x.dtype) == str(t.dtype).replace("torch.", "")


def grads_match(out: Tensor, tout: torch.Tensor, xs: list[Tensor], ts: list[torch.Tensor]) -> None:
    g = RNG.normal(size=out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g, dtype=tout.dtype))
    for x, t in zip(xs, ts):
        assert np.all(np.isfinite(x.grad)) == bool(torch.isfinite(t.grad).all())
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)


# ================================================================ 1. silent differences
@pytest.mark.parametrize("xshape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_x_weight_t_plus_bias(xshape, bias) -> None:
    x, tx = pair(RNG.normal(size=xshape))
    w, tw = pair(RNG.normal(size=(2, 3)))  # (out, in): PyTorch's layout
    b, tb = pair(RNG.normal(size=2))
    y = F.linear(x, w, b if bias else None)
    ty = TF.linear(tx, tw, tb if bias else None)
    close(y, ty)
    grads_match(y, ty, [x, w] + ([b] if bias else []), [tx, tw] + ([tb] if bias else []))
    with pytest.raises(ValueError, match=r"linear: expected weight of shape \(out, in\)"):
        F.linear(x, Tensor(np.ones((3, 2))))  # the tutorial's (in, out) layout is refused


def test_dense_keeps_the_tutorial_layout() -> None:
    layer = tg.nn.Dense(3, 2, activation=None) if _has_activation_arg() else tg.nn.Dense(3, 2)
    x = Tensor(RNG.normal(size=(4, 3)))
    assert layer.W.shape == (3, 2)
    want = x.data @ layer.W.data + layer.b.data
    got = layer(x).data
    if layer.activation is None:
        np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(F.linear(x, layer.W.T, layer.b).data, want)


def _has_activation_arg() -> bool:
    import inspect

    return "activation" in inspect.signature(tg.nn.Dense).parameters


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_dim_returns_values_and_indices(op) -> None:
    a = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0], [2.0, 2.0, 2.0]])
    for call in (
        lambda t: getattr(t, op)(1),
        lambda t: getattr(t, op)(dim=1),
        lambda t: getattr(t, op)(1, True),
        lambda t: getattr(t, op)(dim=0, keepdim=True),
        lambda t: getattr(t, op)(-1),
    ):
        x, tx = pair(a)
        got, want = call(x), call(tx)
        values, indices = got  # unpacks, as PyTorch's named tuple
        assert got.values is values and got.indices is indices
        close(values, want.values)
        close(indices, want.indices)
        assert got[1] is indices
        # the gradient goes to the picked index only (not split between ties)
        grads_match(values, want.values, [x], [tx])
    # the accuracy line from a PyTorch tutorial
    z, y = Tensor(a), np.array([1, 0, 2])
    acc = (z.max(1)[1] == Tensor(y, dtype=np.int64)).float().mean()
    assert acc.item() == (torch.tensor(a).max(1)[1] == torch.tensor(y)).float().mean().item()


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_axis_keeps_numpy_meaning_and_full_reduction(op) -> None:
    a = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]])
    x, tx = pair(a)
    got = getattr(x, op)(axis=1)
    want = getattr(tx, "a" + op)(dim=1)  # values only, the gradient split between ties
    assert isinstance(got, Tensor)
    close(got, want)
    grads_match(got, want, [x], [tx])
    x, tx = pair(a)
    close(getattr(x, op)(), getattr(tx, op)())
    grads_match(getattr(x, op)(), getattr(tx, op)(), [x], [tx])
    other = np.array([[2.0, 2.0, 9.0], [0.0, 0.0, 0.0]])
    close(getattr(x, op)(Tensor(other)), getattr(tx, op)(torch.tensor(other)))  # elementwise


def test_max_dim_on_0d_nan_and_empty() -> None:
    z, tz = pair(np.array(3.0))
    v, i = z.max(0)
    close(v, tz.max(0).values)
    close(i, tz.max(0).indices)
    a = np.array([[1.0, np.nan, 2.0, np.nan]])
    close(Tensor(a).max(1).indices, torch.tensor(a).max(1).indices)
    e = np.zeros((0, 3))
    v, i = Tensor(e).max(1)
    assert v.shape == (0,) and i.dtype == np.int64
    with pytest.raises(IndexError):
        torch.tensor(e).max(0)
    with pytest.raises(ValueError, match="max: cannot reduce dim 0 of size 0"):
        Tensor(e).max(0)


def test_cross_entropy_ignore_index_under_the_mean() -> None:
    # ignore_index a real class: the mean is over the other rows only
    z = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    y = np.array([0, 1, 1])
    x, tx = pair(z)
    got = F.cross_entropy(x, y, ignore_index=1)
    want = TF.cross_entropy(tx, torch.tensor(y), ignore_index=1)
    close(got, want)
    assert round(got.item(), 4) != round(F.cross_entropy(Tensor(z), y).item(), 4)
    grads_match(got, want, [x], [tx])


@pytest.mark.parametrize(
    "loss",
    [
        lambda m, z, y: m.nll_loss(m.log_softmax(z, 1), y),
        lambda m, z, y: m.cross_entropy(z, y),
        lambda m, z, y: m.cross_entropy(z, y, reduction="none"),
        lambda m, z, y: m.cross_entropy(z, y, reduction="sum"),
        lambda m, z, y: m.cross_entropy(z, y, ignore_index=2),
        lambda m, z, y: m.cross_entropy(z, y, weight=WEIGHT[m]),
    ],
    ids=["nll", "fused", "none", "sum", "ignore", "weight"],
)
def test_minus_inf_logits_are_a_mask(loss) -> None:
    z = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf], [-np.inf, -np.inf, 0.0]])
    y = np.array([0, 1, 2])
    x, tx = pair(z)
    got, want = loss(F, x, y), loss(TF, tx, torch.tensor(y))
    close(got, want)
    assert np.all(np.isfinite(got.data))
    grads_match(got, want, [x], [tx])


WEIGHT = {F: Tensor([0.5, 2.0, 1.0]), TF: torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)}


def _attention_inputs():
    q, k, v = (RNG.normal(size=s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    return [pair(a) for a in (q, k, v)]


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_attention_row_that_may_attend_to_nothing_is_zero(kind) -> None:
    (q, tq), (k, tk), (v, tv) = _attention_inputs()
    allow = RNG.random((3, 5)) < 0.6
    allow[1] = False  # query 1 may attend to nothing
    allow[0, 0] = allow[2, 1] = True
    mask = allow if kind == "bool" else np.where(allow, 0.0, -np.inf)
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    want = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(mask))
    close(got, want)
    assert np.all(got.data[:, 1] == 0)
    grads_match(got, want, [q, k, v], [tq, tk, tv])


def test_multihead_attention_row_that_may_attend_to_nothing() -> None:
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(4, 2, batch_first=True, dtype=torch.float64)
    m = tg.nn.MultiheadAttention(4, 2, batch_first=True)
    with tg.no_grad():
        m.in_proj_weight.copy_(tm.in_proj_weight.detach().numpy())
        m.in_proj_bias.copy_(tm.in_proj_bias.detach().numpy())
        m.out_proj.weight.copy_(tm.out_proj.weight.detach().numpy())
        m.out_proj.bias.copy_(tm.out_proj.bias.detach().numpy())
    (q, tq), (k, tk), _ = _attention_inputs()
    blocked = np.zeros((3, 5), bool)
    blocked[1] = True  # the module's mask: True where attention is not allowed
    out, _ = m(q, k, k, attn_mask=blocked, need_weights=False)
    tout, _ = tm(tq, tk, tk, attn_mask=torch.tensor(blocked), need_weights=False)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=1e-12)
    grads_match(out, tout, [q, k], [tq, tk])
    with pytest.raises(TypeError, match=r"MultiheadAttention\(4, 2\): attn_mask must be boolean"):
        m(q, k, k, attn_mask=blocked.astype(np.int64))


def test_attention_refuses_integer_masks_and_masks_that_grow_the_output() -> None:
    (q, tq), (k, tk), (v, tv) = _attention_inputs()
    imask = np.ones((3, 5), np.int64)
    with pytest.raises(TypeError, match="attn_mask must be boolean .* or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=imask)
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(imask))
    big = np.ones((4, 2, 3, 5), bool)  # extra leading axes: the output would grow
    with pytest.raises(ValueError, match=r"does not broadcast to the attention scores' shape"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=big)
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(big))


def test_attention_with_no_keys_is_zero() -> None:
    (q, tq), (k, tk), (v, tv) = _attention_inputs()
    got = F.scaled_dot_product_attention(q, k[:, :0], v[:, :0])
    want = TF.scaled_dot_product_attention(tq, tk[:, :0], tv[:, :0])
    close(got, want)
    grads_match(got, want, [q], [tq])


def test_std_gradient_at_zero_spread_is_zero() -> None:
    a = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    for kw in ({}, {"dim": 1}, {"dim": 1, "correction": 0}):
        x, tx = pair(a)
        got, want = x.std(**{"correction": 1, **kw}), tx.std(**{"correction": 1, **kw})
        close(got, want)
        grads_match(got, want, [x], [tx])
    x = Tensor(np.ones(3), requires_grad=True)
    (g,) = tg.grad(x.std(), x, create_graph=True)
    (gg,) = tg.grad(g.sum(), x)
    assert np.all(np.isfinite(gg.data))


def test_elu_of_minus_inf() -> None:
    x, tx = pair(np.array([-np.inf, -1.0, 0.0, 2.0]))
    got, want = F.elu(x, 0.5), TF.elu(tx, 0.5)
    close(got, want)
    grads_match(got, want, [x], [tx])


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.leaky_relu(x, 0.1),
        lambda m, x: m.softplus(x),
        lambda m, x: m.dropout(x, 0.5),
        lambda m, x: m.elu(x),
        lambda m, x: m.gelu(x),
        lambda m, x: m.silu(x),
    ],
    ids=["leaky_relu", "softplus", "dropout", "elu", "gelu", "silu"],
)
def test_integer_inputs_to_activations_are_refused_as_pytorch(fn) -> None:
    with pytest.raises((NotImplementedError, RuntimeError)):
        fn(TF, torch.tensor([-2, 3]))
    with pytest.raises(TypeError, match=r"expected a floating tensor, got dtype int64"):
        fn(F, Tensor([-2, 3], dtype=np.int64))


def test_dropout_of_integers_when_it_does_nothing() -> None:
    i = Tensor([-2, 3], dtype=np.int64)
    for kw in ({"p": 0.0}, {"p": 0.5, "training": False}):
        got, want = F.dropout(i, **kw), TF.dropout(torch.tensor([-2, 3]), **kw)
        close(got, want)


def test_leaky_relu_slope_none_is_refused() -> None:
    with pytest.raises(TypeError):
        TF.leaky_relu(torch.tensor([1.0]), None)
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a number"):
        F.leaky_relu(Tensor([1.0]), None)


def test_layer_norm_refuses_weight_and_bias_of_other_shapes() -> None:
    x = np.ones((2, 3))
    for kw in ({"bias": np.ones((4, 1, 3))}, {"weight": np.ones(2)}, {"weight": np.ones((1, 3))}):
        with pytest.raises(RuntimeError):
            TF.layer_norm(torch.tensor(x), (3,), **{k: torch.tensor(v) for k, v in kw.items()})
        with pytest.raises(ValueError, match="layer_norm: .* must have the normalized shape"):
            F.layer_norm(Tensor(x), (3,), **{k: Tensor(v) for k, v in kw.items()})


def test_nll_loss_refuses_a_target_of_the_inputs_shape() -> None:
    lp = np.log(np.full((2, 3), 1 / 3))
    y = np.eye(3)[[0, 2]]
    with pytest.raises(RuntimeError):
        TF.nll_loss(torch.tensor(lp), torch.tensor(y))
    with pytest.raises(ValueError, match="nll_loss: target must be class indices of shape"):
        F.nll_loss(Tensor(lp), y)


# ---------------------------------------------------------------- dtypes
i64 = np.array([1, -2, 3], dtype=np.int64)
i32 = np.array([1, -2, 3], dtype=np.int32)
f32 = np.array([0.5, -1.0, 2.0], dtype=np.float32)
mask = np.array([True, False, True])


def _t(m, a):
    if m is tg:
        return Tensor(a, dtype=a.dtype)
    return torch.tensor(a)


DTYPE_CASES = {
    "f32 + 0d f64": lambda m: _t(m, f32) + _t(m, np.array(2.5)),
    "0d f64 * f32": lambda m: _t(m, np.array(2.5)) * _t(m, f32),
    "i64 + f32": lambda m: _t(m, i64) + _t(m, f32),
    "i32 * f32 0d": lambda m: _t(m, i32) * _t(m, np.array(1.5, np.float32)),
    "i32 + f64 0d": lambda m: _t(m, i32) + _t(m, np.array(1.5)),
    "i64 + 1": lambda m: _t(m, i64) + 1,
    "i32 * 2": lambda m: _t(m, i32) * 2,
    "i32 + i64": lambda m: _t(m, i32) + _t(m, i64),
    "i32 + i64 0d": lambda m: _t(m, i32) + _t(m, np.array(5)),
    "mask + 1": lambda m: _t(m, mask) + 1,
    "mask * 1.5": lambda m: _t(m, mask) * 1.5,
    "mask & mask": lambda m: _t(m, mask) & _t(m, ~mask),
    "where(mask, 1, 0)": lambda m: m.where(_t(m, mask), 1, 0),
    "where(mask, 1.0, 0)": lambda m: m.where(_t(m, mask), 1.0, 0),
    "where(mask, i32, f32)": lambda m: m.where(_t(m, mask), _t(m, i32), _t(m, f32)),
    "i64 + 2.5": lambda m: _t(m, i64) + 2.5,
    "i64 / i64": lambda m: _t(m, i64) / _t(m, i64),
    "i64 / 2": lambda m: _t(m, i64) / 2,
    "i64 ** 2": lambda m: _t(m, i64) ** 2,
    "i64 ** 2.0": lambda m: _t(m, i64) ** 2.0,
    "2 ** i64": lambda m: 2 ** _t(m, i64).abs(),
    "i32 ** f64 0d": lambda m: _t(m, i32) ** _t(m, np.array(2.0)),
    "i64 & 6": lambda m: _t(m, i64) & 6,
    "i64 | i64": lambda m: _t(m, i64) | _t(m, np.array([4, 4, 4])),
    "i64 ^ 1": lambda m: _t(m, i64) ^ 1,
    "~i64": lambda m: ~_t(m, i64),
    "i64 // 2": lambda m: _t(m, i64) // 2,
    "i64 % 2": lambda m: _t(m, i64) % 2,
    "f32 // 0.5": lambda m: _t(m, f32) // 0.5,
    "f32 % 0.75": lambda m: _t(m, f32) % 0.75,
    "i64 % -2": lambda m: _t(m, i64) % -2,
    "7 // i64": lambda m: 7 // _t(m, i64),
    "full int": lambda m: m.full((2,), 3),
    "full bool": lambda m: m.full((2,), True),
    "full float": lambda m: m.full((2,), 3.0),
    "full f32": lambda m: m.full((2,), 3, dtype=np.float32 if m is tg else torch.float32),
    "full i32": lambda m: m.full((2,), 3.0, dtype=np.int32 if m is tg else torch.int32),
    "linspace i64": lambda m: m.linspace(0, 4, 3, dtype=np.int64 if m is tg else torch.int64),
    "linspace f32": lambda m: m.linspace(0, 1, 3, dtype=np.float32 if m is tg else torch.float32),
}


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_result_dtypes_as_torch_result_type(name) -> None:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # tinygrad_bp's default float dtype
    try:
        want = DTYPE_CASES[name](torch)
    finally:
        torch.set_default_dtype(previous)
    got = DTYPE_CASES[name](tg)
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), name
    np.testing.assert_allclose(got.data, want.numpy())


def test_int_with_a_python_float_follows_the_default_dtype(float32_default) -> None:
    assert (Tensor([1, 2], dtype=np.int64) + 2.5).dtype == np.float32
    assert (Tensor([1, 2], dtype=np.int64) / 2).dtype == np.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        assert (torch.tensor([1, 2]) + 2.5).dtype == torch.float32  # PyTorch's default
    finally:
        torch.set_default_dtype(previous)


def test_float32_keeps_its_dtype_and_gradient_through_promotion() -> None:
    x = Tensor(f32, requires_grad=True)
    y = x * Tensor(np.array(3.0)) + Tensor(i64, dtype=np.int64)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])


def test_int_to_a_negative_int_power_is_refused() -> None:
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        torch.tensor([2]) ** -2
    with pytest.raises(RuntimeError, match="pow: integers to negative integer powers"):
        Tensor([2], dtype=np.int64) ** -2
    np.testing.assert_array_equal((Tensor([2], dtype=np.int64) ** -2.0).data, [0.25])


def test_bitwise_ops_refuse_floats() -> None:
    with pytest.raises(RuntimeError):
        torch.tensor([1.0]) & torch.tensor([1.0])
    with pytest.raises(TypeError, match="&: bitwise operations need boolean or integer"):
        Tensor([1.0]) & Tensor([1.0])


def test_cross_entropy_float64_probability_target_gives_float64() -> None:
    z = RNG.normal(size=(4, 3)).astype(np.float32)
    p = RNG.random((4, 3))
    p /= p.sum(1, keepdims=True)
    x, tx = pair(z)
    got = F.cross_entropy(x, Tensor(p))
    want = TF.cross_entropy(tx, torch.tensor(p))
    assert got.dtype == np.float64 and want.dtype == torch.float64
    np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-6)
    got.backward()
    want.backward()
    assert x.grad.dtype == np.float32 and tx.grad.dtype == torch.float32
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5)


# ================================================================ 2. crashes and gaps
EMPTY_AND_0D = {
    "softmax empty": lambda t: t(np.zeros((0, 3))).softmax(1),
    "softmax empty axis": lambda t: t(np.zeros((2, 0))).softmax(1),
    "softmax 0d": lambda t: t(np.array(2.0)).softmax(0),
    "log_softmax empty": lambda t: t(np.zeros((0, 3))).log_softmax(1),
    "log_softmax 0d": lambda t: t(np.array(2.0)).log_softmax(-1),
    "amax empty rows": lambda t: t(np.zeros((0, 3))).amax(1),
    "max dim empty rows": lambda t: t(np.zeros((0, 3))).max(1)[0],
    "min 0d dim": lambda t: t(np.array(2.0)).min(0)[0],
    "max 0d": lambda t: t(np.array(2.0)).max(),
    "logsumexp empty axis": lambda t: t(np.zeros((0, 3))).logsumexp(0),
    "logsumexp empty rows": lambda t: t(np.zeros((0, 3))).logsumexp(1),
    "logsumexp 0d": lambda t: t(np.array(2.0)).logsumexp(0),
    "mean empty": lambda t: t(np.zeros((0, 3))).mean(),
    "mean empty axis": lambda t: t(np.zeros((0, 3))).mean(0),
    "mean empty rows": lambda t: t(np.zeros((0, 3))).mean(1),
    "mean 0d": lambda t: t(np.array(2.0)).mean(0),
    "sum empty": lambda t: t(np.zeros((0, 3))).sum(0),
    "cumsum 0d": lambda t: t(np.array(2.0)).cumsum(0),
    "var 1 element": lambda t: t(np.array([2.0])).var(correction=1),
}


@pytest.mark.parametrize("name", list(EMPTY_AND_0D))
def test_empty_and_0d_tensors_as_pytorch(name) -> None:
    fn = EMPTY_AND_0D[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch and we both warn for var's dof <= 0)
        want = fn(lambda a: torch.tensor(a, requires_grad=True))
        got = fn(lambda a: Tensor(a, requires_grad=True))
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.data, want.detach().numpy())
    if want.numel():
        leaves = []
        want2 = fn(lambda a: leaves.append(torch.tensor(a, requires_grad=True)) or leaves[-1])
        mine = []
        got2 = fn(lambda a: mine.append(Tensor(a, requires_grad=True)) or mine[-1])
        g = np.ones(got2.shape)
        got2.backward(g)
        want2.backward(torch.tensor(g))
        np.testing.assert_array_equal(mine[0].grad, leaves[0].grad.numpy())


def test_reducing_an_empty_axis_to_a_maximum_is_refused_as_pytorch() -> None:
    e = np.zeros((0, 3))
    for call in (lambda t: t.max(), lambda t: t.amax(0), lambda t: t.min(0)):
        with pytest.raises((RuntimeError, IndexError)):
            call(torch.tensor(e))
        with pytest.raises(ValueError, match="cannot reduce"):
            call(Tensor(e))


CE_SHAPES = [((5, 4), (5,)), ((4,), ()), ((2, 4, 3, 2), (2, 3, 2))]


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=["NC", "C", "NCd1d2"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("target", ["index", "weighted", "ignore", "probs"])
def test_cross_entropy_general(shapes, reduction, smoothing, target) -> None:
    zshape, tshape = shapes
    c = zshape[1] if len(zshape) > 1 else zshape[0]
    x, tx = pair(RNG.normal(size=zshape))
    kw: dict = {"reduction": reduction, "label_smoothing": smoothing}
    tkw = dict(kw)
    if target == "probs":
        y = RNG.random(zshape)
        y /= y.sum(axis=1 if len(zshape) > 1 else 0, keepdims=True)
    else:
        y = RNG.integers(0, c, size=tshape)
    if target == "weighted":
        w = RNG.random(c) + 0.5
        kw["weight"], tkw["weight"] = Tensor(w), torch.tensor(w)
    if target == "ignore":
        y = np.asarray(y)
        y.flat[0] = 1
        kw["ignore_index"] = tkw["ignore_index"] = 1
    got = F.cross_entropy(x, y, **kw)
    want = TF.cross_entropy(tx, torch.tensor(y), **tkw)
    close(got, want)
    grads_match(got, want, [x], [tx])
    # the module spelling
    if target == "index":
        m = tg.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
        close(m(Tensor(x.data), y), want)


def test_nll_loss_general() -> None:
    for zshape, tshape in CE_SHAPES:
        lp = RNG.normal(size=zshape)
        c = zshape[1] if len(zshape) > 1 else zshape[0]
        y = RNG.integers(0, c, size=tshape)
        w = RNG.random(c) + 0.5
        for kw in ({}, {"reduction": "none"}, {"reduction": "sum"}):
            x, tx = pair(lp)
            got = F.nll_loss(x, y, weight=Tensor(w), **kw)
            want = TF.nll_loss(tx, torch.tensor(y), weight=torch.tensor(w), **kw)
            close(got, want)
            grads_match(got, want, [x], [tx])


def test_cross_entropy_argument_order_is_pytorchs() -> None:
    z, y = RNG.normal(size=(3, 2)), np.array([0, 1, 1])
    w = np.array([2.0, 1.0])
    got = F.cross_entropy(Tensor(z), y, Tensor(w))  # the third argument is weight
    close(got, TF.cross_entropy(torch.tensor(z), torch.tensor(y), torch.tensor(w)))
    with pytest.raises(TypeError, match="the third argument is weight.*reduction='sum'"):
        F.cross_entropy(Tensor(z), y, "sum")
    with pytest.raises(TypeError, match="size_average= and reduce= are PyTorch's deprecated"):
        F.cross_entropy(Tensor(z), y, size_average=True)


def test_mse_loss_with_a_broadcasting_target_warns_and_broadcasts() -> None:
    x, tx = pair(RNG.normal(size=(3, 1)))
    y = RNG.normal(size=3)
    with pytest.warns(UserWarning, match="target size"):
        want = TF.mse_loss(tx, torch.tensor(y))
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(3,\)"):
        got = F.mse_loss(x, y)
    close(got, want)
    grads_match(got, want, [x], [tx])


@pytest.mark.parametrize("op", ["floordiv", "mod"])
def test_floor_division_and_remainder(op) -> None:
    f = (lambda a, b: a // b) if op == "floordiv" else (lambda a, b: a % b)
    a = np.array([5.5, -3.2, 7.0, -7.0, 0.0])
    b = np.array([2.0, 2.0, -3.0, 2.5, 1.5])
    x, tx = pair(a)
    y, ty = pair(b)
    close(f(x, y), f(tx, ty))
    close(f(x, 2), f(tx, 2))
    close(f(3.0, y), f(3.0, ty))
    ia, ib = np.array([5, -3, 7, -7]), np.array([2, 2, -3, 3])
    close(
        f(Tensor(ia, dtype=np.int64), Tensor(ib, dtype=np.int64)),
        f(torch.tensor(ia), torch.tensor(ib)),
    )
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        f(torch.tensor(ia), 0)
    with pytest.raises(RuntimeError, match="integer division by zero"):
        f(Tensor(ia, dtype=np.int64), 0)
    if op == "mod":  # ∂/∂a = g, ∂/∂b = −g·floor(a / b), as PyTorch
        grads_match(f(x, y), f(tx, ty), [x, y], [tx, ty])
    else:
        with pytest.raises(RuntimeError, match="floor_divide"):
            f(tx, ty).sum().backward()
        with pytest.raises(RuntimeError, match="floor_divide: the derivative of // is not"):
            f(x, y).sum().backward()


@pytest.mark.parametrize("pad", [(1, 2), (0, 0, 1, -1), (1, 1, 2, 2, 3, 3), (-1, 2), (2, 0, 0, 3)])
def test_functional_pad(pad) -> None:
    x, tx = pair(RNG.normal(size=(2, 3, 4)))
    got, want = F.pad(x, pad, value=0.5), TF.pad(tx, pad, value=0.5)
    close(got, want)
    grads_match(got, want, [x], [tx])


def test_functional_pad_refuses_what_it_does_not_build() -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect'"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match=r"pad: mode='reflect' pads the last 1, 2 or 3 dims"):
        F.pad(Tensor(np.ones(3)), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="pad: pad must hold an even number"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="at most 2 per axis"):
        F.pad(x, (1, 1, 1, 1, 1, 1))


# ---------------------------------------------------------------- Tensor habits
def test_size_is_numpys_count_and_pytorchs_shape() -> None:
    a = np.zeros((2, 3, 4))
    x, t = Tensor(a), torch.tensor(a)
    assert x.size == 24 and x.size == x.numel() == t.numel()  # NumPy's attribute
    assert x.size() == tuple(t.size()) == (2, 3, 4)  # PyTorch's method
    assert x.size(0) == t.size(0) and x.size(-1) == t.size(-1) == 4
    assert x.size(dim=1) == t.size(dim=1)
    with pytest.raises(IndexError):
        t.size(3)
    with pytest.raises(IndexError, match="size: dim 3 is out of range"):
        x.size(3)
    assert x.dim() == t.dim() == 3


def test_t_and_casts() -> None:
    a = np.array([[1.5, -2.7, 0.0], [3.2, 0.9, -0.1]])
    x, tx = pair(a)
    close(x.t(), tx.t())
    grads_match(x.t(), tx.t(), [x], [tx])
    close(Tensor([1.0, 2.0]).t(), torch.tensor([1.0, 2.0], dtype=torch.float64).t())
    with pytest.raises(RuntimeError):
        torch.zeros(2, 2, 2).t()
    with pytest.raises(ValueError, match="t: expects a tensor with <= 2 dims"):
        Tensor(np.zeros((2, 2, 2))).t()
    for name in ("long", "int", "float", "double", "bool", "half"):
        got, want = getattr(x, name)(), getattr(tx, name)()
        close(got, want)
        assert got.requires_grad == want.requires_grad
    for tgd, thd in ((np.float32, torch.float32), (np.int64, torch.int64), (np.bool_, torch.bool)):
        close(x.to(tgd), tx.to(thd))
        close(x.to(dtype=tgd), tx.to(dtype=thd))
    assert x.to("cpu") is x and x.to(x) is x
    close(x.to("cpu", np.float32), tx.to("cpu", torch.float32))
    close(x.to(Tensor(f32)), tx.to(torch.tensor(f32)))
    with pytest.raises(RuntimeError, match="to: tinygrad_bp runs on NumPy on the CPU only"):
        x.to("cuda")
    y = x.float()  # differentiable to floats, as in PyTorch
    y.sum().backward()
    assert x.grad.dtype == np.float64


def test_a_habit_not_built_names_what_to_write() -> None:
    x = Tensor([1.0, 2.0])
    for name, hint in (("cuda", "CPU"), ("storage", "numpy"), ("apply_", "Tensor ops")):
        with pytest.raises(AttributeError, match=rf"Tensor\.{name} \(a PyTorch habit\) .*{hint}"):
            getattr(x, name)
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'nonsense'"):
        x.nonsense  # noqa: B018
    assert not hasattr(x, "cuda")  # hasattr still works


def test_pytorch_method_spellings() -> None:
    a = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    x, tx = pair(a)
    o, to = pair(a[::-1].copy(), False)
    for call in (
        lambda t, u: t.add(u, alpha=2),
        lambda t, u: t.sub(u),
        lambda t, u: t.mul(u),
        lambda t, u: t.div(u),
        lambda t, u: t.pow(2),
        lambda t, u: t.neg(),
        lambda t, u: t.matmul(u.T if isinstance(t, Tensor) else u.mT),
        lambda t, u: t.maximum(u),
        lambda t, u: t.minimum(u),
        lambda t, u: t.masked_fill(u > 0, 0.5),
        lambda t, u: t.cpu().contiguous() * 1,
    ):
        x.grad, tx.grad = None, None
        got, want = call(x, o), call(tx, to)
        close(got, want)
        grads_match(got, want, [x], [tx])
    for call in (lambda t: t.gt(0), lambda t: t.le(1), lambda t: t.eq(t), lambda t: t.ne(1),
                 lambda t: (t > 0).any(), lambda t: (t > -3).all(dim=1)):  # fmt: skip
        close(call(x), call(tx))
    assert [c.shape for c in x.chunk(2, 1)] == [tuple(c.shape) for c in tx.chunk(2, 1)]
    assert x.new_zeros(2, 3).dtype == np.float64 and x.new_full((2,), 3).dtype == np.float64
    assert x.type_as(Tensor(f32)).dtype == np.float32
    assert x.nelement() == tx.nelement() and x.is_floating_point()
    assert x.element_size() == tx.element_size()


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (
            lambda: F.scaled_dot_product_attention(
                Tensor(np.ones((2, 3, 4))), Tensor(np.ones((3, 5, 4))), Tensor(np.ones((3, 5, 2)))
            ),
            ValueError,
            "scaled_dot_product_attention: the batch axes",
        ),  # fmt: skip
        (
            lambda: F.cross_entropy(Tensor(np.ones((3, 4))), [0, 1, 2], label_smoothing="a"),
            ValueError,
            "cross_entropy: label_smoothing must lie in",
        ),  # fmt: skip
        (lambda: F.softmax(np.ones(3), 0), TypeError, "softmax: expected a Tensor"),
        (lambda: F.log_softmax([1.0], 0), TypeError, "log_softmax: expected a Tensor"),
        (lambda: F.mse_loss(Tensor(np.ones(3)), "abc"), TypeError, "mse_loss: target must"),
        (lambda: F.layer_norm(Tensor(np.ones((2, 3))), 3, eps="a"), ValueError, "layer_norm: eps"),
        (lambda: F.nll_loss(Tensor(1.0), [0]), ValueError, r"nll_loss: input must have shape"),
        (
            lambda: F.cross_entropy(Tensor(np.ones((3, 4))), [0, 1, 2], weight=Tensor([1.0, 2.0])),
            ValueError,
            r"cross_entropy: weight must be a float tensor of shape \(4,\)",
        ),  # fmt: skip
        (lambda: Tensor(np.ones(3)).max("a"), TypeError, "max: dim must be an int"),
        (lambda: Tensor(np.ones(3)) // "a", TypeError, "floor_divide: expected numbers"),
    ],
)
def test_bad_input_names_the_op(call, exc, pattern) -> None:
    with pytest.raises(exc, match=pattern):
        call()
