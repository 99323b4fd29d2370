"""Invariants every op keeps (read off the op table) and the engine's PyTorch semantics:
grad mode, detach, requires_grad propagation, accumulation, seeds, freed graphs."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor

from . import op_cases
from .op_cases import CASES, TG, OpCase, seed_for

_CONSTANTS = {k: v for k, v in vars(op_cases).items() if isinstance(v, np.ndarray)}


def _build(c: OpCase, arrays: list[np.ndarray]) -> tuple[list[Tensor], Tensor]:
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    return xs, c.fn(TG, *xs)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_nothing_is_mutated_and_grads_are_well_formed(c: OpCase) -> None:
    arrays = c.inputs()
    seed = seed_for(c, arrays)
    consts = {k: v.copy() for k, v in _CONSTANTS.items()}
    xs, out = _build(c, arrays)
    before = [x.data.copy() for x in xs]
    out_before = out.data.copy()
    seed_before = None if seed is None else seed.copy()
    assert type(out.data) is np.ndarray, f"{c.name}: .data is {type(out.data).__name__}"
    out.backward(seed)
    for x, b in zip(xs, before):
        np.testing.assert_array_equal(x.data, b)  # inputs not mutated
    np.testing.assert_array_equal(out.data, out_before)  # nor the forward value
    if seed is not None:
        np.testing.assert_array_equal(seed, seed_before)  # nor the seed
    for k, v in consts.items():
        np.testing.assert_array_equal(_CONSTANTS[k], v)  # nor constant operands
    for i, x in enumerate(xs):
        assert type(x.grad) is np.ndarray, f"input {i}: .grad is {type(x.grad).__name__}"
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        # each leaf owns its gradient: no memory shared with data, seeds or other grads
        others = [y.data for y in xs] + [out.data] + [y.grad for y in xs if y is not x]
        if seed is not None:
            others.append(seed)
        assert not any(np.shares_memory(x.grad, o) for o in others), f"input {i} aliases"


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_two_backwards_double_the_gradient(c: OpCase) -> None:
    arrays = c.inputs()
    seed = seed_for(c, arrays)
    xs, out = _build(c, arrays)
    out.backward(seed, retain_graph=True)
    first = [x.grad.copy() for x in xs]
    out.backward(seed, retain_graph=True)  # the same graph again
    for x, g in zip(xs, first):
        np.testing.assert_array_equal(x.grad, 2 * g)
    out2 = c.fn(TG, *xs)  # a rebuilt graph on the same leaves
    out2.backward(seed)
    for x, g in zip(xs, first):
        np.testing.assert_array_equal(x.grad, 3 * g)


# ---------------------------------------------------------------- grad mode
def test_no_grad_records_nothing_and_nests() -> None:
    w = Tensor([1.0, -2.0], requires_grad=True)
    with tg.no_grad():
        y = w * 3 + 1
        with tg.no_grad():
            z = y.exp()
        assert not tg.is_grad_enabled()  # the inner block's exit did not turn it back on
        u = (w * w).sum()
        with tg.enable_grad():
            v = w * 2
    assert tg.is_grad_enabled()
    for t in (y, z, u):
        assert t.parents == () and not t.requires_grad and t.is_leaf
    assert v.parents == (w, v.parents[1]) and v.requires_grad  # enable_grad records again
    np.testing.assert_array_equal(y.data, [4.0, -5.0])


def test_no_grad_restores_mode_after_an_exception() -> None:
    with pytest.raises(KeyError), tg.no_grad():
        raise KeyError("raised inside no_grad")
    assert tg.is_grad_enabled()


def test_backward_under_no_grad_still_computes_gradients() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with tg.no_grad():
        y.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_detach_cuts_the_graph() -> None:
    x = Tensor([1.5, -2.0], requires_grad=True)
    d = x.detach()
    assert d.parents == () and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, x.data)  # shares data, like torch.Tensor.detach
    y = (x * d).sum()  # d/dx of x * const = const
    y.backward()
    np.testing.assert_array_equal(x.grad, x.data)


def test_requires_grad_propagates() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    assert not (b * 2).requires_grad and (b * 2).parents == ()
    assert (a * b).requires_grad and (b + a).requires_grad
    assert (b + a).parents == (b, a)
    assert not b.exp().requires_grad
    c = a.detach() + b
    assert not c.requires_grad
    assert not Tensor([1.0]).requires_grad and a.is_leaf and not (a * b).is_leaf


def test_only_leaves_requiring_grad_get_grad() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    h = a * b
    (h * h).sum().backward()
    assert b.grad is None and h.grad is None  # non-leaf grads are not kept (PyTorch)
    np.testing.assert_allclose(a.grad, 2 * a.data * b.data**2)


def test_leaf_grad_accumulates_across_backward_calls() -> None:
    x = Tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data + 3)
    x.grad = None  # the user clears it, as in PyTorch
    x.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))


def test_one_element_non_0d_output_seeds_with_one() -> None:
    x = Tensor([[2.0]], requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [[4.0]])


# ---------------------------------------------------------------- seeds
def test_backward_on_non_scalar_without_grad_raises() -> None:
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward.*one-element.*shape \(2,\)"):
        y.backward()


def test_backward_with_wrong_shape_grad_raises() -> None:
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"backward.*\(2, 3\).*got \(3, 2\)"):
        y.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"backward.*\(2, 3\).*got \(3,\)"):
        y.backward(np.ones(3))  # broadcastable is still not the tensor's shape


def test_seed_may_be_a_tensor_or_list_and_is_not_mutated() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    seed = Tensor([0.5, -1.0])
    before = seed.data.copy()
    (x + 0).backward(seed)
    (x + 0).backward([0.5, -1.0])
    np.testing.assert_array_equal(seed.data, before)
    np.testing.assert_array_equal(x.grad, 2 * before)
    assert not np.shares_memory(x.grad, seed.data)


def test_backward_of_leaf_itself() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([3.0, 4.0])
    x.backward(seed)
    np.testing.assert_array_equal(x.grad, seed)
    assert not np.shares_memory(x.grad, seed)


# ---------------------------------------------------------------- freed graphs
def test_backward_twice_through_a_freed_graph_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_backward_through_a_freed_inner_node_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    (h * 2).sum().backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        (h * 3).sum().backward()


def test_retain_graph_keeps_it_usable() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    (h * 2).sum().backward(retain_graph=True)
    (h * 3).sum().backward()
    np.testing.assert_allclose(x.grad, 5 * np.exp(x.data), rtol=1e-15)


def test_retain_grad_keeps_an_inner_gradient_like_torch() -> None:
    import torch

    a = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = Tensor(a, requires_grad=True)
    h = x.tanh()
    h.retain_grad()
    (h * h * 3).sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    ht = xt.tanh()
    ht.retain_grad()
    (ht * ht * 3).sum().backward()
    assert type(h.grad) is np.ndarray
    np.testing.assert_allclose(h.grad, ht.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-14)


def test_grad_mode_is_per_thread() -> None:
    import threading

    seen = []

    def other() -> None:
        seen.append(tg.is_grad_enabled())
        seen.append((Tensor([1.0], requires_grad=True) * 2).requires_grad)

    with tg.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [True, True]
