"""The higher-order API against PyTorch's: ``tg.autograd.grad`` (multiple outputs and
inputs, grad_outputs, inner nodes, allow_unused, retain_graph's default, no ``.grad``
touched, freed graphs), ``tg.Function`` (errors naming the class, needs_input_grad, a
Function differentiated twice, its node's name), ``Tensor.register_hook`` and
``tg.gradgradcheck`` catching a wrong second derivative."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp import Tensor

A = np.array([[0.5, -1.2, 2.0], [0.3, 0.9, -0.4]])
B = np.array([[1.5, 0.2, -0.7], [-1.1, 0.6, 0.8]])


def _pair() -> tuple[Tensor, Tensor, torch.Tensor, torch.Tensor]:
    return (
        Tensor(A, requires_grad=True),
        Tensor(B, requires_grad=True),
        torch.tensor(A, requires_grad=True),
        torch.tensor(B, requires_grad=True),
    )


def _same(ours: tuple, theirs: tuple) -> None:
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        if t is None:
            assert o is None
            continue
        assert isinstance(o, Tensor)
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- tg.autograd.grad
def test_grad_is_exported_under_both_names() -> None:
    assert tg.grad is tg.autograd.grad


def test_multiple_outputs_and_inputs_sum_like_torch() -> None:
    x, w, xt, wt = _pair()
    ours = tg.grad([(x * w).sum(), (x.exp() * w * w).sum()], [x, w])
    theirs = torch.autograd.grad([(xt * wt).sum(), (xt.exp() * wt * wt).sum()], [xt, wt])
    _same(ours, theirs)


def test_grad_outputs_seed_each_output() -> None:
    x, w, xt, wt = _pair()
    u, v = np.arange(6.0).reshape(2, 3), np.array(2.5)
    ours = tg.grad([x * w, (x * x).sum()], [x, w], grad_outputs=[u, v])
    theirs = torch.autograd.grad(
        [xt * wt, (xt * xt).sum()], [xt, wt], grad_outputs=[torch.tensor(u), torch.tensor(v)]
    )
    _same(ours, theirs)
    # a Tensor seed, a single output and a single input: a tuple of one
    (g,) = tg.grad(x.tanh(), x, grad_outputs=Tensor(u))
    (gt,) = torch.autograd.grad(xt.tanh(), xt, grad_outputs=torch.tensor(u))
    np.testing.assert_allclose(g.data, gt.numpy(), rtol=1e-14)


def test_grad_of_an_inner_node() -> None:
    x, w, xt, wt = _pair()
    h, ht = x * w, xt * wt
    ours = tg.grad((h.sin() * x).sum(), [h, x])
    theirs = torch.autograd.grad((ht.sin() * xt).sum(), [ht, xt])
    _same(ours, theirs)


def test_allow_unused_gives_none_and_refuses_without_it() -> None:
    x, w, xt, wt = _pair()
    with pytest.raises(RuntimeError, match=r"grad: inputs\[1\] \(shape \(2, 3\)\) does not take "
                       "part in the graph.*allow_unused=True"):  # fmt: skip
        tg.grad((x * x).sum(), [x, w])
    ours = tg.grad((x * x).sum(), [x, w], allow_unused=True)
    theirs = torch.autograd.grad((xt * xt).sum(), [xt, wt], allow_unused=True)
    _same(ours, theirs)
    with pytest.raises(RuntimeError):  # PyTorch refuses as well
        torch.autograd.grad((xt * xt).sum(), [xt, wt])


def test_retain_graph_defaults_to_create_graph() -> None:
    x = Tensor(A, requires_grad=True)
    y = (x.exp() * x).sum()
    tg.grad(y, x)  # create_graph=False: the graph is freed
    with pytest.raises(RuntimeError, match="second time"):
        tg.grad(y, x)
    y = (x.exp() * x).sum()
    (g1,) = tg.grad(y, x, create_graph=True)  # retained
    (g2,) = tg.grad(y, x)
    np.testing.assert_allclose(g1.data, g2.data, rtol=1e-15)
    y = (x.exp() * x).sum()
    tg.grad(y, x, retain_graph=True)
    tg.grad(y, x)  # kept once more
    xt = torch.tensor(A, requires_grad=True)
    yt = (xt.exp() * xt).sum()
    torch.autograd.grad(yt, xt)
    with pytest.raises(RuntimeError, match="second time"):
        torch.autograd.grad(yt, xt)


def test_grad_touches_no_grad_attribute() -> None:
    x, w, xt, wt = _pair()
    h = x * w
    h.retain_grad()
    tg.grad((h * h).sum(), [x], create_graph=True)
    # leaves' .grad untouched; a retained inner gradient is filled, as PyTorch's
    # retain_grad() hook does under torch.autograd.grad
    assert x.grad is None and w.grad is None
    ht = xt * wt
    ht.retain_grad()
    torch.autograd.grad((ht * ht).sum(), [xt], create_graph=True)
    assert xt.grad is None and wt.grad is None
    np.testing.assert_allclose(h.grad, ht.grad.detach().numpy(), rtol=1e-15)
    (x * 2).sum().backward()
    before = x.grad.copy()
    tg.grad((x * x).sum(), x)
    np.testing.assert_array_equal(x.grad, before)


def test_grad_after_backward_freed_the_graph_raises() -> None:
    x = Tensor(A, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        tg.grad(y, x)


def test_create_graph_gives_tensors_with_a_graph() -> None:
    x, w, xt, wt = _pair()
    gx, gw = tg.grad((x * x * w).sum(), [x, w], create_graph=True)
    assert gx.requires_grad and not gx.is_leaf and gw.requires_grad
    gxt, gwt = torch.autograd.grad((xt * xt * wt).sum(), [xt, wt], create_graph=True)
    ours = tg.grad((gx * gx).sum() + gw.sum(), [x, w])
    theirs = torch.autograd.grad((gxt * gxt).sum() + gwt.sum(), [xt, wt])
    _same(ours, theirs)


def test_plain_grad_returns_leaves_of_the_inputs_dtype() -> None:
    x = Tensor(A.astype(np.float32), requires_grad=True)
    (g,) = tg.grad((x * 2.0).sum(), x)
    assert g.is_leaf and not g.requires_grad and g.dtype == np.float32
    (g,) = tg.grad((x * 2.0).sum(), x, create_graph=True)
    assert g.dtype == np.float32


def test_backward_create_graph_is_refused_in_favour_of_grad() -> None:
    x = Tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph=True.*tg.autograd.grad"):
        (x * x).sum().backward(create_graph=True)


# ---------------------------------------------------------------- Function
class Cube(tg.Function):
    """x³ with a backward in Tensor operations: differentiable again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_function_node_is_named_after_the_class() -> None:
    x = Tensor(A, requires_grad=True)
    y = Cube.apply(x)
    assert y.op == "Cube" and y.parents == (x,) and y.requires_grad
    np.testing.assert_allclose(y.data, A**3)
    with tg.no_grad():
        assert not Cube.apply(x).requires_grad


def test_function_first_second_and_third_derivatives_match_torch() -> None:
    x, xt = Tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    u = np.random.default_rng(0).normal(size=A.shape)
    g1 = tg.grad(Cube.apply(x), x, grad_outputs=u, create_graph=True)
    g1t = torch.autograd.grad(TorchCube.apply(xt), xt, grad_outputs=torch.tensor(u),
                              create_graph=True)  # fmt: skip
    _same(g1, g1t)
    g2 = tg.grad(g1[0].sum(), x, create_graph=True)
    g2t = torch.autograd.grad(g1t[0].sum(), xt, create_graph=True)
    _same(g2, g2t)
    np.testing.assert_allclose(g2[0].data, 6 * A * u, rtol=1e-14)
    g3 = tg.grad(g2[0].sum(), x)
    np.testing.assert_allclose(g3[0].data, 6 * u, rtol=1e-14)
    x.grad = None
    Cube.apply(x).sum().backward()  # and a plain backward
    np.testing.assert_allclose(x.grad, 3 * A**2, rtol=1e-15)
    assert tg.gradgradcheck(Cube.apply, [Tensor(A, requires_grad=True)])


def test_function_needs_input_grad() -> None:
    seen = []

    class Mul(tg.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(a, b)
            return a.data * b.data * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return (g * b * 2.0 if ctx.needs_input_grad[0] else None,
                    g * a * 2.0 if ctx.needs_input_grad[1] else None, None)  # fmt: skip

    a, b = Tensor(A, requires_grad=True), Tensor(B)
    Mul.apply(a, b, 2.0).sum().backward()
    assert seen == [(True, False, False)]
    np.testing.assert_allclose(a.grad, B * 2.0)
    assert b.grad is None


class WrongCount(tg.Function):
    @staticmethod
    def forward(ctx, a, b):
        return a.data * b.data

    @staticmethod
    def backward(ctx, g):
        return g


class WrongShape(tg.Function):
    @staticmethod
    def forward(ctx, a):
        return a.data * 2

    @staticmethod
    def backward(ctx, g):
        return g.sum(axis=0)


class WrongDtype(tg.Function):
    @staticmethod
    def forward(ctx, a):
        return a.data * 2

    @staticmethod
    def backward(ctx, g):
        return np.ones(g.shape, dtype=np.int64)


class TwoOutputs(tg.Function):
    @staticmethod
    def forward(ctx, a):
        return a, a * 2

    @staticmethod
    def backward(ctx, g):
        return g


@pytest.mark.parametrize("create_graph", [False, True])
def test_function_errors_name_the_class(create_graph: bool) -> None:
    a, b = Tensor(A, requires_grad=True), Tensor(B, requires_grad=True)

    def run(out: Tensor) -> None:
        if create_graph:
            tg.grad(out.sum(), a, create_graph=True, allow_unused=True)
        else:
            out.sum().backward()

    with pytest.raises(
        RuntimeError, match=r"WrongCount\.backward returned 1 gradients, expected 2"
    ):
        run(WrongCount.apply(a, b))
    with pytest.raises(RuntimeError, match=r"WrongShape backward returned a gradient of shape "
                       r"\(3,\) for an input of shape \(2, 3\)"):  # fmt: skip
        run(WrongShape.apply(a))
    with pytest.raises(TypeError, match=r"WrongDtype\.backward returned a gradient of dtype "
                       r"int64 for argument 0 \(float64\)"):  # fmt: skip
        run(WrongDtype.apply(a))


def test_function_with_two_outputs_is_refused() -> None:
    with pytest.raises(TypeError, match=r"TwoOutputs\.forward returned 2 values.*one Tensor"):
        TwoOutputs.apply(Tensor(A, requires_grad=True))


# ---------------------------------------------------------------- hooks
def test_hook_on_a_leaf_sees_a_tensor_and_can_replace_the_gradient() -> None:
    x, xt = Tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    got = []
    h = x.register_hook(lambda g: got.append(g) or g * 3)
    xt.register_hook(lambda g: g * 3)
    (x * x).sum().backward()
    (xt * xt).sum().backward()
    assert isinstance(got[0], Tensor)
    np.testing.assert_allclose(got[0].data, 2 * A)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-15)
    h.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * A)  # removed: the plain gradient again
    assert len(got) == 1


def test_hook_on_a_leaf_that_is_the_root_runs_once() -> None:
    # backward() called on the leaf itself: its hook runs once, as in PyTorch, and the
    # gradient it returns is the one accumulated
    x, xt = Tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    calls, calls_t = [], []
    x.register_hook(lambda g: calls.append(1) or g * 3)
    xt.register_hook(lambda g: calls_t.append(1) or g * 3)
    x.backward(np.ones_like(A))
    xt.backward(torch.ones_like(xt))
    assert len(calls) == len(calls_t) == 1
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_hook_on_the_loss_may_change_its_gradient_in_place() -> None:
    x, xt = Tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    loss, loss_t = (x * x).sum(), (xt * xt).sum()
    loss.register_hook(lambda g: g.mul_(2))  # returns the tensor it changed
    loss_t.register_hook(lambda g: g.mul_(2))
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-15)


def test_hook_on_an_inner_node_changes_what_flows_on() -> None:
    x, xt = Tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    h, ht = x * 2, xt * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))  # returns None: only watches
    h.register_hook(lambda g: g.clamp(max=1.0))
    ht.register_hook(lambda g: g.clamp(max=1.0))
    (h * h).sum().backward()
    (ht * ht).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * (2 * A))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-15)


def test_hook_handle_as_a_context_manager_and_under_grad() -> None:
    x = Tensor(A, requires_grad=True)
    with x.register_hook(lambda g: g * 0):
        (g,) = tg.grad((x * x).sum(), x)
        np.testing.assert_array_equal(g.data, np.zeros_like(A))
    (g,) = tg.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.data, 2 * A)


def test_hook_under_create_graph_gets_a_graph_tensor() -> None:
    x = Tensor(A, requires_grad=True)
    h = x * x
    kinds = []
    h.register_hook(lambda g: kinds.append(type(g)) or g * x)  # uses x: differentiable
    (gx,) = tg.grad(h.sum(), x, create_graph=True)  # = x · 2x = 2x²
    np.testing.assert_allclose(gx.data, 2 * A**2)
    (gg,) = tg.grad(gx.sum(), x)
    np.testing.assert_allclose(gg.data, 4 * A)
    assert kinds == [Tensor]  # called once, in the first walk, with a Tensor


def test_hook_must_return_the_gradients_shape() -> None:
    x = Tensor(A, requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"hook.*shape \(2, 3\).*shape \(\)"):
        (x * x).sum().backward()


def test_register_hook_refuses_what_cannot_take_one() -> None:
    with pytest.raises(RuntimeError, match="register_hook.*doesn't require gradient"):
        Tensor(A).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="register_hook: expected a callable, got int"):
        Tensor(A, requires_grad=True).register_hook(3)


# ---------------------------------------------------------------- gradgradcheck
class WrongSecond(tg.Function):
    """x³ whose first derivative is right (3x²) but whose second is not: the backward
    detaches one factor, so d/dx (3·x·x̄) = 3x̄ instead of 6x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x.detach()


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    a = np.array([[0.5, -1.0], [2.0, 1.5]])
    x = Tensor(a, requires_grad=True)
    assert tg.gradcheck(WrongSecond.apply, [x])  # the first derivative is right
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradgradcheck(WrongSecond.apply, [x], grad_outputs=np.ones((2, 2)))
    err = info.value
    assert err.input_index == 0 and err.index == (0, 0)
    assert err.analytic == pytest.approx(3 * 0.5) and err.numeric == pytest.approx(6 * 0.5)
    assert re.search(r"input 0 at index \(0, 0\) differs: engine 1\.5, finite differences 2\.99",
                     str(err))  # fmt: skip
    assert isinstance(err, AssertionError)  # reported by pytest as a failure
    np.testing.assert_array_equal(x.data, a)  # the input is left as it was
    assert tg.gradgradcheck(Cube.apply, [x])  # the right one passes


def test_gradgradcheck_names_the_second_input() -> None:
    class WrongInB(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a.data * b.data * b.data

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b * b, g * 2 * a * b.detach()  # d²/db² wrong (0 instead of 2a)

    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="input 1") as info:
        tg.gradgradcheck(WrongInB.apply, [a, b], grad_outputs=np.ones(2))
    assert info.value.input_index == 1


def test_gradgradcheck_refuses_bad_arguments() -> None:
    x = Tensor(A, requires_grad=True)
    with pytest.raises(ValueError, match="gradgradcheck.*requires_grad=True"):
        tg.gradgradcheck(lambda t: t * t, [Tensor(A)])
    with pytest.raises(ValueError, match=r"gradgradcheck: grad_outputs has shape \(3,\)"):
        tg.gradgradcheck(lambda t: t * t, [x], grad_outputs=np.ones(3))
    with pytest.raises(ValueError, match="gradgradcheck: eps must be a positive"):
        tg.gradgradcheck(lambda t: t * t, [x], eps=0.0)
    with pytest.raises(TypeError, match="gradgradcheck: fn must return a Tensor"):
        tg.gradgradcheck(lambda t: 1.0, [x])


def test_two_outputs_with_equal_values_both_count() -> None:
    """Regression: the walk looked its roots up with ``in`` on a list, which calls the
    elementwise ``==``; two scalar outputs of equal value were taken for one (the second
    was dropped), and non-scalar outputs raised 'truth value is ambiguous'."""
    x, xt = Tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    a, b = (x * 1).sum(), (x * x).sum() - 2.0  # both 3.0
    assert a.item() == b.item()
    _same(tg.grad([a, b], x), torch.autograd.grad([(xt * 1).sum(), (xt * xt).sum() - 2.0], xt))
    y, z = x * 2, x * 2  # equal non-scalar outputs
    _same(tg.grad([y, z], x, grad_outputs=[np.ones(2), np.ones(2)]), (torch.tensor([4.0, 4.0]),))


def test_non_differentiable_outputs_are_refused_clearly() -> None:
    x = Tensor(A, requires_grad=True)
    h = x * x
    with pytest.raises(TypeError, match=r"grad: outputs\[0\] is a ndarray.*argmax"):
        tg.grad(h.argmax(axis=1), x, create_graph=True)
    with pytest.raises(TypeError, match=r"grad: outputs\[0\] is a int64.*argmax"):
        tg.grad(h.argmax(), x)
    with pytest.raises(RuntimeError, match=r"grad: outputs\[0\] is a bool tensor.*comparison"):
        tg.grad(h > 1, x, grad_outputs=np.ones(A.shape), create_graph=True)
