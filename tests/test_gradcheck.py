"""tg.gradcheck itself: passes on correct ops, names the input, the index and both values
on a wrong one, computes in float64 whatever the inputs' dtype, and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor
from tinygrad_bp.tensor import make_node

WRONG_AT = (1, 2)


def square_with_a_wrong_backward(x: Tensor) -> Tensor:
    """x**2 whose backward is right everywhere except at one element (its derivative there
    is 2x + 0.5; the backward stays linear in g, as a backward must)."""
    xd = x.data

    def backward(g):
        grad = g * 2 * xd
        grad[WRONG_AT] += 0.5 * g[WRONG_AT]
        return (grad,)

    return make_node(xd * xd, (x,), "bad_square", backward)


def test_passes_on_correct_ops() -> None:
    rng = np.random.default_rng(0)
    a = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = Tensor(rng.normal(size=(4,)), requires_grad=True)
    assert tg.gradcheck(lambda a, b: (a * b).tanh() @ b, [a, b]) is True
    assert tg.gradcheck(lambda a: a.exp(), a) is True  # a single tensor


def test_names_input_index_and_both_values() -> None:
    rng = np.random.default_rng(1)
    a = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    b = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda a, b: a * square_with_a_wrong_backward(b), [a, b])
    err = info.value
    assert err.input_index == 1 and err.index == WRONG_AT
    numeric = a.data[WRONG_AT] * 2 * b.data[WRONG_AT]
    assert err.output_element == WRONG_AT  # the Jacobian's diagonal entry
    assert err.numeric == pytest.approx(numeric, rel=1e-6)
    assert err.analytic == pytest.approx(numeric + 0.5 * a.data[WRONG_AT], rel=1e-12)
    assert err.relative_error == pytest.approx(abs(err.analytic - err.numeric) / abs(err.analytic))
    msg = str(err)
    assert "input 1" in msg and "(1, 2)" in msg
    assert repr(err.analytic) in msg and repr(err.numeric) in msg


def test_non_tensor_and_constant_inputs_are_passed_through() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])  # no grad: not checked
    assert tg.gradcheck(lambda a, c, k: a * c * k, [a, c, 2.0]) is True
    with pytest.raises(ValueError, match="gradcheck: no input.*requires_grad"):
        tg.gradcheck(lambda c: c * 2, [c])


def test_float32_inputs_are_checked_in_float64() -> None:
    # In float32, central differences with eps=1e-6 are pure rounding noise; that this
    # passes shows the check runs on float64 copies.
    rng = np.random.default_rng(2)
    x = Tensor(rng.normal(size=(3, 3)).astype(np.float32), requires_grad=True)
    W = Tensor(rng.normal(size=(3, 2)).astype(np.float32), requires_grad=True)
    before = x.data.copy(), W.data.copy()
    seen = []

    def fn(x, W):
        seen.append(x.dtype)
        return (x @ W).sigmoid()

    assert tg.gradcheck(fn, [x, W]) is True
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32 and W.dtype == np.float32
    np.testing.assert_array_equal(x.data, before[0])
    np.testing.assert_array_equal(W.data, before[1])


def test_inputs_are_left_unchanged() -> None:
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.1]]), requires_grad=True)
    data = x.data
    before = data.copy()
    tg.gradcheck(lambda t: (t * t).sum(), [x])
    assert x.data is data
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None  # the check accumulates into copies, never the caller's leaves
    x.grad = np.ones((2, 2))
    tg.gradcheck(lambda t: t * 3, [x])
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))


def test_tolerances_are_honoured() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)

    def off_by_a_little(t: Tensor) -> Tensor:
        td = t.data
        return make_node(td * 1.0, (t,), "almost_identity", lambda g: (g * (1 + 1e-4),))

    assert tg.gradcheck(off_by_a_little, [x]) is True  # within rtol 1e-3
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(off_by_a_little, [x], atol=0.0, rtol=1e-6)


def test_error_is_a_test_failure() -> None:
    assert issubclass(tg.GradcheckError, AssertionError)
