"""PyTorch's other tensor ops and layer options (ops.sorting, ops.composed, the new F and
nn names), against PyTorch.

The smooth cases (values, every gradient, second derivatives, finite differences, float32)
are rows of ``tests/op_cases.py``.  Here: what a table row cannot say — integer and
boolean dtypes, ties and NaN in sort and topk, Hypothesis shapes, the layer options
(``Conv2d(padding_mode=)``, ``MaxPool2d(return_indices=True)`` with ``MaxUnpool2d``,
``BCEWithLogitsLoss(weight=, pos_weight=)``), the containers, the module-level functions,
and the errors for bad input, each naming the op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_bp as tg
from tinygrad_bp import Tensor, nn
from tinygrad_bp import functional as F

RNG = np.random.default_rng(7)


def same(x: Tensor, t: torch.Tensor, rtol: float = 1e-12) -> None:
    """Equal values and dtype (PyTorch's dtype name)."""
    assert str(x.dtype) == str(t.dtype).replace("torch.", ""), (x.dtype, t.dtype)
    assert x.shape == tuple(t.shape)
    np.testing.assert_allclose(x.data, t.detach().numpy(), rtol=rtol, atol=1e-14)


def grads(fn_tg, fn_torch, *arrays, seed=0, rtol=1e-10):
    """Values and the gradient of a random weighting of the output, for every input."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn_tg(*xs), fn_torch(*ts)
    same(y, ty, rtol)
    w = np.random.default_rng(seed).uniform(0.5, 1.5, size=y.shape).astype(y.dtype)
    (y * w).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=rtol, atol=1e-12)
    return y


# ---------------------------------------------------------------- sort, argsort, topk
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_dtypes_and_stable_ties_match_torch(dtype, descending) -> None:
    a = RNG.integers(-2, 3, size=(3, 40)).astype(dtype)  # many ties
    v, i = Tensor(a, dtype=a.dtype).sort(dim=1, descending=descending, stable=True)
    tv, ti = torch.tensor(a).sort(dim=1, descending=descending, stable=True)
    same(v, tv)
    same(i, ti)
    am = Tensor(a, dtype=a.dtype).argsort(dim=0, descending=descending, stable=True)
    same(am, torch.tensor(a).argsort(dim=0, descending=descending, stable=True))


def test_sort_nan_goes_last_ascending_and_first_descending() -> None:
    a = np.array([1.0, np.nan, -np.inf, 0.0, np.nan, np.inf, -0.0])
    for desc in (False, True):
        v, i = Tensor(a).sort(descending=desc, stable=True)
        tv, ti = torch.tensor(a).sort(descending=desc, stable=True)
        same(v, tv)
        same(i, ti)


def test_topk_values_agree_with_ties_and_take_the_first_of_equal_elements() -> None:
    a = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, 3.0], [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]])
    v, i = Tensor(a).topk(3)
    tv, _ = torch.tensor(a).topk(3)
    same(v, tv)  # which of the equal elements PyTorch takes is unspecified
    assert i.dtype == np.int64 and i.tolist() == [[1, 2, 4], [0, 1, 2]]
    v, i = Tensor(a).topk(2, largest=False)
    assert v.tolist() == [[1.0, 2.0], [5.0, 5.0]] and i.tolist() == [[0, 3], [0, 1]]
    x = Tensor([1.0, np.nan, 0.0, np.nan])
    same(x.topk(2)[0], torch.tensor([1.0, np.nan, 0.0, np.nan], dtype=torch.float64).topk(2)[0])


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-1e3, 1e3),
        unique=True,
    ),  # fmt: skip
    st.data(),
)
def test_sort_and_topk_against_torch_on_drawn_shapes(a, data) -> None:
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    desc = data.draw(st.booleans())
    grads(lambda x: x.sort(dim, desc)[0], lambda t: t.sort(dim, desc)[0], a)
    same(Tensor(a).sort(dim, desc)[1], torch.tensor(a).sort(dim, desc)[1])
    k = data.draw(st.integers(0, a.shape[dim]))
    grads(lambda x: x.topk(k, dim, desc)[0], lambda t: t.topk(k, dim, desc)[0], a)
    same(Tensor(a).topk(k, dim, desc)[1], torch.tensor(a).topk(k, dim, desc)[1])


def test_sort_and_topk_of_a_0d_tensor_and_their_errors() -> None:
    x = Tensor(3.0, requires_grad=True)
    v, i = x.sort()
    assert v.item() == 3.0 and i.dtype == np.int64 and i.shape == ()
    v.backward()
    assert x.grad == 1.0
    assert x.topk(1)[0].item() == 3.0
    with pytest.raises(RuntimeError, match=r"topk: selected index k=3 out of range"):
        Tensor([1.0, 2.0]).topk(3)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        Tensor([1.0, 2.0]).topk(1.5)
    with pytest.raises(ValueError, match="sort: axis 2 is out of range"):
        Tensor([1.0, 2.0]).sort(2)
    with pytest.raises(TypeError, match="sort: descending must be a bool"):
        Tensor([1.0, 2.0]).sort(0, "yes")


# ---------------------------------------------------------------- selecting, rearranging
@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float32])
def test_rearranging_ops_keep_integer_and_boolean_dtypes(dtype) -> None:
    a = RNG.integers(0, 2, size=(3, 4)).astype(dtype)
    x, t = Tensor(a, dtype=a.dtype), torch.tensor(a)
    idx = np.array([2, 0, 2])
    same(x.index_select(1, Tensor(idx, dtype=np.int64)), t.index_select(1, torch.tensor(idx)))
    same(x.repeat(2, 1, 2), t.repeat(2, 1, 2))
    same(x.tile((2,)), t.tile((2,)))
    same(x.repeat_interleave(2, dim=1), t.repeat_interleave(2, dim=1))
    same(x.roll(-1, 1), t.roll(-1, 1))
    same(x.tril(1), t.tril(1))
    same(x.triu(-1), t.triu(-1))
    same(x.movedim(1, 0), t.movedim(1, 0))
    same(x.diagonal(), t.diagonal())
    same(x.unbind(1)[2], t.unbind(1)[2])
    same(x.masked_select(Tensor(a > 0)), t.masked_select(torch.tensor(a > 0)))
    same(x.nonzero(), t.nonzero())
    if dtype != np.bool_:
        same(x.cumprod(1), t.cumprod(1))  # integers as int64, as PyTorch
        same(
            x.scatter(1, Tensor(np.array([[0], [3], [1]])), 7),
            t.scatter(1, torch.tensor([[0], [3], [1]]), 7),
        )


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
        elements=st.floats(-10, 10),
    ),  # fmt: skip
    st.data(),
)
def test_repeat_roll_and_index_select_on_drawn_shapes(a, data) -> None:
    reps = data.draw(st.lists(st.integers(0, 3), min_size=a.ndim, max_size=a.ndim + 2))
    grads(lambda x: x.repeat(*reps), lambda t: t.repeat(*reps), a)
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    shift = data.draw(st.integers(-7, 7))
    grads(lambda x: x.roll(shift, dim), lambda t: t.roll(shift, dim), a)
    grads(lambda x: x.roll(shift), lambda t: t.roll(shift), a)
    n = a.shape[dim]
    if n:
        idx = data.draw(st.lists(st.integers(0, n - 1), max_size=5))
        i = np.array(idx, dtype=np.int64)
        grads(lambda x: x.index_select(dim, i), lambda t: t.index_select(dim, torch.tensor(i)), a)


def test_scatter_with_a_larger_src_reads_only_the_index_shape() -> None:
    # (PyTorch computes this value, but its own backward fails on a src larger than the
    # index: checked by finite differences instead)
    a, src = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 5))
    idx = np.array([[1, 3], [0, 2], [2, 1]])
    same(
        Tensor(a).scatter(1, idx, Tensor(src)),
        torch.tensor(a).scatter(1, torch.tensor(idx), torch.tensor(src)),
    )
    assert tg.gradcheck(
        lambda x, s: x.scatter(1, idx, s),
        [Tensor(a, requires_grad=True), Tensor(src, requires_grad=True)],
    )
    assert tg.gradgradcheck(
        lambda x, s: x.scatter(1, idx, s) ** 2,
        [Tensor(a, requires_grad=True), Tensor(src, requires_grad=True)],
    )


def test_clamp_with_tensor_bounds_nan_and_crossed_bounds() -> None:
    x = np.array([[1.0, -2.0, 5.0], [0.5, 3.0, -1.0]])
    lo = np.array([0.0, np.nan, 4.0])
    hi = np.array([[2.0], [-5.0]])  # below lo in the second row: max wins, as PyTorch
    grads(lambda a, b, c: a.clamp(b, c), lambda a, b, c: a.clamp(b, c), x, np.nan_to_num(lo), hi)
    same(Tensor(x).clamp(min=Tensor(lo)), torch.tensor(x).clamp(min=torch.tensor(lo)))
    same(tg.clamp(Tensor(x), max=Tensor(hi)), torch.clamp(torch.tensor(x), max=torch.tensor(hi)))


def test_masked_fill_in_place_and_where_method() -> None:
    a = RNG.normal(size=(3, 4))
    x, t = Tensor(a.copy()), torch.tensor(a.copy())
    x.masked_fill_(x > 0, -1.0)
    t.masked_fill_(t > 0, -1.0)
    same(x, t)
    w, tw = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = w * 2, tw * 2
    y.masked_fill_(Tensor(a > 0), 0.0)
    ty.masked_fill_(torch.tensor(a > 0), 0.0)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(w.grad, tw.grad.numpy())
    same(Tensor(a).where(Tensor(a > 0), 0.0), torch.tensor(a).where(torch.tensor(a > 0), 0.0))


def test_rounding_has_a_zero_gradient() -> None:
    a = np.array([-1.5, -0.5, 0.5, 1.5, 2.7, -2.2])
    grads(lambda x: x.round() + x.trunc() * 2, lambda t: t.round() + t.trunc() * 2, a)
    grads(lambda x: x.frac() * x, lambda t: t.frac() * t, a)
    grads(lambda x: x.round(decimals=1), lambda t: t.round(decimals=1), a * 1.37)


# ---------------------------------------------------------------- norms
def test_norms_of_zero_have_a_zero_gradient_as_torch() -> None:
    a = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
    grads(lambda x: x.norm(dim=1), lambda t: t.norm(dim=1), a)
    grads(lambda x: x.norm(p=3, dim=1), lambda t: t.norm(p=3, dim=1), a)
    grads(lambda x: F.normalize(x), lambda t: TF.normalize(t), a)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    same(tg.linalg.vector_norm(x, 0, 1), torch.linalg.vector_norm(t, 0, 1))
    tg.linalg.vector_norm(x, 0, 1).sum().backward()
    torch.linalg.vector_norm(t, 0, 1).sum().backward()
    assert t.grad is None and np.array_equal(x.grad, np.zeros_like(a))  # (None: zero)
    z = Tensor(np.zeros(3), requires_grad=True)
    (g,) = tg.grad(z.norm(), z, create_graph=True)
    np.testing.assert_array_equal(g.data, 0.0)


def test_norm_dtypes_and_refusals() -> None:
    x32 = Tensor(np.ones((2, 3), np.float32))
    assert x32.norm().dtype == np.float32
    assert Tensor(np.ones((2, 3), np.float32)).norm(dtype=np.float64).dtype == np.float64
    with pytest.raises(
        TypeError,
        match=r"vector_norm: expected a floating-point tensor, got dtype int64.*\.double\(\)",
    ):
        Tensor([1, 2], dtype=np.int64).norm()
    with pytest.raises(ValueError, match=r"matrix_norm: ord='nuc' needs singular values"):
        x32.norm(p="nuc")
    with pytest.raises(ValueError, match="matrix_norm: ord=2 needs singular values"):
        tg.linalg.matrix_norm(x32, 2)
    with pytest.raises(
        ValueError,
        match="linalg.norm: if dim is not given but ord is, the input must be 1-D or 2-D",
    ):
        tg.linalg.norm(Tensor(np.ones((2, 2, 2))), ord=2)
    with pytest.raises(ValueError, match="matrix_norm: the input must have at least 2 dimensions"):
        tg.linalg.matrix_norm(Tensor(np.ones(3)))


# ---------------------------------------------------------------- functional and layers
def test_hardsigmoid_is_exact_where_torch_rounds_one_sixth_to_float32() -> None:
    a = np.linspace(-4, 4, 17)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    same(F.hardsigmoid(x), TF.hardsigmoid(t))
    F.hardsigmoid(x).sum().backward()
    TF.hardsigmoid(t).sum().backward()
    inside = np.abs(a) < 3
    np.testing.assert_array_equal(x.grad, np.where(inside, 1 / 6, 0.0))
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=5e-8)  # float32's 1/6 in torch


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 0), "same", "valid"])
def test_conv2d_padding_modes_match_torch(mode, padding) -> None:
    torch.manual_seed(0)
    k = (3, 4) if padding == "same" else 3
    ref = torch.nn.Conv2d(2, 3, k, padding=padding, padding_mode=mode).double()
    ours = nn.Conv2d(2, 3, k, padding=padding, padding_mode=mode)
    ours.load_state_dict({n: p.detach().numpy() for n, p in ref.state_dict().items()})
    a = RNG.normal(size=(2, 2, 5, 6))
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = ours(x), ref(t)
    same(y, ty, rtol=1e-10)
    g = RNG.normal(size=y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), rtol=1e-10)
    assert f"padding_mode='{mode}'" in repr(ours)


@pytest.mark.parametrize(
    "shape, k, s, p, d, ceil",
    [((2, 3, 7, 6), 3, 2, 1, 1, False), ((1, 2, 7, 7), 3, 2, 1, 1, True),
     ((1, 1, 6, 6), 2, 1, 0, 2, False), ((2, 2, 6, 6), 2, None, 0, 1, False)],
)  # fmt: skip
def test_max_pool_indices_and_unpool_match_torch(shape, k, s, p, d, ceil) -> None:
    a = np.round(RNG.normal(size=shape), 0)  # ties: the first maximum, as PyTorch
    a.flat[3] = np.nan
    y, i = F.max_pool2d(Tensor(a), k, s, p, d, ceil, return_indices=True)
    ty, ti = TF.max_pool2d(torch.tensor(a), k, s, p, d, ceil, return_indices=True)
    same(y, ty)
    same(i, ti)
    if d == 1 and not ceil:
        b = np.abs(RNG.normal(size=shape))
        pool, unpool = nn.MaxPool2d(k, s, p, return_indices=True), nn.MaxUnpool2d(k, s, p)
        tpool = torch.nn.MaxPool2d(k, s, p, return_indices=True)
        tunpool = torch.nn.MaxUnpool2d(k, s, p)
        if tuple((n - 1) * (s or k) - 2 * p + k for n in y.shape[-2:]) == shape[-2:]:
            grads(lambda x: unpool(*pool(x)), lambda t: tunpool(*tpool(t)), b)
        grads(
            lambda x: unpool(*pool(x), output_size=shape[-2:]),
            lambda t: tunpool(*tpool(t), output_size=shape[-2:]),
            b,
        )


def test_max_unpool_refuses_an_index_past_the_output() -> None:
    with pytest.raises(IndexError, match="max_unpool2d: found an invalid max index 9"):
        F.max_unpool2d(Tensor(np.ones((1, 1, 1, 1))), np.array([[[[9]]]]), 2)


@pytest.mark.parametrize("with_weight", [False, True])
def test_bce_with_logits_weights_match_torch(with_weight) -> None:
    z, y = RNG.normal(size=(5, 3)) * 3, RNG.uniform(size=(5, 3))
    pw, w = np.array([0.5, 1.0, 4.0]), RNG.uniform(0.5, 2, size=(5, 1))
    kw = {"weight": w} if with_weight else {}
    for red in ("mean", "sum", "none"):
        ours = nn.BCEWithLogitsLoss(reduction=red, pos_weight=pw, **kw)
        ref = torch.nn.BCEWithLogitsLoss(
            reduction=red,
            pos_weight=torch.tensor(pw),
            **{k: torch.tensor(v) for k, v in kw.items()},
        )
        grads(lambda a, f=ours: f(a, Tensor(y)), lambda t, f=ref: f(t, torch.tensor(y)), z)
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    with pytest.raises(TypeError, match="the third argument is weight, as in PyTorch"):
        F.binary_cross_entropy_with_logits(Tensor(z), y, "sum")
    with pytest.raises(ValueError, match=r"pos_weight of shape \(4,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(Tensor(z), y, pos_weight=np.ones(4))


@pytest.mark.parametrize(
    "ours, theirs, shape",
    [(nn.ZeroPad2d((1, 2, 0, 1)), torch.nn.ZeroPad2d((1, 2, 0, 1)), (1, 2, 3, 4)),
     (nn.ConstantPad1d(2, 3.5), torch.nn.ConstantPad1d(2, 3.5), (2, 3)),
     (nn.ReflectionPad2d(2), torch.nn.ReflectionPad2d(2), (1, 2, 3, 4)),
     (nn.ReplicationPad1d((3, 1)), torch.nn.ReplicationPad1d((3, 1)), (2, 2, 3)),
     (nn.CircularPad2d((1, 0, 2, 1)), torch.nn.CircularPad2d((1, 0, 2, 1)), (2, 3, 4))],
)  # fmt: skip
def test_padding_layers_match_torch(ours, theirs, shape) -> None:
    grads(ours, theirs, RNG.normal(size=shape))


def test_containers_name_parameters_as_torch() -> None:
    ours = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.ModuleList([nn.Linear(3, 1)])})
    ours["c"] = nn.Linear(1, 1)
    theirs = torch.nn.ModuleDict(
        {"a": torch.nn.Linear(2, 3), "b": torch.nn.ModuleList([torch.nn.Linear(3, 1)])}
    )
    theirs["c"] = torch.nn.Linear(1, 1)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.keys()) == ["a", "b", "c"] and "a" in ours and len(ours) == 3
    pl = nn.ParameterList([nn.Parameter(Tensor(np.ones(2))), Tensor(np.zeros(3))])
    pd = nn.ParameterDict({"w": Tensor(np.ones(2))})
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.zeros(3)])
    assert [n for n, _ in pl.named_parameters()] == [n for n, _ in tpl.named_parameters()]
    assert [n for n, _ in pd.named_parameters()] == ["w"] and pl[1].requires_grad
    m = nn.Unflatten(1, (2, -1))
    assert m(Tensor(np.zeros((4, 6)))).shape == (4, 2, 3)
    with pytest.raises(ValueError, match=r"Unflatten: cannot split dim 1 of size 6 into \(4, -1\)"):
        nn.Unflatten(1, (4, -1))(Tensor(np.zeros((4, 6))))
    with pytest.raises(TypeError, match="ModuleDict: expected an nn.Module"):
        nn.ModuleDict({"a": 3})


@pytest.mark.parametrize(
    "ours, theirs",
    [(nn.Hardtanh(-0.5, 2.0), torch.nn.Hardtanh(-0.5, 2.0)), (nn.ReLU6(), torch.nn.ReLU6()),
     (nn.SELU(), torch.nn.SELU()), (nn.Mish(), torch.nn.Mish()),
     (nn.Softsign(), torch.nn.Softsign()),
     (nn.LogSigmoid(), torch.nn.LogSigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
     (nn.Softmin(1), torch.nn.Softmin(1)), (nn.GLU(), torch.nn.GLU()),
     (nn.Threshold(0.2, -1.0), torch.nn.Threshold(0.2, -1.0)), (nn.CELU(0.5), torch.nn.CELU(0.5)),
     (nn.Tanhshrink(), torch.nn.Tanhshrink())],
)  # fmt: skip
def test_activation_layers_match_torch_at_their_kinks(ours, theirs) -> None:
    a = np.concatenate([RNG.normal(size=10) * 4, [-3.0, 3.0, -1.0, 0.0, -0.5, 2.0, 6.0, 0.2]])
    grads(ours, theirs, a.reshape(3, 6))


def test_distance_and_loss_layers_match_torch() -> None:
    a, b = RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    a[0] = 0.0  # a zero row: the eps clamp
    for ours, theirs in [
        (nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
        (nn.PairwiseDistance(1.5, keepdim=True), torch.nn.PairwiseDistance(1.5, keepdim=True)),
        (nn.L1Loss(), torch.nn.L1Loss()),
        (nn.SmoothL1Loss(beta=0.3), torch.nn.SmoothL1Loss(beta=0.3)),
        (nn.HuberLoss(reduction="sum", delta=0.5), torch.nn.HuberLoss(reduction="sum", delta=0.5)),
    ]:
        grads(ours, theirs, a, b)
    p, y = RNG.uniform(0.05, 0.95, size=(4, 5)), RNG.uniform(size=(4, 5))
    grads(lambda x: nn.BCELoss()(x, Tensor(y)), lambda t: torch.nn.BCELoss()(t, torch.tensor(y)), p)
    logq = np.log(y / y.sum(1, keepdims=True))
    for red in ("batchmean", "sum"):
        grads(
            lambda x, r=red: nn.KLDivLoss(reduction=r, log_target=True)(
                x.log_softmax(1), Tensor(logq)
            ),
            lambda t, r=red: torch.nn.KLDivLoss(reduction=r, log_target=True)(
                t.log_softmax(1), torch.tensor(logq)
            ),
            a,
        )
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(Tensor(a).log_softmax(1), Tensor(logq), reduction="mean", log_target=True)
    with pytest.raises(
        ValueError,
        match="binary_cross_entropy: all elements of the input should be between 0 and 1",
    ):
        F.binary_cross_entropy(Tensor([1.5]), [1.0])


# ---------------------------------------------------------------- module-level names
def test_module_level_functions_dtypes_and_factories() -> None:
    a = RNG.normal(size=(3, 4))
    x, t = Tensor(a), torch.tensor(a)
    same(tg.exp(x), torch.exp(t))
    same(tg.sum(x, dim=1, keepdim=True), torch.sum(t, dim=1, keepdim=True))
    same(tg.max(x, 1).indices, torch.max(t, 1).indices)
    same(
        tg.transpose(Tensor(np.zeros((2, 3, 4))), 0, 2),
        torch.transpose(torch.zeros(2, 3, 4, dtype=torch.float64), 0, 2),
    )
    same(tg.matmul(x, x.T), torch.matmul(t, t.T))
    same(tg.div(x, 0.3, rounding_mode="trunc"), torch.div(t, 0.3, rounding_mode="trunc"))
    same(tg.concat([x, x], dim=1), torch.concat([t, t], dim=1))
    assert Tensor(a, dtype=tg.float32).dtype == tg.float32 == np.float32
    assert tg.long == np.int64 and tg.bool == np.bool_ and tg.double == np.float64
    assert tg.full_like(x, 2, dtype=tg.int64).dtype == np.int64
    assert (
        tg.rand_like(x).shape == (3, 4)
        and tg.randn_like(Tensor(a, dtype=tg.float32)).dtype == np.float32
    )
    r = tg.randint(2, 5, (100,))
    assert r.dtype == np.int64 and r.data.min() >= 2 and r.data.max() < 5
    assert sorted(tg.randperm(6).tolist()) == list(range(6))
    same(tg.eye(2, 3), torch.eye(2, 3, dtype=torch.float64))
    assert tg.from_numpy(np.arange(3)).dtype == np.int64 and tg.is_tensor(x)
    assert x.type() == "tinygrad_bp.DoubleTensor" and x.type(tg.float32).dtype == np.float32
    assert x.mT.shape == (4, 3) and x.is_contiguous() and not x.T.is_contiguous()
    assert x.view_as(Tensor(np.zeros((4, 3)))).shape == (4, 3)
    with pytest.raises(TypeError, match="rand_like: needs a floating-point dtype"):
        tg.rand_like(Tensor([1, 2], dtype=np.int64))


BAD = [
    (
        lambda: Tensor([[1.0, 2.0]]).index_select(1, np.array([[0]])),
        IndexError,
        "index_select: index must be a vector",
    ),
    (
        lambda: Tensor([[1.0, 2.0]]).index_select(1, np.array([-1])),
        IndexError,
        "index_select: index -1 is out of range for dim 1 of size 2",
    ),
    (
        lambda: Tensor([[1.0, 2.0]]).index_select(1, np.array([0.5])),
        TypeError,
        "index_select: index must hold integers",
    ),
    (
        lambda: Tensor([[1.0, 2.0]]).repeat(2),
        ValueError,
        r"repeat: needs a size for each of the tensor's 2 dims.*tile",
    ),
    (lambda: Tensor([1.0]).repeat(-1), ValueError, "repeat: sizes must be non-negative"),
    (
        lambda: Tensor([1.0, 2.0]).repeat_interleave(np.array([1, 2, 3])),
        ValueError,
        "repeat_interleave: repeats must have one count per entry",
    ),
    (lambda: Tensor([1.0, 2.0]).roll((1, 2), 0), ValueError, "roll: shifts and dims must align"),
    (
        lambda: Tensor([1.0, 2.0]).tril(),
        ValueError,
        "tril: input tensor must have at least 2 dimensions",
    ),
    (
        lambda: Tensor(np.ones((2, 2))).scatter(
            1, np.array([[0]]), Tensor(np.ones((1, 1), np.float32))
        ),
        TypeError,
        "scatter: src must have the input's dtype float64",
    ),
    (
        lambda: Tensor(np.ones((2, 2))).scatter(1, np.array([[2]]), 1.0),
        IndexError,
        "scatter: index 2 is out of range",
    ),
    (
        lambda: Tensor(np.ones((2, 2))).scatter(1, np.array([[0]]), 1.0, reduce="add"),
        ValueError,
        "scatter: reduce='add' is not built.*scatter_add",
    ),
    (
        lambda: Tensor(np.ones((2, 2))).scatter_add(
            1, np.array([[0, 1, 0]]), Tensor(np.ones((1, 2)))
        ),
        ValueError,
        "scatter_add: index shape",
    ),
    (
        lambda: tg.dot(Tensor([1.0, 2.0]), Tensor(np.ones(2, np.float32))),
        TypeError,
        "dot: expected both operands to have the same dtype",
    ),
    (
        lambda: tg.bmm(Tensor(np.ones((2, 3, 4))), Tensor(np.ones((3, 4, 2)))),
        ValueError,
        "bmm: batch sizes differ",
    ),
    (
        lambda: tg.mm(Tensor(np.ones(3)), Tensor(np.ones((3, 2)))),
        ValueError,
        "mm: the first operand must be 2-D",
    ),
    (
        lambda: tg.outer(Tensor(np.ones((2, 2))), Tensor(np.ones(2))),
        ValueError,
        "outer: the first vector must be 1-D",
    ),
    (
        lambda: F.pad(Tensor(np.ones((1, 1, 3))), (3, 1), mode="reflect"),
        ValueError,
        r"pad: mode='reflect' needs each width to be less than the input's size",
    ),
    (
        lambda: F.pad(Tensor(np.ones((1, 1, 3))), (4, 1), mode="circular"),
        ValueError,
        "pad: mode='circular' wraps around at most once",
    ),
    (
        lambda: F.pad(Tensor(np.ones((1, 1, 3))), (1, 1), mode="reflect", value=2.0),
        ValueError,
        "pad: mode='reflect' takes no value",
    ),
    (
        lambda: F.hardtanh(Tensor([1.0]), 2.0, 1.0),
        ValueError,
        "hardtanh: min_val 2.0 must not exceed max_val 1.0",
    ),
    (lambda: F.glu(Tensor(np.ones((2, 3)))), ValueError, "glu: halving dimension must be even"),
    (lambda: F.softmin(Tensor([1.0])), TypeError, "softmin: pass dim"),
    (
        lambda: F.kl_div(Tensor([0.0]), [1.0], reduction="avg"),
        ValueError,
        "kl_div: reduction must be",
    ),
    (lambda: tg.exp([1.0]), TypeError, "exp: expected a Tensor as input"),
    (lambda: Tensor([1.0]).type("torch.Weird"), TypeError, "type: unknown type name"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input_is_named(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_lerp_weight_one_gives_the_end_exactly_as_torch() -> None:
    a, b = RNG.normal(size=5), RNG.normal(size=5) * 1e8
    same(Tensor(a).lerp(Tensor(b), 1.0), torch.tensor(a).lerp(torch.tensor(b), 1.0), rtol=0)
    w = np.array([0.0, 0.3, 0.5, 0.9, 1.0])
    grads(lambda x, y, v: x.lerp(y, v), lambda x, y, v: x.lerp(y, v), a, b, w)
    assert math.isclose(Tensor([0.0]).lerp(Tensor([10.0]), 0.25).item(), 2.5)


# ---------------------------------------------------------------- more layers
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv1d_layer_matches_torch(mode) -> None:
    torch.manual_seed(1)
    for kw in ({"padding": 2, "stride": 2}, {"padding": "same", "dilation": 2, "groups": 2}):
        ref = torch.nn.Conv1d(4, 6, 3, padding_mode=mode, **kw).double()
        ours = nn.Conv1d(4, 6, 3, padding_mode=mode, **kw)
        ours.load_state_dict({n: p.detach().numpy() for n, p in ref.state_dict().items()})
        grads(ours, ref, RNG.normal(size=(2, 4, 9)))
        grads(ours, ref, RNG.normal(size=(4, 9)))  # unbatched (C, L)
    assert nn.Conv1d(2, 3, 3, rng=0).weight.shape == (3, 2, 3)


def test_norm_pool_and_prelu_layers_match_torch() -> None:
    torch.manual_seed(2)
    x = RNG.normal(size=(2, 6, 5, 7))
    gn, tgn = nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6).double()
    gn.weight.data[...] = RNG.normal(size=6)
    tgn.weight.data = torch.tensor(gn.weight.data)
    grads(gn, tgn, x)
    grads(nn.InstanceNorm2d(6), torch.nn.InstanceNorm2d(6), x)
    x1 = x[:, :, 0]  # (N, C, L)
    grads(nn.InstanceNorm1d(6, affine=True), torch.nn.InstanceNorm1d(6, affine=True).double(), x1)
    grads(nn.InstanceNorm1d(6), torch.nn.InstanceNorm1d(6), x1[0])  # unbatched (C, L)
    for size in (1, (3, 2), (None, 4), 5):
        grads(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x)
    grads(nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3), x[0])
    for k in (1, 6):
        ours, ref = nn.PReLU(k, init=0.1), torch.nn.PReLU(k, init=0.1).double()
        ref.weight.data = torch.tensor(ours.weight.data)  # (PyTorch's 0.1 went through float32)
        grads(ours, ref, x)
        ours(Tensor(x)).sum().backward()
        ref(torch.tensor(x)).sum().backward()
        np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), rtol=1e-10)
    assert [n for n, _ in gn.named_parameters()] == [n for n, _ in tgn.named_parameters()]


BAD_LAYERS = [
    (lambda: nn.GroupNorm(4, 6), ValueError, "GroupNorm: num_groups 4 must divide num_channels 6"),
    (lambda: nn.InstanceNorm2d(3, track_running_stats=True), ValueError,
     "InstanceNorm2d: track_running_stats=True is not built"),
    (lambda: nn.Conv1d(2, 3, 3, padding_mode="mirror"), ValueError, "Conv1d: padding_mode must be"),
    (lambda: nn.InstanceNorm1d(4, affine=True)(Tensor(np.ones((2, 3, 5)))), ValueError,
     r"InstanceNorm1d\(4\): the input has 3 channels"),
    (lambda: F.conv1d(Tensor(np.ones((1, 2, 5))), Tensor(np.ones((3, 2, 2, 2)))), ValueError,
     "conv1d: weight must have shape"),
    (lambda: F.adaptive_avg_pool2d(Tensor(np.ones((1, 2, 5, 5))), (0, 2)), ValueError,
     "adaptive_avg_pool2d: output sizes must be positive ints"),
    (lambda: F.prelu(Tensor(np.ones((2, 3))), Tensor(np.ones(2))), ValueError,
     "prelu: weight must have 1 entry or one per channel"),
    (lambda: tg.meshgrid(Tensor(np.ones((2, 2)))), ValueError, "meshgrid: expects 0-d or 1-D"),
    (lambda: tg.cdist(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))), ValueError,
     "cdist: expected x1"),
    (lambda: Tensor([1.0]).expm1, AttributeError, r"Tensor\.expm1 .*t\.exp\(\) - 1"),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, match", BAD_LAYERS)
def test_bad_layer_input_is_named(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_in_place_index_ops_match_torch() -> None:
    a, src = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 2))
    idx = np.array([[0, 3], [2, 1], [1, 0]])
    for name, args in (
        ("scatter_", (1, idx, src)),
        ("scatter_add_", (1, idx, src)),
        ("index_add_", (0, np.array([2, 0]), RNG.normal(size=(2, 4)))),
        ("index_fill_", (1, np.array([3, 1]), -2.0)),
    ):
        w, tw = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours = [Tensor(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for v in args]
        theirs = [torch.tensor(v) if isinstance(v, np.ndarray) else v for v in args]
        y, ty = w * 2, tw * 2
        assert getattr(y, name)(*ours) is y
        getattr(ty, name)(*theirs)
        same(y, ty)
        g = RNG.normal(size=(3, 4))
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12)
        with tg.no_grad():  # the plain path, on the tensor's own memory
            z, tz = Tensor(a.copy()), torch.tensor(a.copy())
            getattr(z, name)(*ours)
            getattr(tz, name)(*theirs)
            same(z, tz)


def test_embedding_from_pretrained_and_dropout2d() -> None:
    w = RNG.normal(size=(5, 3))
    emb = nn.Embedding.from_pretrained(Tensor(w))
    ref = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    same(emb(np.array([[4, 0]])), ref(torch.tensor([[4, 0]])))
    assert not emb.weight.requires_grad and [n for n, _ in emb.named_parameters()] == ["weight"]
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    x = Tensor(np.ones((4, 8, 3, 3)))
    y = nn.Dropout2d(0.5, rng=0)(x).numpy()
    per_channel = y.reshape(4, 8, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # whole channels
    assert 0 < (per_channel[:, :, 0] == 0).mean() < 1
    assert nn.Dropout2d(0.5).eval()(x) is x


def test_upsample_and_adaptive_max_pool_layers_match_torch() -> None:
    x = RNG.normal(size=(2, 3, 5, 6))
    for kw in ({"scale_factor": 2}, {"size": (3, 8), "mode": "bilinear"},
               {"scale_factor": 0.6, "mode": "bilinear", "align_corners": True}):  # fmt: skip
        grads(nn.Upsample(**kw), torch.nn.Upsample(**kw), x)
    grads(nn.AdaptiveMaxPool2d((2, 4)), torch.nn.AdaptiveMaxPool2d((2, 4)), x)
    i, ti = nn.AdaptiveMaxPool2d(3, return_indices=True)(Tensor(x))[1], None
    ti = torch.nn.AdaptiveMaxPool2d(3, return_indices=True)(torch.tensor(x))[1]
    same(i, ti)
    with pytest.raises(ValueError, match="interpolate: mode 'bicubic' is not built"):
        F.interpolate(Tensor(x), scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        F.interpolate(Tensor(x))


def test_module_level_var_std_argmax_follow_torch_not_the_methods() -> None:
    a = RNG.normal(size=(3, 5))
    x, t = Tensor(a), torch.tensor(a)
    same(tg.var(x), torch.var(t))  # unbiased, PyTorch's default
    same(tg.std(x, 1, keepdim=True), torch.std(t, 1, keepdim=True))
    same(tg.var(x, 0, False), torch.var(t, 0, False))
    same(tg.std(x, dim=1, correction=0), torch.std(t, dim=1, correction=0))
    for got, want in zip(tg.var_mean(x, 1), torch.var_mean(t, 1)):
        same(got, want)
    for got, want in zip(tg.std_mean(x), torch.std_mean(t)):
        same(got, want)
    assert np.isclose(x.var().item(), a.var())  # the method keeps NumPy's ddof=0
    same(tg.argmax(x), torch.argmax(t))
    same(tg.argmin(x, 1, keepdim=True), torch.argmin(t, 1, keepdim=True))
    b = a > 0
    same(
        tg.logical_and(Tensor(b), Tensor(~b)), torch.logical_and(torch.tensor(b), torch.tensor(~b))
    )
    same(tg.logical_not(Tensor(b)), torch.logical_not(torch.tensor(b)))
    same(tg.isclose(x, x + 1e-9), torch.isclose(t, t + 1e-9))
    same(tg.count_nonzero(Tensor(b), 1), torch.count_nonzero(torch.tensor(b), 1))
    with pytest.raises(TypeError, match="var: pass unbiased or correction, not both"):
        tg.var(x, 0, True, correction=1)


def test_unfold_and_fold_match_torch() -> None:
    a = RNG.normal(size=(2, 3, 6, 7))
    kw = {"kernel_size": (2, 3), "dilation": (1, 2), "padding": 1, "stride": (2, 1)}
    grads(lambda x: F.unfold(x, **kw), lambda t: TF.unfold(t, **kw), a)
    grads(nn.Unfold(**kw), torch.nn.Unfold(**kw), a[0])  # unbatched
    cols = TF.unfold(torch.tensor(a), **kw).numpy()
    grads(lambda c: F.fold(c, (6, 7), **kw), lambda c: TF.fold(c, (6, 7), **kw), cols)
    grads(nn.Fold((6, 7), **kw), torch.nn.Fold((6, 7), **kw), cols[0])
    with pytest.raises(ValueError, match=r"fold: expected \(N, C·2·3, 20\) for output_size"):
        F.fold(Tensor(cols[:, :, :5]), (6, 7), **kw)


@pytest.mark.parametrize(
    "kw",
    [{"stride": 2}, {"stride": 2, "padding": 1, "output_padding": 1},
     {"stride": (1, 2), "dilation": 2, "groups": 2}],
)  # fmt: skip
def test_conv_transpose_matches_torch(kw) -> None:
    torch.manual_seed(3)
    ref = torch.nn.ConvTranspose2d(4, 6, (3, 2), **kw).double()
    ours = nn.ConvTranspose2d(4, 6, (3, 2), **kw)
    ours.load_state_dict({n: p.detach().numpy() for n, p in ref.state_dict().items()})
    a = RNG.normal(size=(2, 4, 5, 4))
    grads(ours, ref, a)
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours(x).sum().backward()
    ref(t).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), rtol=1e-10)
    k1 = {k: (v[1] if isinstance(v, tuple) else v) for k, v in kw.items()}
    ref1 = torch.nn.ConvTranspose1d(4, 6, 3, **k1).double()
    ours1 = nn.ConvTranspose1d(4, 6, 3, **k1)
    ours1.load_state_dict({n: p.detach().numpy() for n, p in ref1.state_dict().items()})
    grads(ours1, ref1, a[:, :, 0])
    v = Tensor(a[:1, :, :3, :3], requires_grad=True)
    w = Tensor(RNG.normal(size=(4, 2, 2, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda v, w: F.conv_transpose2d(v, w, stride=2), [v, w])


def test_1d_pooling_bilinear_and_softmax2d_match_torch() -> None:
    a = RNG.normal(size=(2, 3, 9))
    for kw in ({"kernel_size": 3}, {"kernel_size": 3, "stride": 2, "padding": 1},
               {"kernel_size": 2, "stride": 2, "ceil_mode": True}):  # fmt: skip
        grads(nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw), a)
        grads(nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw), a)
    grads(nn.MaxPool1d(2), torch.nn.MaxPool1d(2), a[0])  # unbatched (C, L): the fuzzer's find
    grads(nn.AvgPool1d(2), torch.nn.AvgPool1d(2), a[0])
    same(F.max_pool1d(Tensor(a[0]), 2, return_indices=True)[1],
         TF.max_pool1d(torch.tensor(a[0]), 2, return_indices=True)[1])  # fmt: skip
    y, i = nn.MaxPool1d(3, 2, return_indices=True)(Tensor(a))
    ty, ti = torch.nn.MaxPool1d(3, 2, return_indices=True)(torch.tensor(a))
    same(i, ti)
    torch.manual_seed(4)
    ref, ours = torch.nn.Bilinear(3, 4, 5).double(), nn.Bilinear(3, 4, 5)
    ours.load_state_dict({n: p.detach().numpy() for n, p in ref.state_dict().items()})
    grads(ours, ref, RNG.normal(size=(2, 6, 3)), RNG.normal(size=(2, 6, 4)))
    grads(nn.Softmax2d(), torch.nn.Softmax2d(), RNG.normal(size=(2, 3, 4, 5)))


def test_names_not_built_say_what_to_write() -> None:
    with pytest.raises(AttributeError, match=r"tg\.atan2 \(a PyTorch name\) is not built"):
        tg.atan2  # noqa: B018
    with pytest.raises(
        AttributeError, match=r"nn\.TransformerEncoderLayer .*nn\.MultiheadAttention"
    ):
        nn.TransformerEncoderLayer  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        tg.nonsense  # noqa: B018
    assert not hasattr(tg, "atan2") and hasattr(tg, "sort")


def test_device_and_cuda_habits_pick_the_cpu() -> None:
    dev = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    assert dev == "cpu" and dev.type == "cpu" and repr(dev) == "device(type='cpu')"
    model = nn.Linear(2, 3).to(dev)
    x = tg.randn(4, 2, device=dev)
    assert model(x.to(dev)).shape == (4, 3) and x.device == "cpu" and x.device.type == "cpu"
    assert tg.zeros(2, device=x.device).shape == (2,) and tg.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="zeros: tinygrad_bp runs on NumPy on the CPU only"):
        tg.zeros(2, device="cuda:0")
    with pytest.raises(RuntimeError, match="to: tinygrad_bp runs on NumPy on the CPU only"):
        x.to(tg.device("cuda", 0))


def test_identity_cases_return_new_tensors_as_torch() -> None:
    # (a view would let an in-place change of the result write into the input)
    x = Tensor(np.arange(6.0).reshape(2, 3))
    i = Tensor(np.arange(6).reshape(2, 3), dtype=np.int64)
    for y, base in [
        (x.roll(0, 0), x), (x.roll(3, 1), x), (i.round(), i), (i.trunc(), i),
        (i.nan_to_num(), i), (F.pad(x[None], (0, 0), mode="reflect"), x),
        (Tensor(3.0).sort()[0], None), (Tensor(3.0).topk(1)[0], None), (x.repeat(1, 1), x),
        (x.tile((1,)), x), (i.cumprod(0)[:1], None),
    ]:  # fmt: skip
        if base is not None:
            assert not np.shares_memory(y.data, base.data)
        y += 1  # writable


def test_more_habits_select_narrow_in_place_and_sampling() -> None:
    a = RNG.normal(size=(3, 4))
    x, t = Tensor(a), torch.tensor(a)
    same(x.select(1, -1), t.select(1, -1))
    same(tg.narrow(x, 1, 1, 2), torch.narrow(t, 1, 1, 2))
    same(tg.hstack([x, x]), torch.hstack([t, t]))
    same(tg.vstack([x[0], x]), torch.vstack([t[0], t]))
    same(tg.tril_indices(3, 4, 1), torch.tril_indices(3, 4, 1))
    same(tg.triu_indices(4, 3, -1), torch.triu_indices(4, 3, -1))
    s, v = np.sort(a, 1), RNG.normal(size=(3, 2))
    same(
        tg.searchsorted(Tensor(s), Tensor(v)), torch.searchsorted(torch.tensor(s), torch.tensor(v))
    )
    same(
        tg.bucketize(x, Tensor(s[0]), right=True),
        torch.bucketize(t, torch.tensor(s[0]), right=True),
    )
    same(tg.logspace(0, 2, 5), torch.logspace(0, 2, 5, dtype=torch.float64))
    for name, args in (("exp_", ()), ("abs_", ()), ("tanh_", ()), ("sigmoid_", ()),
                       ("relu_", ()), ("pow_", (2,)), ("neg_", ())):  # fmt: skip
        w, tw = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, ty = w * 1.5, tw * 1.5
        getattr(y, name)(*args)
        getattr(ty, name)(*args)
        same(y, ty)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12)
        z = Tensor(a.copy())
        assert getattr(z, name)(*args) is z
        same(z, getattr(torch.tensor(a), name)(*args))
    m = Tensor(np.zeros((3, 3)))
    same(m.fill_diagonal_(2.0), torch.zeros(3, 3, dtype=torch.float64).fill_diagonal_(2.0))
    tg.manual_seed(0)
    u = Tensor(np.zeros(1000)).uniform_(2, 3)
    assert 2 <= u.data.min() and u.data.max() < 3
    assert abs(Tensor(np.zeros(4000)).normal_(1.0, 2.0).data.std() - 2.0) < 0.2
    draws = tg.multinomial(Tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]), 2, replacement=True)
    assert draws.dtype == np.int64 and draws.tolist()[0] == [1, 1] and 1 not in draws.tolist()[1]
    assert sorted(tg.multinomial(Tensor([0.5, 0.0, 0.5]), 2).tolist()) == [0, 2]
    with pytest.raises(ValueError, match="multinomial: a row has fewer than 2 nonzero weights"):
        tg.multinomial(Tensor([0.0, 1.0, 0.0]), 2)
    assert set(np.unique(tg.bernoulli(tg.full((50,), 0.5)).data)) <= {0.0, 1.0}
    with tg.set_grad_enabled(False):
        assert not (Tensor(a, requires_grad=True) * 2).requires_grad
    with tg.inference_mode():
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    tg.testing.assert_close(x, x + 1e-9)
    tg.testing.assert_close(Tensor([1, 2], dtype=np.int64), Tensor([1, 2], dtype=np.int64))
    with pytest.raises(AssertionError, match="assert_close: 1 of 12 elements differ"):
        tg.testing.assert_close(x, x + np.eye(3, 4)[0:1, :1].repeat(3, 0).reshape(3, 1) * 0
                                + np.pad([[1.0]], ((0, 2), (0, 3))))  # fmt: skip
    with pytest.raises(IndexError, match="narrow: start 3 and length 2 exceed dim 1 of size 4"):
        x.narrow(1, 3, 2)


def test_init_and_utils_habits_match_torch() -> None:
    w = nn.Parameter(Tensor(np.zeros((400, 50))))
    nn.init.trunc_normal_(w, mean=0.5, std=0.2, a=0.0, b=1.0, generator=np.random.default_rng(0))
    assert 0.0 <= w.data.min() and w.data.max() <= 1.0 and abs(w.data.mean() - 0.5) < 0.01
    ref = torch.empty(400, 50, dtype=torch.float64)
    torch.nn.init.trunc_normal_(ref, mean=0.5, std=0.2, a=0.0, b=1.0)
    assert abs(w.data.std() - ref.std().item()) < 0.01  # the same distribution
    e = nn.Parameter(Tensor(np.zeros((2, 3))))
    same(nn.init.eye_(e), torch.nn.init.eye_(torch.zeros(2, 3, dtype=torch.float64)))
    m, tm = nn.Linear(3, 2), torch.nn.Linear(3, 2).double()
    m.load_state_dict({n: p.detach().numpy() for n, p in tm.state_dict().items()})
    x = RNG.normal(size=(4, 3)) * 10
    m(Tensor(x)).sum().backward()
    tm(torch.tensor(x)).sum().backward()
    nn.utils.clip_grad_value_(m.parameters(), 0.5)
    torch.nn.utils.clip_grad_value_(tm.parameters(), 0.5)
    np.testing.assert_array_equal(m.weight.grad, tm.weight.grad.numpy())
    v, tv = (
        nn.utils.parameters_to_vector(m.parameters()),
        torch.nn.utils.parameters_to_vector(tm.parameters()),
    )
    same(v, tv)
    nn.utils.vector_to_parameters(v * 2, m.parameters())
    np.testing.assert_array_equal(m.bias.data, 2 * tm.bias.detach().numpy())
    seq = nn.Sequential(nn.Linear(3, 2)).append(nn.ReLU())
    assert len(seq) == 2 and [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
