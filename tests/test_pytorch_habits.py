"""PyTorch habits that used to fail silently, each as its own test: each either works as
in PyTorch (checked against PyTorch where it computes a number) or raises a clear error.

From issue 10's list "PyTorch habits that today fail silently": elementwise comparisons,
accuracy as ``(logits.argmax(1) == y).mean()``, the hand-written SGD step updating the
parameter in place, in-place operators refused on a leaf that requires grad, the version
check, integer powers, integer logits, gradients of powers at 0, boolean masks, list
targets, 0-d iteration, ``np.array`` copying, ``in``; then the PyTorch spellings
(``dim=``/``keepdim=``, ``backward(gradient=)``, permute/swapaxes/transpose, the
factories, clone/tolist/numel/float/double/view).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp import Tensor
from tinygrad_bp import functional as F


# ---------------------------------------------------------------- comparisons
@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a == b,
        lambda a, b: a != b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["eq", "ne", "lt", "le", "gt", "ge"],
)
def test_comparisons_are_elementwise_boolean_tensors(op) -> None:
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]])
    b = np.array([2.0, 2.0, 0.0])
    t = Tensor(a, requires_grad=True)
    for other, tother in ((Tensor(b), torch.tensor(b)), (b, torch.tensor(b)), (2.0, 2.0)):
        got = op(t, other)  # a Tensor, an array, a number
        want = op(torch.tensor(a), tother)
        assert isinstance(got, Tensor) and got.dtype == np.bool_
        assert not got.requires_grad and got.is_leaf
        np.testing.assert_array_equal(got.data, want.numpy())
    # an array on the left defers to the Tensor's reflected comparison
    got = op(b, t)
    assert isinstance(got, Tensor)
    np.testing.assert_array_equal(got.data, op(torch.tensor(b), torch.tensor(a)).numpy())


def test_tensor_equal_to_ndarray_is_not_a_python_bool() -> None:
    got = Tensor([1.0, 2.0]) == np.array([1.0, 3.0])
    assert isinstance(got, Tensor)
    np.testing.assert_array_equal(got.data, [True, False])
    with pytest.raises(ValueError, match="ambiguous"):
        bool(got)  # as PyTorch: a two-element comparison has no single truth value


def test_p_greater_than_zero_does_not_raise() -> None:
    p = Tensor([-0.5, 0.0, 0.25], requires_grad=True)
    np.testing.assert_array_equal((p > 0).data, [False, False, True])


def test_accuracy_idiom() -> None:
    """``(logits.argmax(1) == y).mean()``: argmax gives an integer array; compared with the
    labels (an array or a Tensor) it gives booleans whose mean is the accuracy."""
    z = np.array([[2.0, 0.1, 0.3], [0.0, 1.0, 3.0], [0.5, 0.6, 0.1], [9.0, 1.0, 1.0]])
    y = np.array([0, 2, 0, 0])
    logits = Tensor(z, requires_grad=True)
    acc = (logits.argmax(1) == y).mean()
    assert float(acc) == 0.75
    acc_t = (Tensor(logits.argmax(1)) == Tensor(y)).float().mean()  # all in Tensors
    assert acc_t.item() == pytest.approx(0.75)
    zt = torch.tensor(z)
    assert (zt.argmax(1) == torch.tensor(y)).float().mean().item() == 0.75


def test_boolean_tensors_combine_like_torch() -> None:
    t = Tensor([-2.0, -0.5, 0.5, 2.0])
    inside = (t > -1) & (t < 1)
    np.testing.assert_array_equal(inside.data, [False, True, True, False])
    np.testing.assert_array_equal((~inside).data, [True, False, False, True])
    np.testing.assert_array_equal(((t < -1) | (t > 1)).data, [True, False, False, True])


# ---------------------------------------------------------------- in place
def test_hand_written_sgd_step_updates_the_parameter_in_place() -> None:
    w = Tensor([1.0, -2.0], requires_grad=True)
    array_before = w.data
    (w * w).sum().backward()
    same = w
    with tg.no_grad():
        w -= 0.1 * w.grad
    assert w is same and w.data is array_before  # the parameter itself changed
    assert w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.data, [0.8, -1.6])
    wt = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    (wt * wt).sum().backward()
    with torch.no_grad():
        wt -= 0.1 * wt.grad
    np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-15)
    # and the next step's gradient is taken at the new value
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * np.array([0.8, -1.6]))


@pytest.mark.parametrize(
    "step",
    [
        lambda w: w.__iadd__(1),
        lambda w: w.__isub__(1),
        lambda w: w.__imul__(2),
        lambda w: w.__itruediv__(2),
        lambda w: w.add_(1),
        lambda w: w.mul_(2),
        lambda w: w.zero_(),
        lambda w: w.fill_(3.0),
        lambda w: w.copy_(np.zeros(2)),
        lambda w: w.clamp_(0.0, 1.0),
    ],
    ids=["+=", "-=", "*=", "/=", "add_", "mul_", "zero_", "fill_", "copy_", "clamp_"],
)
def test_in_place_on_a_leaf_requiring_grad_is_refused_as_in_torch(step) -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                       "an in-place operation"):  # fmt: skip
        step(w)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # untouched
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        wt += 1


def test_plus_equal_on_a_leaf_requiring_grad_is_refused() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\+=: a leaf Variable that requires grad"):
        t += 1


def test_in_place_allowed_under_no_grad_and_outside_graphs() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        w += 1
        w *= 2
        w.clamp_(max=5.0)
    np.testing.assert_array_equal(w.data, [4.0, 5.0])
    c = Tensor([1.0, 2.0])  # no grad: in place anywhere, as in PyTorch
    c += 1
    c.div_(2)
    c.sub_(np.array([1.0, 1.0]), alpha=0.5)
    np.testing.assert_array_equal(c.data, [0.5, 1.0])
    assert c.version == 3


def test_in_place_on_a_graph_tensor_works_in_grad_mode_as_pytorch() -> None:
    # (refused before issue 19; PyTorch records it, and so do we now)
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h *= 3
    h.sum().backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    ht = xt * 2
    ht *= 3
    ht.sum().backward()
    np.testing.assert_array_equal(h.data, ht.detach().numpy())
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_version_check_detects_a_saved_value_changed_in_place() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = x * w  # mul saves w for x's gradient
    with tg.no_grad():
        w -= 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation: mul saved its "
                       r"input of shape \(2,\)"):  # fmt: skip
        y.sum().backward()
    assert x.grad is None  # no wrong gradient was stored
    # PyTorch's message, for comparison
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([3.0, 4.0], requires_grad=True)
    yt = xt * wt
    with torch.no_grad():
        wt -= 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        yt.sum().backward()


def test_an_optimizer_step_counts_as_an_in_place_change() -> None:
    # A graph that saved a parameter before opt.step() refuses to backpropagate through
    # its old value (as PyTorch); one built after the step is fine.  Each step of each
    # optimizer holding a tensor bumps its version.
    from tinygrad_bp import optim

    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    b = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w, b], lr=0.1)
    ((w * w).sum() + b.sum()).backward()
    stale = (x * w).sum()  # mul saves w
    opt.step()
    assert (w.version, b.version, x.version) == (1, 1, 0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation: mul saved its "
                       r"input of shape \(2,\) \(float64\).*\(version 1\)"):  # fmt: skip
        stale.backward()
    assert x.grad is None
    opt.step()
    (x * w).sum().backward()
    np.testing.assert_allclose(x.grad, w.data)
    optim.SGD([w], lr=0.1).step()  # a second optimizer over w
    assert (w.version, b.version) == (3, 2)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([3.0, 4.0], requires_grad=True)
    (wt * wt).sum().backward()
    stale_t = (xt * wt).sum()
    torch.optim.SGD([wt], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        stale_t.backward()


def test_version_check_ignores_values_not_saved() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = x + w  # add saves nothing: changing w afterwards leaves its gradient right
    with tg.no_grad():
        w -= 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_change_before_the_forward_is_fine() -> None:
    w = Tensor([3.0, 4.0], requires_grad=True)
    with tg.no_grad():
        w -= 1
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [4.0, 6.0])


# ---------------------------------------------------------------- silent wrong values
def test_integer_tensor_to_a_fractional_power_is_float() -> None:
    for t in (Tensor(np.array([4, 9])), Tensor([4, 9], dtype=np.int64)):
        r = t**0.5
        assert r.dtype.kind == "f"
        np.testing.assert_array_equal(r.data, [2.0, 3.0])
    assert (torch.tensor([4, 9]) ** 0.5).tolist() == [2.0, 3.0]
    r = Tensor([2, 3], dtype=np.int64) ** 2  # an integer power of integers stays integer
    assert r.dtype == np.int64 and r.tolist() == [4, 9]
    assert (torch.tensor([2, 3]) ** 2).dtype == torch.int64
    with pytest.raises(RuntimeError, match="negative integer powers"):
        Tensor([2, 4], dtype=np.int64) ** -1  # refused, as PyTorch refuses it (issue 20)
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.tensor([2, 4]) ** -1
    r = Tensor([2, 4], dtype=np.int64) ** -1.0  # a float power: float, never truncated
    np.testing.assert_array_equal(r.data, [0.5, 0.25])


def test_cross_entropy_on_integer_logits_is_refused() -> None:
    z = Tensor([[1, 2, 3], [3, 1, 0]], dtype=np.int64)
    with pytest.raises(TypeError, match="cross_entropy: logits must be floating.*int64"):
        F.cross_entropy(z, np.array([0, 2]))
    with pytest.raises(RuntimeError):  # PyTorch refuses too
        torch.nn.functional.cross_entropy(
            torch.tensor([[1, 2, 3], [3, 1, 0]]), torch.tensor([0, 2])
        )


def test_pow_zero_has_zero_gradient_at_zero() -> None:
    a = np.array([0.0, 1.5, -2.0])
    x = Tensor(a, requires_grad=True)
    (x**0).sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    (xt**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_tensor_power_gradients_at_zero_match_torch() -> None:
    a, b = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0, 0.0])
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (x**y).sum().backward()
    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (xt**yt).sum().backward()
    assert np.isfinite(x.grad).all() and np.isfinite(y.grad).all()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    np.testing.assert_array_equal(y.grad, yt.grad.numpy())


def test_polynomial_has_a_finite_gradient_at_zero() -> None:
    a = np.array([0.0, 1.0, -0.5])
    x = Tensor(a, requires_grad=True)
    p = sum(x**k for k in range(5))  # 1 + x + x² + x³ + x⁴
    p.sum().backward()
    np.testing.assert_allclose(x.grad, 1 + 2 * a + 3 * a**2 + 4 * a**3, rtol=1e-15)
    assert x.grad[0] == 1.0
    xt = torch.tensor(a, requires_grad=True)
    sum(xt**k for k in range(5)).sum().backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    (d1,) = tg.grad(
        sum(Tensor(0.0, requires_grad=True) ** k for k in range(3)), [x], allow_unused=True
    )
    assert d1 is None  # (an unrelated input: no gradient, no NaN)


def test_second_derivative_of_a_polynomial_at_zero() -> None:
    x = Tensor([0.0, 1.0], requires_grad=True)
    (d1,) = tg.grad(sum(x**k for k in range(4)).sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x)
    np.testing.assert_array_equal(d2.data, [2.0, 2.0 + 6.0])  # 2 + 6x


def test_boolean_mask_tensor_selects_with_gradient() -> None:
    a = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    mask = a > 0
    x = Tensor(a, requires_grad=True)
    m = Tensor(mask)
    assert m.dtype == np.bool_  # a boolean array stays a mask
    sel = x[m]
    np.testing.assert_array_equal(sel.data, [1.0, 3.0, 5.0])
    (sel * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    xt = torch.tensor(a, requires_grad=True)
    (xt[torch.tensor(mask)] * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    np.testing.assert_array_equal(x[x > 0].data, sel.data)  # a comparison as the mask


def test_mse_loss_checks_a_list_targets_shape() -> None:
    pred = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    # a broadcasting target: PyTorch warns and broadcasts (issue 20), and so does mse_loss
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(3, 1\)"):
        got = F.mse_loss(pred, [[1.0], [2.0], [3.0]])
    with pytest.warns(UserWarning, match="target size"):
        want = torch.nn.functional.mse_loss(torch.tensor([1.0, 2.0, 3.0]), torch.ones(3, 1))
    want = torch.nn.functional.mse_loss(
        torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
        torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64),
    )
    assert got.item() == pytest.approx(want.item())  # 1.333, as PyTorch
    with pytest.raises(ValueError, match=r"mse_loss: target shape \(2,\)"):
        F.mse_loss(pred, (1.0, 2.0))
    with pytest.raises(ValueError, match=r"half_squared_error: target shape \(3, 1\)"):
        F.half_squared_error(pred, [[1.0], [2.0], [3.0]])
    loss = F.mse_loss(pred, [1.0, 2.0, 5.0])  # the right shape still works
    assert loss.item() == pytest.approx(4.0 / 3.0)


def test_zero_d_tensor_refuses_iteration() -> None:
    t = Tensor(3.0)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(t)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        sum(t)
    with pytest.raises(TypeError):  # as PyTorch
        list(torch.tensor(3.0))
    assert [v.item() for v in Tensor([1.0, 2.0])] == [1.0, 2.0]  # 1-d iterates rows
    assert sum(Tensor([1.0, 2.0])).item() == 3.0


def test_np_array_copies_and_np_asarray_shares() -> None:
    t = Tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 9.0
    np.testing.assert_array_equal(t.data, [1.0, 2.0])  # a copy
    b = np.asarray(t)
    b[1] = 7.0
    np.testing.assert_array_equal(t.data, [1.0, 7.0])  # shared, as torch's .numpy()
    c = np.array(t, dtype=np.float32)
    assert c.dtype == np.float32 and not np.shares_memory(c, t.data)


def test_in_is_elementwise_membership() -> None:
    t = Tensor([[0.0, 1.5], [2.0, -1.0]])
    assert 0 in t and 1.5 in t and -1 in t
    assert 5 not in t and 0.5 not in t
    assert (0 in torch.tensor([[0.0, 1.5]])) is True


# ---------------------------------------------------------------- PyTorch spellings
def test_dim_and_keepdim_are_accepted() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    t, tt = Tensor(a), torch.tensor(a)
    pairs = [
        (t.sum(dim=1, keepdim=True), tt.sum(dim=1, keepdim=True)),
        (t.mean(dim=(0, 2)), tt.mean(dim=(0, 2))),
        (t.amax(dim=2, keepdim=True), tt.amax(dim=2, keepdim=True)),
        (t.max(dim=2, keepdim=True).values, tt.max(dim=2, keepdim=True).values),
        (t.amin(dim=0), tt.amin(dim=0)),
        (t.min(dim=0).values, tt.min(dim=0).values),
        (t.prod(dim=1), tt.prod(dim=1)),
        (t.logsumexp(dim=1), tt.logsumexp(dim=1)),
        (t.var(dim=1, unbiased=True), tt.var(dim=1)),
        (t.std(dim=2, correction=0), tt.std(dim=2, correction=0)),
        (t.cumsum(dim=2), tt.cumsum(dim=2)),
        (t.softmax(dim=0), tt.softmax(dim=0)),
        (t.log_softmax(dim=1), tt.log_softmax(dim=1)),
        (t.squeeze(dim=0), tt.squeeze(dim=0)),
        (t.flip(dims=(0, 2)), tt.flip(dims=(0, 2))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-13)
    np.testing.assert_array_equal(t.argmax(dim=1), tt.argmax(dim=1).numpy())
    np.testing.assert_array_equal(t.argmin(dim=2), tt.argmin(dim=2).numpy())
    assert [p.shape for p in t.split(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    with pytest.raises(TypeError, match="sum: got both axis=1 and dim=2"):
        t.sum(axis=1, dim=2)


def test_backward_takes_gradient_as_well_as_grad() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(gradient=np.array([1.0, 0.5]))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    x.grad = None
    (x * x).backward(gradient=Tensor([0.5, 1.0]))
    np.testing.assert_array_equal(x.grad, [1.0, 4.0])
    with pytest.raises(TypeError, match="backward: pass grad or gradient"):
        (x * x).backward([1.0, 1.0], gradient=[1.0, 1.0])


def test_permute_swapaxes_and_numpys_transpose() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    t, tt = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, tt.permute(2, 0, 1).detach().numpy())
    np.testing.assert_array_equal(t.permute((1, 2, 0)).data, tt.permute((1, 2, 0)).detach().numpy())
    np.testing.assert_array_equal(t.swapaxes(0, 2).data, tt.transpose(0, 2).detach().numpy())
    np.testing.assert_array_equal(t.swapdims(1, -1).data, tt.swapdims(1, -1).detach().numpy())
    # NumPy's transpose(*axes) is a full permutation; torch's transpose(0, 2) is swapaxes
    np.testing.assert_array_equal(t.transpose(1, 0, 2).data, a.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.transpose().data, a.T)
    with pytest.raises(ValueError, match="transpose.*use swapaxes"):
        t.transpose(0, 2)
    assert "swapaxes" in Tensor.transpose.__doc__
    seed = np.arange(24.0).reshape(4, 3, 2)
    t.swapaxes(0, 2).backward(seed)
    tt.transpose(0, 2).backward(torch.tensor(seed))
    np.testing.assert_array_equal(t.grad, tt.grad.numpy())


def test_factories_match_torch() -> None:
    assert tg.tensor([1, 2]).dtype == np.float64  # (PyTorch: int64; see Coming from PyTorch)
    assert tg.tensor([1.0], requires_grad=True).requires_grad
    assert tg.tensor([1, 2], dtype=np.int64).dtype == np.int64
    np.testing.assert_array_equal(tg.zeros(2, 3).data, torch.zeros(2, 3).numpy())
    np.testing.assert_array_equal(tg.zeros((2, 3)).data, np.zeros((2, 3)))
    np.testing.assert_array_equal(tg.ones(4).data, np.ones(4))
    np.testing.assert_array_equal(tg.full((2,), 7.0).data, [7.0, 7.0])
    base = Tensor(np.ones((2, 2), np.float32))
    assert tg.zeros_like(base).dtype == np.float32 and tg.zeros_like(base).shape == (2, 2)
    np.testing.assert_array_equal(tg.ones_like(base).data, np.ones((2, 2)))
    ar = tg.arange(5)
    assert ar.dtype == np.int64 and ar.tolist() == torch.arange(5).tolist()
    np.testing.assert_allclose(tg.arange(0.0, 1.0, 0.25).data, torch.arange(0.0, 1.0, 0.25))
    np.testing.assert_allclose(tg.linspace(0, 1, 5).data, torch.linspace(0, 1, 5).numpy())
    assert tg.randn(3, 2).shape == (3, 2) and tg.rand(4).shape == (4,)
    assert tg.randn(2, requires_grad=True).requires_grad
    tg.manual_seed(0)
    a = tg.randn(5)
    tg.manual_seed(0)
    b = tg.randn(5)
    np.testing.assert_array_equal(a.data, b.data)
    r = tg.rand(1000)
    assert 0.0 <= r.data.min() and r.data.max() < 1.0


def test_clone_tolist_numel_float_double_view() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = Tensor(a, requires_grad=True)
    c = x.clone()
    assert c.op == "clone" and not np.shares_memory(c.data, x.data)
    (c * c).sum().backward()  # clone stays in the graph
    np.testing.assert_array_equal(x.grad, 2 * a)
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]] == torch.tensor(a).tolist()
    assert x.numel() == 4 == torch.tensor(a).numel()
    f = x.float()
    assert f.dtype == np.float32 and f.requires_grad
    assert x.double() is x  # already float64
    assert f.double().dtype == np.float64
    v = x.view(4)
    assert v.shape == (4,) and x.view(-1, 1).shape == (4, 1)
    x.grad = None
    (v * np.arange(4.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0], [2.0, 3.0]])
    assert float(Tensor(2.5)) == 2.5 and Tensor([[7.0]]).item() == 7.0


def test_two_axis_transpose_of_a_matrix_is_refused_not_silently_the_identity() -> None:
    """``m.transpose(0, 1)`` is the identity in NumPy and a swap in PyTorch; giving either
    answer would silently surprise someone, so it is refused with both spellings named."""
    m = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for a, b in ((0, 1), (0, -1), (-2, 1)):
        with pytest.raises(ValueError, match=r"transpose: transpose\(.*identity in NumPy.*swaps"):
            m.transpose(a, b)
    mt = torch.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(m.swapaxes(0, 1).data, mt.transpose(0, 1).numpy())
    np.testing.assert_array_equal(m.T.data, mt.T.numpy())
    assert m.transpose(1, 0).shape == (3, 2)  # the same in both libraries
    assert m.transpose((0, 1)).shape == (2, 3)  # the identity, asked for explicitly
    assert m.permute(0, 1).shape == (2, 3) == tuple(mt.permute(0, 1).shape)
    assert m.permute(1, 0).shape == (3, 2)


def test_dim_everywhere_axis_is() -> None:
    """``dim=`` (and ``keepdim=``, ``start_dim=``) beside ``axis=`` in the functions and
    methods PyTorch users call with it: cat, stack, split, softmax, log_softmax, gather,
    unsqueeze, flatten, argmax/argmin; and ``expand(*sizes)``."""
    a = np.arange(6.0).reshape(2, 3)
    t, tt = Tensor(a), torch.tensor(a)
    idx = np.array([[0, 2], [1, 1]])
    pairs = [
        (tg.cat([t, t], dim=1), torch.cat([tt, tt], dim=1)),
        (tg.stack([t, t], dim=2), torch.stack([tt, tt], dim=2)),
        (F.softmax(t, dim=0), torch.softmax(tt, dim=0)),
        (F.log_softmax(t, dim=1), torch.log_softmax(tt, dim=1)),
        (t.gather(dim=1, index=idx), tt.gather(dim=1, index=torch.tensor(idx))),
        (t.unsqueeze(dim=1), tt.unsqueeze(dim=1)),
        (Tensor(np.ones((2, 3, 4))).flatten(start_dim=1), torch.ones(2, 3, 4).flatten(start_dim=1)),
        (t.expand(4, 2, 3), tt.expand(4, 2, 3)),
        (Tensor(np.ones((3, 1))).expand(-1, 4), torch.ones(3, 1).expand(-1, 4)),
        (tg.ops.split(t, 1, dim=1)[2], torch.split(tt, 1, dim=1)[2]),
    ]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(t.argmax(dim=1, keepdim=True), tt.argmax(dim=1, keepdim=True))
    np.testing.assert_array_equal(t.argmin(dim=0, keepdim=True), tt.argmin(dim=0, keepdim=True))
