"""The fused fast paths (layer norm, GELU, scaled dot-product attention, Linear on 3-D
input): one node each, the same values and gradients as their composed definitions, and
exact derivatives at orders 2 and 3 (finite differences of the engine's own lower-order
derivatives, and the composed definitions written out op by op)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp.autograd import Released
from tinygrad_bp.functional.activation import _gelu_composed, _gelu_tanh_composed
from tinygrad_bp.functional.attention import _attention_composed

R = np.random.default_rng(24)


def _t(*shape: int) -> tg.Tensor:
    return tg.Tensor(R.normal(size=shape), requires_grad=True)


def _ln_written_out(x, w, b, axes=(-1,), eps=1e-5):
    """Layer norm from elementary ops (no fused node anywhere)."""
    mu = x.mean(axis=axes, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=axes, keepdims=True)
    y = d * (var + eps) ** -0.5
    return y * w + b


CASES = {
    "gelu": (lambda x: F.gelu(x), lambda x: _gelu_composed(x), [(3, 4)]),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: _gelu_tanh_composed(x),
        [(3, 4)],
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, 5, w, b),
        lambda x, w, b: _ln_written_out(x, w, b),
        [(2, 3, 5), (5,), (5,)],
    ),
    "layer_norm_2axes_plain": (
        lambda x: F.layer_norm(x, (3, 4)),
        lambda x: _ln_written_out(x, 1.0, 0.0, axes=(-2, -1)),
        [(2, 3, 4)],
    ),
    "attention": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        lambda q, k, v: _attention_composed(q, k, v, None, False, 0.5),
        [(2, 3, 4), (2, 5, 4), (2, 5, 3)],
    ),
    "attention_causal": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda q, k, v: _attention_composed(q, k, v, None, True, 0.5),
        [(2, 4, 4), (2, 4, 4), (2, 4, 2)],
    ),
    "attention_self_qkv": (  # one tensor in all three slots
        lambda q: F.scaled_dot_product_attention(q, q, q, is_causal=True),
        lambda q: _attention_composed(q, q, q, None, True, 0.5),
        [(2, 3, 4)],
    ),
    "attention_broadcast": (  # k and v shared by the batch: the engine sums them back
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
        lambda q, k, v: _attention_composed(q, k, v, None, False, 0.3),
        [(2, 3, 4), (5, 4), (5, 2)],
    ),
    "packed_attention": (  # (N, T, 3C) = (2, 3, 12), 2 heads of 2: split, heads, merge
        lambda x: F.packed_self_attention(x, 2, is_causal=True),
        lambda x: _packed_written_out(x, True, 0.5**0.5),
        [(2, 3, 12)],
    ),
    "packed_attention_scaled": (
        lambda x: F.packed_self_attention(x, 2, scale=0.3),
        lambda x: _packed_written_out(x, False, 0.3),
        [(2, 3, 12)],
    ),
}
FUSED_OPS = {
    "gelu": "gelu",
    "layer_norm": "layer_norm",
    "attention": "scaled_dot_product_attention",
    "packed_attention": "packed_self_attention",
}


def _packed_written_out(x, causal, scale):
    """PyTorch's qkv.split(C, 2), view (N, T, H, D), transpose(1, 2), attention, merge."""
    n, t, c3 = x.shape
    c, h = c3 // 3, 2
    q, k, v = (x[:, :, i * c : (i + 1) * c].reshape(n, t, h, c // h).transpose(0, 2, 1, 3)
               for i in range(3))  # fmt: skip
    y = _attention_composed(q, k, v, None, causal, scale)
    return y.transpose(0, 2, 1, 3).reshape(n, t, c)


def _inputs(name: str) -> list[tg.Tensor]:
    return [_t(*s) for s in CASES[name][2]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_node_same_values_and_gradients_as_the_composition(name):
    fused, composed, _ = CASES[name]
    xs = _inputs(name)
    out = fused(*xs)
    op = next(v for k, v in FUSED_OPS.items() if name.startswith(k))
    assert out.op == op and len({id(p) for p in out.parents}) == len({id(x) for x in xs})
    ref = composed(*xs)
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-12, atol=1e-14)
    seed = R.normal(size=out.shape)
    ours = tg.grad(out, xs, seed)
    theirs = tg.grad(ref, xs, seed)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_and_second_derivatives_by_finite_differences(name):
    fused = CASES[name][0]
    xs = _inputs(name)
    assert tg.gradcheck(fused, xs)
    assert tg.gradgradcheck(fused, xs)


def _second_order_scalar(f, xs, w0, w1):
    """``Σ w1·∂(Σ w0·∂(Σ f)/∂x)/∂x`` over every input: a number whose gradient holds the
    third derivatives."""
    out = f(*xs)
    g1 = tg.grad(out, xs, grad_outputs=w0, create_graph=True, allow_unused=True)
    s1 = sum(((g * w).sum() for g, w in zip(g1, w1) if g is not None), tg.Tensor(0.0))
    g2 = tg.grad(s1, xs, create_graph=True, allow_unused=True)
    return sum(((g * w).sum() for g, w in zip(g2, w1) if g is not None), tg.Tensor(0.0))


@pytest.mark.parametrize(
    "name", ["gelu", "gelu_tanh", "layer_norm", "attention_causal", "packed_attention"]
)
def test_third_derivatives_by_finite_differences_and_written_out(name):
    fused, composed, shapes = CASES[name]
    arrays = [R.normal(size=s) for s in shapes]
    rng = np.random.default_rng(3)
    out_shape = fused(*[tg.Tensor(a) for a in arrays]).shape
    w0 = rng.normal(size=out_shape)
    w1 = [rng.normal(size=s) for s in shapes]

    def h(*arrs, f=fused):
        xs = [tg.Tensor(a, requires_grad=True) for a in arrs]
        return _second_order_scalar(f, xs, w0, w1), xs

    value, xs = h(*arrays)
    third = [
        np.zeros(a.shape) if t is None else t.data
        for t, a in zip(tg.grad(value, xs, allow_unused=True), arrays)
    ]
    # the composition written out op by op, differentiated three times by the engine
    value_c, xs_c = h(*arrays, f=composed)
    third_c = [
        np.zeros(a.shape) if t is None else t.data
        for t, a in zip(tg.grad(value_c, xs_c, allow_unused=True), arrays)
    ]
    assert abs(value.item() - value_c.item()) <= 1e-10 * max(1.0, abs(value_c.item()))
    for a, b in zip(third, third_c):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    # central differences of the (engine's) second-order number
    eps = 1e-5
    for i, a in enumerate(arrays):
        fd = np.empty_like(a)
        for j in range(a.size):
            up, dn = [x.copy() for x in arrays], [x.copy() for x in arrays]
            up[i].flat[j] += eps
            dn[i].flat[j] -= eps
            fd.flat[j] = (h(*up)[0].item() - h(*dn)[0].item()) / (2 * eps)
        np.testing.assert_allclose(third[i], fd, rtol=1e-5, atol=1e-6)
    assert max(np.abs(t).max() for t in third) > 1e-3  # not trivially zero


def test_layer_norm_third_derivative_where_pytorch_fused_kernel_is_wrong():
    # PyTorch's native_layer_norm backward-of-backward is itself not differentiated
    # exactly; ours equals the written-out formula at order 3 (see above) and PyTorch's
    # composed formula, op by op, too.
    x = R.normal(size=(3, 6))
    w0, w1 = R.normal(size=(3, 6)), R.normal(size=(3, 6))

    def torch_third(f):
        xt = torch.tensor(x, requires_grad=True)
        (g1,) = torch.autograd.grad(f(xt), xt, torch.tensor(w0), create_graph=True)
        (g2,) = torch.autograd.grad((g1 * torch.tensor(w1)).sum(), xt, create_graph=True)
        (g3,) = torch.autograd.grad((g2 * torch.tensor(w1)).sum(), xt)
        return g3.numpy()

    def written(xt):
        mu = xt.mean(-1, keepdim=True)
        d = xt - mu
        return d * ((d * d).mean(-1, keepdim=True) + 1e-5) ** -0.5

    xs = [tg.Tensor(x, requires_grad=True)]
    value = _second_order_scalar(lambda t: F.layer_norm(t, 6), xs, w0, [w1])
    (ours,) = tg.grad(value, xs)
    np.testing.assert_allclose(ours.data, torch_third(written), rtol=1e-9, atol=1e-11)


def test_float32_fast_paths_match_pytorch():
    x = R.normal(size=(4, 8, 16)).astype(np.float32)
    w = (1 + 0.1 * R.normal(size=16)).astype(np.float32)
    b = (0.1 * R.normal(size=16)).astype(np.float32)
    g = R.normal(size=(4, 8, 16)).astype(np.float32)
    TF = torch.nn.functional
    for ours, theirs in (
        (lambda x, w, b: F.layer_norm(x, 16, w, b), lambda x, w, b: TF.layer_norm(x, (16,), w, b)),
        (lambda x, w, b: F.gelu(x) * w + b, lambda x, w, b: TF.gelu(x) * w + b),
        (
            lambda x, w, b: F.gelu(x, approximate="tanh") * w + b,
            lambda x, w, b: TF.gelu(x, approximate="tanh") * w + b,
        ),
        (
            lambda x, w, b: F.scaled_dot_product_attention(x, x * w, x + b, is_causal=True),
            lambda x, w, b: TF.scaled_dot_product_attention(x, x * w, x + b, is_causal=True),
        ),
    ):
        a = [tg.Tensor(v, requires_grad=True) for v in (x, w, b)]
        t = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
        ya, yt = ours(*a), theirs(*t)
        assert ya.dtype == np.float32
        np.testing.assert_allclose(ya.data, yt.detach().numpy(), rtol=1e-5, atol=2e-6)
        ya.backward(g)
        yt.backward(torch.from_numpy(g))
        for u, v in zip(a, t):
            assert u.grad.dtype == np.float32
            np.testing.assert_allclose(u.grad, v.grad.numpy(), rtol=1e-4, atol=2e-5)


def test_packed_attention_float32_matches_pytorch_split_heads_and_merge():
    x = R.normal(size=(3, 5, 24)).astype(np.float32)
    g = R.normal(size=(3, 5, 8)).astype(np.float32)
    for causal in (True, False):
        ours = tg.Tensor(x, requires_grad=True)
        y = F.packed_self_attention(ours, 2, is_causal=causal)
        assert y.op == "packed_self_attention" and y.dtype == np.float32
        y.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        q, k, v = (z.view(3, 5, 2, 4).transpose(1, 2) for z in xt.split(8, dim=2))
        yt = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        yt = yt.transpose(1, 2).reshape(3, 5, 8)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=2e-6)
        assert ours.grad.dtype == np.float32 and ours.grad.flags.c_contiguous
        np.testing.assert_allclose(ours.grad, xt.grad.numpy(), rtol=1e-4, atol=2e-5)


def test_packed_attention_bad_input_named():
    with pytest.raises(ValueError, match="packed_self_attention: expected qkv of shape"):
        F.packed_self_attention(_t(2, 3, 10), 2)
    with pytest.raises(ValueError, match="packed_self_attention: n_head must be"):
        F.packed_self_attention(_t(2, 3, 12), 0)
    with pytest.raises(TypeError, match="packed_self_attention: expected a floating"):
        F.packed_self_attention(tg.Tensor(np.ones((1, 2, 6))).long(), 1)
    # empty sequences take the composition (as scaled_dot_product_attention does)
    assert F.packed_self_attention(_t(2, 0, 12), 2).shape == (2, 0, 4)


def test_linear_on_three_axes_is_one_product_with_one_weight_gradient_product():
    lin = tg.nn.Linear(4, 3, rng=0, dtype=np.float64)
    x = _t(2, 5, 4)
    y = lin(x)
    assert y.shape == (2, 5, 3)
    matmuls = []
    stack, seen = [y], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.op == "matmul":
            matmuls.append(t)
        stack.extend(t.parents)
    assert len(matmuls) == 1 and matmuls[0].parents[0].shape == (10, 4)  # one (N·T, C) GEMM
    # the bias went into the product's array in place: one array, the product released
    assert isinstance(matmuls[0].data, Released) and y.parents[0].op == "add"
    with tg.autograd.keep_values():  # (kept where the user asks for every value)
        kept = lin(x)
    assert isinstance(kept.parents[0].parents[0].data, np.ndarray)
    assert tg.gradcheck(lambda x: lin(x), [x])
    g = R.normal(size=y.shape)
    y.backward(g)
    g2, x2 = g.reshape(10, 3), x.data.reshape(10, 4)
    np.testing.assert_allclose(lin.weight.grad, g2.T @ x2, rtol=1e-13)
    # computed as gᵀ·x in the weight's own layout: stored without a copy, C-ordered
    assert lin.weight.grad.flags.c_contiguous
    np.testing.assert_allclose(lin.bias.grad, g2.sum(axis=0), rtol=1e-13)
    ref = x.data @ lin.weight.data.T + lin.bias.data
    np.testing.assert_allclose(y.data, ref, rtol=1e-14)


def test_bad_input_still_named():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(_t(2), approximate="erf")
    with pytest.raises(ValueError, match="layer_norm: normalized_shape"):
        F.layer_norm(_t(2, 3), 4)


@pytest.mark.parametrize(
    "shape, gshape", [((27, 8), (6, 5, 8)), ((5,), (40,)), ((3, 4, 2), (9, 4, 2))]
)
def test_row_adjoint_sums_like_add_at(shape, gshape):
    from tinygrad_bp.ops import dialect as D

    rng = np.random.default_rng(5)
    idx = rng.integers(-shape[0], shape[0], size=gshape[: len(gshape) - len(shape) + 1])
    g = rng.normal(size=gshape)
    ref = np.zeros(shape)
    np.add.at(ref, idx, g)
    got = D.index_add(shape, idx, g, True)
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    w = tg.Tensor(rng.normal(size=shape), requires_grad=True)
    assert tg.gradcheck(lambda w: w[idx] * 1.5, [w])


def test_gelu_module_takes_the_tanh_form_as_pytorch():
    x = R.normal(size=(3, 5)) * 3
    ours = tg.nn.GELU(approximate="tanh")(tg.Tensor(x)).data
    theirs = torch.nn.GELU(approximate="tanh")(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        tg.nn.GELU(approximate="sigmoid")


def test_conv2d_adds_its_bias_in_place_and_frees_its_inner_values_after_use():
    rng = np.random.default_rng(8)
    x = tg.Tensor(rng.normal(size=(2, 3, 5, 5)), requires_grad=True)
    conv = tg.nn.Conv2d(3, 4, 3, padding=1, rng=0, dtype=np.float64)
    y = conv(x)
    add = y.parents[0].parents[0]
    assert add.op == "add" and isinstance(add.parents[0].data, Released)  # the product's
    t = torch.nn.functional.conv2d(
        torch.tensor(x.data),
        torch.tensor(conv.weight.data),
        torch.tensor(conv.bias.data),
        padding=1,
    )
    np.testing.assert_allclose(y.data, t.numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward()
    assert isinstance(add.data, Released)  # (its backward has run)
    np.testing.assert_allclose(conv.bias.grad, np.full(4, 2 * 25.0), rtol=1e-12)
    with tg.autograd.keep_values():
        kept = conv(x)
    assert isinstance(kept.parents[0].parents[0].parents[0].data, np.ndarray)


def test_add_reuses_an_array_for_a_bias_broadcast_along_its_last_axis():
    a = tg.Tensor(np.ones((3, 4))) * 2.0
    buf = a.data
    out = tg.autograd.release(a, reuse=True) + tg.Tensor(np.arange(3.0).reshape(3, 1))
    assert out.data is buf and isinstance(a.data, Released)
    np.testing.assert_array_equal(out.data, 2.0 + np.arange(3.0).reshape(3, 1) + np.zeros((3, 4)))
    # a sum larger than a's array is computed as usual, and a keeps its value
    c = tg.Tensor(np.ones((3, 1))) * 2.0
    out = tg.autograd.release(c, reuse=True) + tg.Tensor(np.ones((1, 4)))
    assert out.shape == (3, 4) and isinstance(c.data, np.ndarray)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_of_a_0d_tensor(approximate: str, dtype: type) -> None:
    """A 0-d GELU: NumPy gives scalars, not arrays, for 0-d products, and the fused
    forward/backward write into their temporaries (the fuzzer found tg.grad raising)."""
    x0 = np.array(-0.7, dtype)
    x = tg.Tensor(x0, requires_grad=True)
    y = F.gelu(x, approximate=approximate)
    (g1,) = tg.grad(y, x, create_graph=True)
    (g2,) = tg.grad(g1, x)
    xt = torch.tensor(x0, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    (t1,) = torch.autograd.grad(yt, xt, create_graph=True)
    (t2,) = torch.autograd.grad(t1, xt)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert y.shape == () and y.dtype == dtype and g1.dtype == dtype
    for ours, theirs in ((y, yt), (g1, t1), (g2, t2)):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=tol, atol=tol)
    x.grad = None
    F.gelu(x, approximate=approximate).backward()
    np.testing.assert_allclose(x.grad, t1.detach().numpy(), rtol=tol, atol=tol)
