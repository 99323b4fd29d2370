"""gradcheck's own edges: a zero step is a clear ValueError (not ZeroDivisionError), and
checking a gradient leaves the ``.grad`` of tensors that ``fn`` captures as it found them."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor, nn


@pytest.mark.parametrize("eps", [0, 0.0, -1e-6, float("nan"), float("inf")])
def test_gradcheck_refuses_a_step_that_is_not_positive(eps) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"gradcheck: eps must be a positive finite number"):
        tg.gradcheck(lambda t: t * t, [x], eps=eps)


def test_gradcheck_refuses_bad_tolerances() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="gradcheck: atol must be a non-negative"):
        tg.gradcheck(lambda t: t * t, [x], atol=-1.0)
    with pytest.raises(TypeError, match="gradcheck: rtol must be a number"):
        tg.gradcheck(lambda t: t * t, [x], rtol="0.1")


def test_gradcheck_restores_grad_of_captured_parameters() -> None:
    layer = nn.Dense(3, 2, activation="tanh", rng=0)
    x = Tensor(np.random.default_rng(1).normal(size=(4, 3)), requires_grad=True)
    assert tg.gradcheck(lambda t: layer(t), [x]) is True
    assert layer.W.grad is None and layer.b.grad is None  # untouched, as before the check
    # a gradient the user already had is kept exactly, not accumulated into
    before = np.full(layer.W.shape, 0.25)
    layer.W.grad = before.copy()
    assert tg.gradcheck(lambda t: layer(t), [x]) is True
    np.testing.assert_array_equal(layer.W.grad, before)
    assert layer.b.grad is None
    assert x.grad is None  # the checked input itself was never touched (a copy is used)
