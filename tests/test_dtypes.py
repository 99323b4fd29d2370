"""dtypes: float32 in gives float32 values and gradients (through Python numbers, NumPy
scalars and losses too); lists, ints and bools become the default float dtype; integer
tensors cannot require grad."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor
from tinygrad_bp import functional as F

from .op_cases import CASES, TG, OpCase, run_case, seed_for

TG32 = TG.with_dtype(np.float32)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_float32_in_float32_out(c: OpCase) -> None:
    arrays32 = c.inputs(np.float32)
    seed = seed_for(c, arrays32, np.float32)
    value, grads, xs, out = run_case(TG32, c, arrays32, seed)
    assert value.dtype == np.float32, f"{c.name}: value is {value.dtype}"
    for i, (x, g) in enumerate(zip(xs, grads)):
        assert x.dtype == np.float32
        assert g is not None and g.dtype == np.float32, f"{c.name}: grad {i} dtype"
        assert g.shape == x.shape
    # The float32 result is the float64 one, to float32 accuracy.
    arrays64 = [a.astype(np.float64) for a in arrays32]
    seed64 = None if seed is None else seed.astype(np.float64)
    value64, grads64, _, _ = run_case(TG, c, arrays64, seed64)
    scale = max(1.0, float(np.abs(value64).max(initial=0.0)))
    np.testing.assert_allclose(value, value64, rtol=1e-4, atol=1e-5 * scale)
    for g, g64 in zip(grads, grads64):
        gscale = max(1.0, float(np.abs(g64).max(initial=0.0)))
        np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-5 * gscale)


@pytest.mark.parametrize(
    "expr",
    [
        lambda t: t * 2,
        lambda t: 2 * t,
        lambda t: 1 / t,
        lambda t: t / 3,
        lambda t: t**2,
        lambda t: t**0.5,
        lambda t: 2.0**t,
        lambda t: t + 0.5,
        lambda t: 1 - t,
        lambda t: t * np.float64(2.0),
        lambda t: np.float64(3.0) - t,
        lambda t: t * True,
        lambda t: t + [1, 2, 3],
        lambda t: t.mean(),
        lambda t: t.sum(axis=0) / 7,
        lambda t: (t - t.max()).exp(),
        lambda t: t.softmax(-1),
        lambda t: F.mse_loss(t, Tensor(np.zeros(3, np.float32))),
        lambda t: F.mse_loss(t, [0.0, 1.0, 2.0]),
    ],
    ids=lambda f: "",
)
def test_python_and_numpy_scalars_do_not_upcast(expr) -> None:
    t = Tensor(np.array([0.5, 1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = expr(t)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32) if y.ndim else None)
    assert t.grad.dtype == np.float32 and t.grad.shape == (3,)


@pytest.mark.parametrize(
    "target",
    [
        np.array([0, 2, 1]),
        [0, 2, 1],
        Tensor(np.array([0, 2, 1]), dtype=np.int64),
        np.eye(3)[[0, 2, 1]],  # float64 one-hot: a float64 loss, float32 gradient
        np.eye(3, dtype=np.float32)[[0, 2, 1]],
    ],
    ids=["int-array", "list", "int-tensor", "onehot64", "onehot32"],
)
def test_cross_entropy_keeps_float32(target) -> None:
    z = Tensor(np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(z, target)
    # a float64 probability target promotes the loss, as torch.result_type does (issue 20);
    # the gradient stays in the logits' dtype either way
    want = np.float64 if getattr(target, "dtype", None) == np.float64 else np.float32
    assert loss.dtype == want
    loss.backward()
    assert z.grad.dtype == np.float32


def test_float32_leaf_gets_float32_grad_even_through_float64_ops() -> None:
    # a float64 array operand promotes the result (NumPy's and PyTorch's rule for arrays),
    # but the gradient stored on the float32 leaf has the leaf's dtype
    t = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = t * np.array([1.0, 2.0, 3.0])
    assert y.dtype == np.float64
    y.sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad, [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "data",
    [[1, 2, 3], [[1, 2], [3, 4]], 3, True, [True, False], np.array([1, 2]), np.int32(4), 2.5],
    ids=["ints", "nested", "int", "bool", "bools", "int-array", "np-int", "float"],
)
def test_non_float_data_becomes_default_float(data) -> None:
    assert Tensor(data).dtype == np.float64
    assert Tensor(data, requires_grad=True).dtype == np.float64


def test_float_arrays_keep_their_dtype() -> None:
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert Tensor(np.ones(2, np.float16)).dtype == np.float16
    assert Tensor(np.ones(2)).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_set_default_dtype(float32_default) -> None:
    assert tg.get_default_dtype() == np.float32
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor(3.0).dtype == np.float32
    assert Tensor(np.ones(2)).dtype == np.float64  # float arrays keep theirs
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.dtype == np.float32


def test_set_default_dtype_refuses_non_floats() -> None:
    with pytest.raises(TypeError, match="set_default_dtype.*floating.*int32"):
        tg.set_default_dtype(np.int32)
    assert tg.get_default_dtype() == np.float64


def test_integer_tensors_cannot_require_grad() -> None:
    labels = Tensor([0, 1, 2], dtype=np.int64)
    assert labels.dtype == np.int64 and not labels.requires_grad
    with pytest.raises(TypeError, match="only floating tensors can require gradients.*int64"):
        Tensor([0, 1, 2], dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad_.*int64"):
        labels.requires_grad_()
    x = Tensor([1.5], requires_grad=True)
    with pytest.raises(TypeError, match="cast.*int32"):
        x.astype(np.int32)


def test_cast_is_differentiable_and_grad_keeps_leaf_dtype() -> None:
    x = Tensor([1.5, -2.0], requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_python_floats_and_float_lists_take_the_default(float32_default) -> None:
    assert Tensor(3.0).dtype == np.float32
    assert Tensor([1.0, 2.5]).dtype == np.float32
    assert Tensor([[1.0], [2]]).dtype == np.float32
    assert Tensor(np.float64(3.0)).dtype == np.float64  # a NumPy value keeps its dtype
