"""Views, in-place changes and saved values, as PyTorch has them (issue 19).

Every example of the issue against PyTorch (values, gradients, second derivatives, the
error where PyTorch errors and none where it does not), Hypothesis-drawn chains of views
and in-place ops against PyTorch, the named-saved-values contract, and bad input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp import Tensor, nn, optim
from tinygrad_bp.tensor import OUT, make_node

torch.set_default_dtype(torch.float64)


def both(fn: Any, *arrays: Any, grad: bool = True) -> tuple[Any, Any]:
    """Run ``fn(lib, *tensors)`` on both engines; return (ours, theirs) as
    (value, [grads]) with NumPy arrays."""
    ours = [Tensor(np.array(a, dtype=np.float64), requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=grad) for a in arrays]
    out_o = fn(tg, *ours)
    out_t = fn(torch, *theirs)
    if grad:
        out_o.sum().backward()
        out_t.sum().backward()
    go = [None if t.grad is None else np.asarray(t.grad) for t in ours]
    gt = [None if t.grad is None else t.grad.numpy() for t in theirs]
    return (out_o.data, go), (out_t.detach().numpy(), gt)


def same(fn: Any, *arrays: Any, grad: bool = True) -> None:
    (vo, go), (vt, gt) = both(fn, *arrays, grad=grad)
    np.testing.assert_allclose(vo, vt, rtol=1e-12, atol=1e-12)
    for a, b in zip(go, gt):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the examples
def test_a_slice_is_a_view_and_an_in_place_change_shows_in_the_base() -> None:
    x = Tensor([1.0, 2.0, 3.0])
    v = x[0:2]
    v += 1
    xt = torch.tensor([1.0, 2.0, 3.0])
    vt = xt[0:2]
    vt += 1
    np.testing.assert_array_equal(x.data, xt.numpy())
    assert x.version == v.version == xt._version == 1


def test_slice_in_place_inside_a_graph_matches_pytorch() -> None:
    def f(lib: Any, x: Any) -> Any:
        h = x * 2
        v = h[0:2]
        v += 1
        return h * h

    same(f, [1.0, 2.0, 3.0])


def test_embedding_row_zeroed_under_no_grad() -> None:
    emb = nn.Embedding(5, 3)
    with tg.no_grad():
        emb.weight[0].zero_()
    np.testing.assert_array_equal(emb.weight.data[0], 0.0)
    assert emb.weight.data[1:].any()


def test_setitem_works_differentiably() -> None:
    def f(lib: Any, x: Any, v: Any) -> Any:
        h = x * 1
        h[0] = 5
        h[1:3] = v * v
        return h * x

    same(f, [1.0, 2.0, 3.0, 4.0], [0.5, -2.0])


def test_setitem_with_advanced_index_and_broadcast_value() -> None:
    def f(lib: Any, x: Any, v: Any) -> Any:
        h = x * 2
        idx = [0, 2] if lib is tg else torch.tensor([0, 2])
        h[idx] = v  # (1, 3) broadcast into rows 0 and 2
        return h.sin()

    same(f, np.arange(12.0).reshape(4, 3) / 10, [[0.1, 0.2, 0.3]])


def test_residual_augmented_assignment() -> None:
    def f(lib: Any, x: Any, w: Any) -> Any:
        h = x @ w
        h = h + (h.relu() @ w).tanh()
        h += (h.relu() @ w).tanh()  # refused before; PyTorch allows it (h is not saved)
        return h

    rng = np.random.default_rng(0)
    same(f, rng.standard_normal((2, 3)), rng.standard_normal((3, 3)))


def test_residual_in_place_where_f_saved_h_is_refused_as_pytorch() -> None:
    def f(lib: Any, x: Any, w: Any) -> Any:
        h = x @ w
        h += (h @ w).tanh()  # h @ w saved h (w requires grad): both refuse at backward
        return h

    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        both(f, rng.standard_normal((2, 3)), rng.standard_normal((3, 3)))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        both(lambda lib, x, w: f(torch, x, w), rng.standard_normal((2, 3)),
             rng.standard_normal((3, 3)))  # fmt: skip


def test_micrograd_more_ops_including_c_plus_equals_c_plus_1() -> None:
    # micrograd's test_more_ops, on both engines (c += c + 1 was refused here)
    def run(lib: Any) -> tuple[float, float, float]:
        a = (tg.Tensor if lib is tg else torch.tensor)(-4.0, requires_grad=True)
        b = (tg.Tensor if lib is tg else torch.tensor)(2.0, requires_grad=True)
        c = a + b
        d = a * b + b**3
        c += c + 1
        c += 1 + c + (-a)
        d += d * 2 + (b + a).relu()
        d += 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        g += 10.0 / f
        g.backward()
        return float(g.item()), float(a.grad), float(b.grad)

    ours, theirs = run(tg), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(ours, (24.70408163265306, 138.83381924198252, 645.5772594752186))


@pytest.mark.parametrize("how", ["detach", "view", "T", "reshape", "getitem"])
def test_a_saved_leaf_changed_through_a_view_is_refused(how: str) -> None:
    def change(lib: Any, x: Any) -> None:
        with tg.no_grad() if lib is tg else torch.no_grad():
            v = {
                "detach": lambda: x.detach(),
                "view": lambda: x.view(-1),
                "T": lambda: x.reshape(1, 2).T,
                "reshape": lambda: x.reshape(2, 1),
                "getitem": lambda: x[0:1],
            }[how]()
            v.mul_(2)

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    change(tg, x)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = (xt * xt).sum()
    change(torch, xt)
    np.testing.assert_array_equal(x.data, xt.detach().numpy())
    assert x.version == xt._version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        yt.backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation: mul saved"):
        y.backward()
    assert x.grad is None


def test_second_derivative_through_a_detached_factor_is_zero() -> None:
    # d/dx (x·stop(x)) = stop(x): a constant, whose derivative is 0 (it was [1, 1] here)
    x = Tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.grad((x * x.detach()).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [1.0, 2.0])
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    (gt,) = torch.autograd.grad((xt * xt.detach()).sum(), xt, create_graph=True)
    assert g.requires_grad == gt.requires_grad is False  # no graph left: the derivative is 0
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.grad(g.sum(), x)
    # beside a term that does depend on x, the second derivative is that term's alone
    for lib in (tg, torch):
        v = (tg.Tensor if lib is tg else torch.tensor)([1.0, 2.0], requires_grad=True)
        grad = tg.grad if lib is tg else torch.autograd.grad
        (g1,) = grad((v * v.detach() + v**3).sum(), v, create_graph=True)
        (g2,) = grad(g1.sum(), v)
        np.testing.assert_allclose(np.asarray(g2.data if lib is tg else g2), [6.0, 12.0])


def test_no_error_where_nothing_needed_the_changed_value() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    with tg.no_grad():
        x += 1
    y.sum().backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = xt * 3.0
    with torch.no_grad():
        xt += 1
    yt.sum().backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


@pytest.mark.parametrize("layers", [1, 2])
def test_linear_retain_graph_step_backward_as_pytorch(layers: int) -> None:
    # PyTorch refuses when a layer's weight was saved (its input requires grad: layer 2),
    # and backpropagates when none was (a single layer on data)
    tg.manual_seed(0)
    torch.manual_seed(0)
    m = nn.Sequential(*[nn.Linear(3, 3) for _ in range(layers)])
    mt = torch.nn.Sequential(*[torch.nn.Linear(3, 3) for _ in range(layers)])
    x = np.random.default_rng(1).standard_normal((4, 3))
    opt, optt = optim.SGD(m.parameters(), lr=0.1), torch.optim.SGD(mt.parameters(), lr=0.1)
    loss = (m(Tensor(x)) ** 2).sum()
    losst = (mt(torch.tensor(x)) ** 2).sum()
    loss.backward(retain_graph=True)
    losst.backward(retain_graph=True)
    opt.step()
    optt.step()
    if layers == 1:
        loss.backward()
        losst.backward()
        return
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        losst.backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation: matmul saved"):
        loss.backward()


# ---------------------------------------------------------------- views share memory
VIEWS = {
    "getitem": lambda t: t[1],
    "slice-step": lambda t: t[:, ::2],
    "view": lambda t: t.view(6),
    "reshape": lambda t: t.reshape(3, 2),
    "T": lambda t: t.T,
    "permute": lambda t: t.permute(1, 0),
    "swapaxes": lambda t: t.swapaxes(0, 1),
    "unsqueeze": lambda t: t.unsqueeze(0),
    "squeeze": lambda t: t.unsqueeze(1).squeeze(1),
    "detach": lambda t: t.detach(),
    "flatten": lambda t: t.flatten(),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_share_memory_and_version(name: str) -> None:
    fn = VIEWS[name]
    a = np.arange(6.0).reshape(2, 3)
    x, xt = Tensor(a), torch.tensor(a)
    v, vt = fn(x), fn(xt)
    v.mul_(10)
    vt.mul_(10)
    np.testing.assert_array_equal(x.data, xt.numpy())
    np.testing.assert_array_equal(v.data, vt.numpy())
    x.add_(1)
    xt.add_(1)
    np.testing.assert_array_equal(v.data, vt.numpy())
    assert v.version == x.version == xt._version == 2


def test_expand_shares_memory_and_refuses_a_write() -> None:
    x = Tensor([1.0, 2.0])
    e = x.expand(3, 2)
    x.add_(1)
    np.testing.assert_array_equal(e.data, [[2.0, 3.0]] * 3)
    with pytest.raises(RuntimeError, match="add_: unsupported operation: more than one element"):
        e.add_(1)
    with pytest.raises(RuntimeError, match="more than one element"):
        torch.tensor([1.0, 2.0]).expand(3, 2).add_(1)


def test_view_refuses_where_a_copy_is_needed_and_reshape_copies() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError, match="view: view size is not compatible.*reshape"):
        x.T.view(6)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.arange(6.0).reshape(2, 3).T.view(6)
    r = x.T.reshape(6)  # a copy: not a view
    r.add_(100)
    np.testing.assert_array_equal(x.data, np.arange(6.0).reshape(2, 3))


def test_advanced_indexing_copies_as_in_pytorch() -> None:
    x = Tensor([1.0, 2.0, 3.0])
    c = x[[0, 1]]
    c.add_(10)
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- in place in a graph
INPLACE = {
    "add_": lambda lib, h, w: h.add_(w, alpha=2.0),
    "sub_": lambda lib, h, w: h.sub_(w),
    "mul_": lambda lib, h, w: h.mul_(w),
    "div_": lambda lib, h, w: h.div_(w + 3),
    "zero_": lambda lib, h, w: h.zero_(),
    "fill_": lambda lib, h, w: h.fill_(1.5),
    "clamp_": lambda lib, h, w: h.clamp_(-0.5, 0.7),
    "copy_": lambda lib, h, w: h.copy_(w * w),
    "iadd": lambda lib, h, w: h.__iadd__(w),
    "isub": lambda lib, h, w: h.__isub__(w),
    "imul": lambda lib, h, w: h.__imul__(w),
    "idiv": lambda lib, h, w: h.__itruediv__(w + 3),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
@pytest.mark.parametrize("where", ["node", "view", "view-of-view"])
def test_in_place_ops_in_a_graph_match_pytorch(name: str, where: str) -> None:
    op = INPLACE[name]

    def f(lib: Any, x: Any, w: Any) -> Any:
        h = x.sin()
        if where == "node":
            op(lib, h, w)
        elif where == "view":
            op(lib, h[1], w[0])
        else:
            op(lib, h.T[1:, 0], w[0, :1])
        return h * x

    rng = np.random.default_rng(2)
    same(f, rng.standard_normal((3, 2)), rng.standard_normal((3, 2)) if where == "node"
         else rng.standard_normal((2, 2)))  # fmt: skip


@pytest.mark.parametrize("name", ["mul_", "div_", "copy_", "clamp_", "iadd"])
def test_second_derivatives_through_in_place_ops_match_pytorch(name: str) -> None:
    op = INPLACE[name]
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(4), rng.standard_normal(4)

    def run(lib: Any) -> list[Any]:
        mk = tg.Tensor if lib is tg else torch.tensor
        grad = tg.grad if lib is tg else torch.autograd.grad
        x, w = mk(a, requires_grad=True), mk(b, requires_grad=True)
        h = x.exp() * 1
        op(lib, h[1:], w[1:])
        y = (h * h * w).sum()
        gx, gw = grad(y, [x, w], create_graph=True)
        hx, hw = grad((gx * gx).sum() + gw.sum(), [x, w])
        return [np.asarray(t.data if lib is tg else t.detach().numpy()) for t in (gx, gw, hx, hw)]

    for o, t in zip(run(tg), run(torch)):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12)


def test_error_exactly_where_pytorch_errors() -> None:
    # exp saves its output: changing it in place breaks exp's backward
    for lib in (tg, torch):
        x = (tg.Tensor if lib is tg else torch.tensor)([1.0, 2.0], requires_grad=True)
        e = (x * 1).exp()
        e.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            e.sum().backward()
    # sin saves its input
    for lib in (tg, torch):
        x = (tg.Tensor if lib is tg else torch.tensor)([1.0, 2.0], requires_grad=True)
        h = x * 1
        s = h.sin()
        h.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            s.sum().backward()
    # ... and a product by a constant saves nothing of h: no error
    same(lambda lib, x: _times_two_then_add(x), [1.0, 2.0])


def _times_two_then_add(x: Any) -> Any:
    h = x * 1
    s = h * 2
    h.add_(1)
    return s + h


def test_stale_view_after_base_changed_sees_the_new_base() -> None:
    def f(lib: Any, x: Any) -> Any:
        h = x * 1
        v = h[1:]  # made before the change of h
        h.mul_(x)
        return v * v  # v now views the changed h, in the graph too

    same(f, [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- the other habits
def test_requires_grad_on_a_non_leaf_detach_in_place_and_grad_fn() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.requires_grad_() is y
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad_(False)
    assert x.grad_fn is None and y.grad_fn.name() == "mul"
    assert y.grad_fn.next_functions == ((None, 0), (None, 0))
    assert (y + 1).grad_fn.next_functions[0][0] == y.grad_fn
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        y[0:1].detach_()
    y.detach_()
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None


def test_backward_inputs_accumulates_only_there() -> None:
    x, w = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    (h * h).sum().backward(inputs=[x, h])
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    wt = torch.tensor([3.0, 4.0], requires_grad=True)
    ht = xt * wt
    (ht * ht).sum().backward(inputs=[xt, ht])
    assert w.grad is None and wt.grad is None
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    np.testing.assert_array_equal(h.grad, ht.grad.numpy())


def test_backward_twice_on_a_graph_that_saved_nothing_accumulates() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = (xt + 1).sum()
    yt.backward()
    yt.backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    z = (x * x).sum()  # saved x: refused the second time, as PyTorch
    z.backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()


# ---------------------------------------------------------------- saved values named
def test_a_user_primitive_saving_an_intermediate_is_refused_at_creation() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    inter = Tensor(x.data * x.data)  # an intermediate of the output's shape

    def backward(g: Any, s: Any) -> tuple[Any]:
        return (g * 2 * s,)

    with pytest.raises(TypeError, match="my_square: saved value 0 is a Tensor of shape \\(2,\\) "
                       "that is not one of its inputs.*Recompute"):  # fmt: skip
        make_node(inter.data.copy(), (x,), "my_square", backward, (inter,))
    ok = make_node(x.data * x.data, (x,), "my_square", lambda g, s: (g * 2 * s,), (x,))
    (gx,) = tg.grad(ok.sum(), x, create_graph=True)
    (gg,) = tg.grad(gx.sum(), x)
    np.testing.assert_array_equal(gg.data, [2.0, 2.0])  # right at second order
    out = make_node(np.exp(x.data), (x,), "my_exp", lambda g, o: (g * o,), (OUT,))
    (ge,) = tg.grad(out.sum(), x, create_graph=True)
    (gge,) = tg.grad(ge.sum(), x)
    np.testing.assert_allclose(gge.data, np.exp(x.data))


def test_function_saving_an_intermediate_is_refused_and_output_is_named() -> None:
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            s = x * x
            ctx.save_for_backward(s)
            return s * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (s,) = ctx.saved_tensors
            return g * 3 * s

    with pytest.raises(TypeError, match="Bad.forward: save_for_backward argument 0 is a Tensor"):
        Bad.apply(Tensor([1.0], requires_grad=True))

    class Exp(tg.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (out,) = ctx.saved_tensors
            return g * out

    x = Tensor([0.5, 1.0], requires_grad=True)
    (g,) = tg.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, np.exp(x.data))  # the output was differentiated


# ---------------------------------------------------------------- a training loop
def test_training_loop_with_zeroed_row_and_residual_in_place() -> None:
    rng = np.random.default_rng(4)
    idx = rng.integers(0, 6, size=(8,))
    target = rng.standard_normal((8, 4))

    e0, l0 = nn.Embedding(6, 4), nn.Linear(4, 4)
    start = [e0.weight.data.copy(), l0.weight.data.copy(), l0.bias.data.copy()]

    def train(lib: Any) -> list[float]:
        mod = nn if lib is tg else torch.nn
        emb, lin = mod.Embedding(6, 4), mod.Linear(4, 4)
        with tg.no_grad() if lib is tg else torch.no_grad():
            for p, a in zip((emb.weight, lin.weight, lin.bias), start):
                p.copy_(a if lib is tg else torch.tensor(a))
        params = list(emb.parameters()) + list(lin.parameters())
        opt = (optim if lib is tg else torch.optim).SGD(params, lr=0.05)
        losses = []
        ix = idx if lib is tg else torch.tensor(idx)
        tgt = Tensor(target) if lib is tg else torch.tensor(target)
        for _ in range(5):
            with tg.no_grad() if lib is tg else torch.no_grad():
                emb.weight[0].zero_()  # a padding row, PyTorch's habit
            h = emb(ix)
            h += lin(h.relu()).tanh()  # a residual, in place
            loss = ((h - tgt) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        return losses

    np.testing.assert_allclose(train(tg), train(torch), rtol=1e-10)


# ---------------------------------------------------------------- Hypothesis chains
STEPS = ["slice", "T", "reshape", "unsqueeze", "add_", "mul_", "setitem", "clamp_", "sin", "iadd"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(STEPS), min_size=1, max_size=6))
def test_drawn_chains_of_views_and_in_place_ops_match_pytorch(steps: list[str]) -> None:
    def f(lib: Any, x: Any, w: Any) -> Any:
        base = x * 1
        cur = base
        for s in steps:
            if s == "slice" and cur.shape[0] > 1:
                cur = cur[1:]
            elif s == "T" and cur.ndim == 2:
                cur = cur.T
            elif s == "reshape" and cur.ndim == 2 and cur.shape[0] * cur.shape[1] == 6:
                cur = cur.reshape(3, 2) if cur.shape == (2, 3) else cur
            elif s == "unsqueeze":
                cur = cur.unsqueeze(0)[0]
            elif s == "add_":
                cur.add_(w.sum())
            elif s == "mul_":
                cur.mul_(w.mean())
            elif s == "setitem":
                cur[0] = w[0, 0] * 2
            elif s == "clamp_":
                cur.clamp_(-1.0, 1.0)
            elif s == "sin":
                cur = cur.sin()
            elif s == "iadd":
                cur += 0.5
        return base * w + cur.sum()

    rng = np.random.default_rng(len(steps))
    same(f, rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))


# ---------------------------------------------------------------- bad input
def test_in_place_on_a_leaf_that_requires_grad_is_refused() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf Variable that requires grad is being "
                       "used in an in-place operation"):  # fmt: skip
        x.add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0:1].mul_(2)
    with pytest.raises(RuntimeError, match="setitem: a leaf Variable"):
        x[0] = 3.0
    with tg.no_grad():
        x[0] = 3.0  # as an optimizer would
    np.testing.assert_array_equal(x.data, [3.0, 2.0])


def test_setitem_wrong_shape_or_dtype() -> None:
    z = Tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match=r"setitem: shape mismatch: value tensor of shape "
                       r"\[3\] cannot be broadcast to indexing result of shape \[2\]"):  # fmt: skip
        z[0:2] = Tensor(np.ones(3))
    zi = Tensor(np.zeros(3, dtype=np.int64), dtype=np.int64)
    with pytest.raises(TypeError, match="setitem: a value of dtype float64 cannot be stored in "
                       "a tensor of dtype int64"):  # fmt: skip
        zi[0:2] = Tensor(np.ones(2))
    with pytest.raises(TypeError, match="setitem: expected numbers"):
        z[0] = np.array(["a"])


def test_view_created_under_no_grad_then_changed_with_grad_on() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True) * 1
    with tg.no_grad():
        v = x[0:1]
    with pytest.raises(RuntimeError, match="A view was created in no_grad mode"):
        v.add_(1)


def test_view_of_a_view_changed_after_its_base_was_freed() -> None:
    x = Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    h = x * 2
    w = h[1:][0:2]
    h.sum().backward()
    w += 1  # the change is recorded on the base's freed graph
    np.testing.assert_array_equal(h.data, [2.0, 5.0, 7.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        (h * 1).sum().backward()


# ---------------------------------------------------------------- the norms, every order
@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_norm_derivatives_to_third_order_against_the_written_out_formula(norm: str) -> None:
    # PyTorch's fused layer_norm is wrong at order 3; the formula written out in torch ops
    # is the oracle, and finite differences of our second derivatives a second one
    rng = np.random.default_rng(7)
    a, wv = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    eps = 1e-5

    def ours(x: Any) -> Any:
        if norm == "layer":
            return tg.functional.layer_norm(x, 5, eps=eps)
        return tg.functional.batch_norm(x, None, None, training=True, eps=eps)

    def theirs(x: Any) -> Any:
        axis = 1 if norm == "layer" else 0
        m = x.mean(axis, keepdim=True)
        v = ((x - m) ** 2).mean(axis, keepdim=True)
        return (x - m) / torch.sqrt(v + eps)

    def derivs(lib: Any) -> list[np.ndarray]:
        mk = tg.Tensor if lib is tg else torch.tensor
        grad = tg.grad if lib is tg else torch.autograd.grad
        x = mk(a, requires_grad=True)
        w = mk(wv)
        y = ((ours(x) if lib is tg else theirs(x)) * w).sum()
        out = []
        for order in range(3):
            (y,) = grad(y, x, create_graph=True)
            out.append(np.array(y.data if lib is tg else y.detach().numpy()))
            y = (y * w).sum() if order < 2 else y
        return out

    for o, t in zip(derivs(tg), derivs(torch)):
        np.testing.assert_allclose(o, t, rtol=1e-8, atol=1e-9)
    assert tg.gradgradcheck(lambda x: ours(x) * tg.Tensor(wv), [tg.Tensor(a, requires_grad=True)])
