"""``tg.gradcheck`` cannot be fooled: every output takes part, the whole Jacobian is compared
(and in fast mode a random projection), so a backward that forgets, misplaces or transposes
its incoming gradient fails; ``torch.autograd.gradcheck`` agrees on a table of Functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp import Tensor

X = np.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7], [1.1, -0.4, 0.9]])
B = np.array([0.2, -0.6, 1.3])
W = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.9], [-1.0, 0.4, 0.6]])

# Each case: forward(x, ...) and backward(g, *saved) written with operators both tensor
# libraries understand, so the same code becomes a tinygrad_bp and a torch Function.
CASES = {
    # name: (inputs, forward, backward, right?)
    "square": ((X,), lambda x: x * x, lambda g, x: (g * 2 * x,), True),
    "square_forgets_g": ((X,), lambda x: x * x, lambda g, x: (2 * x,), False),
    "add_bias": ((X, B), lambda x, b: x + b, lambda g, x, b: (g, g.sum(0)), True),
    "add_bias_wrong_axis": ((X, B), lambda x, b: x + b, lambda g, x, b: (g, g.sum(1)), False),
    "matmul": ((X, W), lambda x, w: x @ w, lambda g, x, w: (g @ w.T, x.T @ g), True),
    "matmul_transposed_dw": ((X, W), lambda x, w: x @ w, lambda g, x, w: (g @ w.T, g.T @ x), False),
    "scale_transposed_g": ((X, W), lambda x, w: x * w, lambda g, x, w: ((g * w).T, g * x), False),
    "tanh": ((X,), lambda x: x.tanh(), lambda g, x: (g * (1 - x.tanh() * x.tanh()),), True),
    "tanh_at_output": ((X,), lambda x: x.tanh(), lambda g, x: (g * (1 - x * x),), False),
}


def _tg_function(forward, backward):
    class F(tg.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            return forward(*xs)

        @staticmethod
        def backward(ctx, g):
            return backward(g, *ctx.saved_tensors)

    return F


def _torch_function(forward, backward):
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            return forward(*xs)

        @staticmethod
        def backward(ctx, g):
            return backward(g, *ctx.saved_tensors)

    return F


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fast_mode", [False, True])
def test_torch_gradcheck_agrees(name: str, fast_mode: bool) -> None:
    arrays, forward, backward, right = CASES[name]
    ours = tg.gradcheck(
        _tg_function(forward, backward).apply,
        [Tensor(a, requires_grad=True) for a in arrays],
        raise_exception=False,
        fast_mode=fast_mode,
    )
    theirs = torch.autograd.gradcheck(
        _torch_function(forward, backward).apply,
        [torch.tensor(a, requires_grad=True) for a in arrays],
        raise_exception=False,
        fast_mode=fast_mode,
    )
    assert ours is right and theirs is right


class SquareForgetsGrad(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x  # forgot "* g"


def test_the_forgotten_g_of_the_issue_fails() -> None:
    x = Tensor(np.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]]), requires_grad=True)
    # the sum trick (an all-ones incoming gradient) cannot see the slip: it is exact there
    y = SquareForgetsGrad.apply(Tensor(x.data, requires_grad=True))
    (dx,) = tg.grad(y, y.parents, grad_outputs=np.ones(y.shape))
    np.testing.assert_allclose(dx.data, 2 * x.data)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(SquareForgetsGrad.apply, [x])
    err = info.value
    # the first column: d y[j]/d x[0,0] is 0 for every j but (0, 0); the backward says 2x
    assert err.input_index == 0 and err.index == (0, 0)
    assert err.output_element == (0, 1) and err.numeric == 0.0
    assert err.analytic == pytest.approx(2 * 0.3)
    msg = str(err)
    for part in ("input 0", "index (0, 0)", "output element (0, 1)", "relative error",
                 repr(err.analytic), repr(err.numeric)):  # fmt: skip
        assert part in msg
    assert tg.gradcheck(SquareForgetsGrad.apply, [x], raise_exception=False) is False
    assert (
        tg.gradcheck(SquareForgetsGrad.apply, [x], raise_exception=False, fast_mode=True) is False
    )


def test_fast_mode_finds_the_index_and_is_seeded() -> None:
    x = Tensor(X, requires_grad=True)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(SquareForgetsGrad.apply, [x], fast_mode=True, seed=3)
    assert info.value.index == (0, 0)  # looked up in the full Jacobian of that input
    # only the random projection is drawn: passing cases pass whatever the seed
    for seed in range(3):
        assert tg.gradcheck(lambda t: (t * t).tanh(), [x], fast_mode=True, seed=seed)


def test_every_output_of_a_tuple_takes_part() -> None:
    a = Tensor(X, requires_grad=True)
    wrong_second = _tg_function(lambda x: x * 3, lambda g, x: (g * 2,))  # says 2, is 3
    assert tg.gradcheck(lambda t: (t * 2, t.tanh()), [a]) is True
    with pytest.raises(tg.GradcheckError, match="output 1 element"):
        tg.gradcheck(lambda t: (t * 2, wrong_second.apply(t)), [a])


def test_gradgradcheck_returns_false_when_asked() -> None:
    class WrongSecond(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.data**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x.detach()

    x = Tensor(X, requires_grad=True)
    assert tg.gradgradcheck(WrongSecond.apply, [x], raise_exception=False) is False
    assert tg.gradgradcheck(WrongSecond.apply, [x], raise_exception=False, fast_mode=True) is False
    assert tg.gradgradcheck(lambda t: t * t * t, [x], fast_mode=True) is True


def test_a_backward_not_linear_in_g_fails_in_both_modes() -> None:
    """g·g·2x is right for the unit incoming gradients of the Jacobian's rows (PyTorch's
    full mode passes it); the extra random incoming gradient sees it."""
    squares_g = _tg_function(lambda x: x * x, lambda g, x: (g * g * 2 * x,))
    x = Tensor(X, requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="not linear in its incoming gradient"):
        tg.gradcheck(squares_g.apply, [x])
    assert tg.gradcheck(squares_g.apply, [x], fast_mode=True, raise_exception=False) is False
    torch_f = _torch_function(lambda x: x * x, lambda g, x: (g * g * 2 * x,))
    tx = torch.tensor(X, requires_grad=True)
    assert (
        torch.autograd.gradcheck(torch_f.apply, [tx], fast_mode=True, raise_exception=False)
        is False
    )
