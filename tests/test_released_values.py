"""Values the engine lets go of, and that nothing silently reads them afterwards.

``nn.Dense`` adds the bias and applies its activation in place in the matmul's array, so
a layer keeps one array, as hand-written NumPy does; ``nn.Sequential`` lets
``backward()`` release the outputs inside it that only the graph can reach.  These tests
check that the numbers do not change (against the layer built from ops, against PyTorch,
with Hypothesis shapes), that a released value refuses every way of reading it with an
error that says why, that nothing the user holds is ever released, and that the memory
is really given back.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp import Tensor, nn, optim
from tinygrad_bp import functional as F
from tinygrad_bp.autograd import Released

ACTS = [None, "tanh", "relu", "sigmoid"]
TORCH_ACTS = {None: lambda a: a, "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def _layer(n_in, n_out, act, dtype=np.float64, seed=0):
    layer = nn.Dense(n_in, n_out, activation=act, rng=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    layer.b.data[...] = rng.normal(size=n_out).astype(dtype)  # a bias that is not zero
    return layer


def _by_ops(layer, x):
    """The same layer written with ops (every node keeps its value)."""
    a = x @ layer.W + layer.b
    return a if layer.activation is None else getattr(a, layer.activation)()


def _grads(layer, x, out, seed):
    for p in (layer.W, layer.b, x):
        p.grad = None
    out.backward(seed)
    return [layer.W.grad.copy(), layer.b.grad.copy(), x.grad.copy()]


# ------------------------------------------------------------ the numbers do not change
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_layer_equals_the_layer_built_from_ops(act, dtype):
    layer = _layer(5, 4, act, dtype)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(7, 5)).astype(dtype) * 3
    seed = rng.normal(size=(7, 4)).astype(dtype)
    x = Tensor(X, requires_grad=True)
    h = layer(x)
    ref = _by_ops(layer, x)
    assert h.dtype == ref.dtype == dtype
    np.testing.assert_array_equal(h.data, ref.data)  # the same NumPy calls: bit for bit
    g_inplace = _grads(layer, x, h, seed)
    g_ops = _grads(layer, x, ref, seed)
    for a, b in zip(g_inplace, g_ops):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x.data, X)  # the input is never written


@pytest.mark.parametrize("act", ACTS)
def test_in_place_layer_against_pytorch(act):
    layer = _layer(6, 3, act)
    rng = np.random.default_rng(3)
    X, seed = rng.normal(size=(9, 6)), rng.normal(size=(9, 3))
    x = Tensor(X, requires_grad=True)
    grads = _grads(layer, x, layer(x), seed)
    xt = torch.tensor(X, requires_grad=True)
    Wt = torch.tensor(layer.W.data, requires_grad=True)
    bt = torch.tensor(layer.b.data, requires_grad=True)
    ht = TORCH_ACTS[act](xt @ Wt + bt)
    ht.backward(torch.tensor(seed))
    np.testing.assert_allclose(layer(x).data, ht.detach().numpy(), rtol=1e-12, atol=1e-14)
    for mine, theirs in zip(grads, (Wt.grad, bt.grad, xt.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-14)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 6),
    act=st.sampled_from(ACTS),
)
def test_in_place_layer_hypothesis_shapes(lead, n_in, n_out, act):
    """1-D inputs and stacked batches too: the in-place path and the ops agree exactly."""
    layer = _layer(n_in, n_out, act)
    rng = np.random.default_rng(len(lead) * 31 + n_in * 7 + n_out)
    X = rng.normal(size=(*lead, n_in)) * 2
    seed = rng.normal(size=(*lead, n_out))
    x = Tensor(X, requires_grad=True)
    h = layer(x)
    ref = _by_ops(layer, x)
    assert h.shape == ref.shape == (*lead, n_out)
    np.testing.assert_array_equal(h.data, ref.data)
    for a, b in zip(_grads(layer, x, h, seed), _grads(layer, x, ref, seed)):
        np.testing.assert_array_equal(a, b)


def test_sigmoid_is_stable_and_exact_at_the_extremes():
    x = Tensor(np.array([-800.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 800.0]), requires_grad=True)
    s = x.sigmoid()
    expected = torch.sigmoid(torch.tensor(x.data)).numpy()
    np.testing.assert_allclose(s.data, expected, rtol=1e-15, atol=0)
    assert np.isfinite(s.data).all()
    layer = _layer(1, 7, "sigmoid")
    layer.W.data[...] = 1.0
    layer.b.data[...] = x.data
    np.testing.assert_array_equal(layer(Tensor(np.zeros((1, 1)))).data[0], s.data)


def test_gradcheck_through_dense_layers():
    model = nn.Sequential(_layer(3, 4, "tanh"), _layer(4, 4, "sigmoid", seed=1),
                          _layer(4, 2, "relu", seed=2), _layer(2, 2, None, seed=3))  # fmt: skip
    x = Tensor(np.random.default_rng(0).normal(size=(5, 3)), requires_grad=True)
    assert tg.gradcheck(model, [x])


# ------------------------------------------------------------ a released value refuses
def _released_node():
    layer = _layer(3, 2, "tanh")
    h = layer(Tensor(np.ones((4, 3))))
    return h, h.parents[0], h.parents[0].parents[0]


def test_inner_nodes_of_a_layer_keep_shape_dtype_and_op_but_not_values():
    h, a, z = _released_node()
    assert (a.op, z.op, h.op) == ("add", "matmul", "tanh")
    for t in (a, z):
        assert isinstance(t.data, Released)
        assert (t.shape, t.dtype, t.ndim, t.size) == ((4, 2), np.dtype(np.float64), 2, 8)
        assert repr(t) == f"Tensor(<released>, shape=(4, 2), dtype=float64, op={t.op})"
    assert isinstance(h.data, np.ndarray)  # the layer's output keeps its value


READS = {
    "data + 1": lambda t: t.data + 1,
    "1 + data": lambda t: 1 + t.data,
    "array + data": lambda t: np.ones((4, 2)) + t.data,
    "data @ array": lambda t: t.data @ np.ones((2, 2)),
    "np.asarray(data)": lambda t: np.asarray(t.data),
    "np.asarray(tensor)": lambda t: np.asarray(t),
    "np.exp(data)": lambda t: np.exp(t.data),
    "np.sum(data)": lambda t: np.sum(t.data),
    "data[0]": lambda t: t.data[0],
    "data[0] = 1": lambda t: t.data.__setitem__(0, 1),
    "data == data": lambda t: t.data == t.data,
    "list(data)": lambda t: list(t.data),
    "len(data)": lambda t: len(t.data),
    "bool(data)": lambda t: bool(t.data),
    "data.copy()": lambda t: t.data.copy(),
    "data.sum()": lambda t: t.data.sum(),
    "data.T": lambda t: t.data.T,
    "data.tolist()": lambda t: t.data.tolist(),
    "tensor.numpy()": lambda t: t.numpy(),
    "tensor.detach()": lambda t: t.detach(),
    "tensor * 2": lambda t: t * 2,
    "tensor + tensor": lambda t: t + t,
    "tensor.tanh()": lambda t: t.tanh(),
    "tensor.sum()": lambda t: t.sum(),
    "tensor[0]": lambda t: t[0],
    "tensor.T": lambda t: t.T,
    "tensor @ array": lambda t: t @ np.ones((2, 2)),
    "len(tensor)": lambda t: len(t),
    "F.cross_entropy": lambda t: F.cross_entropy(t, np.array([0, 1, 0, 1])),
}


@pytest.mark.parametrize("read", list(READS), ids=list(READS))
def test_every_way_of_reading_a_released_value_says_why(read):
    _, a, z = _released_node()
    for t in (a, z):
        with pytest.raises(RuntimeError) as info:
            READS[read](t)
        message = str(info.value)
        assert f"this {t.op} node (shape (4, 2), float64) was released" in message
        assert "wrote its result into this node's array" in message
        assert "nn.Dense keeps one array per layer" in message
        assert "tg.keep_values()" in message


def test_backward_through_inner_nodes_still_works_and_retain_grad_keeps_their_gradients():
    layer = _layer(3, 2, "tanh")
    x = Tensor(np.random.default_rng(1).normal(size=(4, 3)), requires_grad=True)
    h = layer(x)
    a = h.parents[0]
    a.retain_grad()
    h.sum().backward()
    np.testing.assert_allclose(a.grad, 1 - h.data**2, rtol=1e-15)  # dL/da = dL/dh·(1 − h²)
    np.testing.assert_allclose(layer.b.grad, a.grad.sum(axis=0), rtol=1e-15)


# ------------------------------------------------------------ keep_values
def test_keep_values_keeps_every_node_and_gives_the_same_numbers():
    layer = _layer(3, 2, "relu")
    X = np.random.default_rng(4).normal(size=(6, 3))
    with tg.keep_values():
        assert tg.autograd.is_keep_values_enabled()
        h = layer(Tensor(X))
    assert not tg.autograd.is_keep_values_enabled()
    a = h.parents[0]
    z = a.parents[0]
    np.testing.assert_array_equal(z.data, X @ layer.W.data)
    np.testing.assert_array_equal(a.data, X @ layer.W.data + layer.b.data)
    np.testing.assert_array_equal(h.data, np.maximum(a.data, 0))
    np.testing.assert_array_equal(h.data, layer(Tensor(X)).data)


def test_no_grad_forward_computes_in_place_too():
    layer = _layer(3, 2, "tanh")
    X = np.random.default_rng(5).normal(size=(6, 3))
    with tg.no_grad():
        h = layer(Tensor(X))
    assert h.parents == () and not h.requires_grad
    np.testing.assert_allclose(h.data, np.tanh(X @ layer.W.data + layer.b.data), rtol=1e-15)


def test_mixed_dtypes_fall_back_to_a_new_array_and_keep_every_value():
    layer = _layer(3, 2, "tanh", dtype=np.float32)  # float64 input @ float32 W -> float64
    X = np.random.default_rng(6).normal(size=(4, 3))
    h = layer(Tensor(X))
    a = h.parents[0]
    # (since issue 20 the binary ops promote as torch.result_type, casting the float32
    # bias to float64 in its own node first; the sum then fits the matmul's float64 array)
    assert h.dtype == np.float64 and a.op == "add" and a.parents[1].op == "cast"
    np.testing.assert_allclose(h.data, np.tanh(X @ layer.W.data + layer.b.data), rtol=1e-12)
    h.sum().backward()
    assert layer.W.grad.dtype == np.float32 and layer.b.grad.dtype == np.float32


def test_an_activation_registered_by_the_user_is_called_as_any_op(monkeypatch):
    calls = []

    def softsign(x):
        calls.append(x)
        return x / (1 + (x * x).sqrt())

    monkeypatch.setitem(nn.ACTIVATIONS, "softsign", softsign)
    layer = nn.Dense(3, 2, activation="softsign", rng=0)
    X = np.random.default_rng(7).normal(size=(4, 3))
    h = layer(Tensor(X))
    a = X @ layer.W.data + layer.b.data
    np.testing.assert_allclose(h.data, a / (1 + np.abs(a)), rtol=1e-12)
    assert isinstance(calls[0].data, np.ndarray)  # it saw the pre-activation values


# ------------------------------------------------------------ Sequential releases after use
def _net():
    return nn.Sequential(_layer(4, 8, "tanh"), _layer(8, 8, "relu", seed=1), nn.Tanh(),
                         _layer(8, 3, None, seed=2))  # fmt: skip


def _chain(out):
    """The outputs of the Sequential's layers, from the last back to the first."""
    nodes, t = [], out
    while t.parents:
        if t.op in ("tanh", "relu") or t is out:
            nodes.append(t)
        t = t.parents[0]
    return nodes


X4 = np.random.default_rng(8).normal(size=(10, 4))
Y4 = np.arange(10) % 3


def test_sequential_inner_outputs_are_readable_until_backward_then_released():
    model = _net()
    out = model(Tensor(X4))
    inner = _chain(out)[1:]
    assert [t.op for t in inner] == ["tanh", "relu", "tanh"]
    assert all(isinstance(t.data, np.ndarray) for t in inner)  # before backward: values
    F.cross_entropy(out, Y4).backward()
    assert all(isinstance(t.data, Released) for t in inner)
    assert isinstance(out.data, np.ndarray)  # the output the user was given is kept
    with pytest.raises(RuntimeError, match=r"backward\(\) used it.*nn.Sequential"):
        inner[0].data.sum()


def test_sequential_keeps_values_with_retain_graph_and_under_keep_values():
    model = _net()
    out = model(Tensor(X4))
    loss = F.cross_entropy(out, Y4)
    loss.backward(retain_graph=True)
    assert all(isinstance(t.data, np.ndarray) for t in _chain(out))
    loss.backward()  # the second backward may release
    assert all(isinstance(t.data, Released) for t in _chain(out)[1:])
    with tg.keep_values():
        out = model(Tensor(X4))
        F.cross_entropy(out, Y4).backward()
    assert all(isinstance(t.data, np.ndarray) for t in _chain(out))


def test_outputs_the_user_holds_are_never_released():
    model = _net()
    x = Tensor(X4, requires_grad=True)
    hs = [x]
    for layer in model:  # layer by layer, as the tutorial does
        hs.append(layer(hs[-1]))
    before = [h.data.copy() for h in hs]
    F.cross_entropy(hs[-1], Y4).backward()
    for h, v in zip(hs, before):
        np.testing.assert_array_equal(h.data, v)
    # and a Sequential inside a Sequential: the inner one's output is the outer's to give
    inner = nn.Sequential(_layer(4, 5, "tanh"), _layer(5, 5, "tanh", seed=1))
    outer = nn.Sequential(inner, _layer(5, 3, None, seed=2))
    mid = inner(Tensor(X4))
    F.cross_entropy(outer[1](mid), Y4).backward()
    assert isinstance(mid.data, np.ndarray)


def test_a_custom_module_output_is_not_released():
    class Keep(nn.Module):
        def forward(self, x):
            self.last = x.tanh()  # a module that keeps what it returns, for a plot
            return self.last

    keep = Keep()
    model = nn.Sequential(_layer(4, 5, None), keep, _layer(5, 3, None, seed=1))
    F.cross_entropy(model(Tensor(X4)), Y4).backward()
    assert isinstance(keep.last.data, np.ndarray)


def test_same_gradients_as_the_layers_called_one_by_one_and_as_keep_values():
    grads = []
    for how in ("sequential", "one by one", "keep"):
        model = _net()
        x = Tensor(X4, requires_grad=True)
        if how == "one by one":
            h = x
            for layer in model:
                h = layer(h)
            out = h
        elif how == "keep":
            with tg.keep_values():
                out = model(x)
        else:
            out = model(x)
        F.cross_entropy(out, Y4).backward()
        grads.append([p.grad for p in model.parameters()] + [x.grad])
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            np.testing.assert_array_equal(a, b)


def test_draw_graph_after_backward_shows_the_released_nodes_by_shape():
    pytest.importorskip("pygraphviz")
    model = _net()
    loss = F.cross_entropy(model(Tensor(X4)), Y4)
    loss.backward()
    dot = tg.viz.draw_graph(loss, model=model).source
    assert "matmul" in dot and "add" in dot and "(10, 8)" in dot


# ------------------------------------------------------------ the memory is given back
def test_released_arrays_are_freed():
    model = _net()
    out = model(Tensor(X4))
    arrays = [weakref.ref(t.data) for t in _chain(out)[1:]]
    F.cross_entropy(out, Y4).backward()
    gc.collect()
    assert [r() is None for r in arrays] == [True] * 3


def _peak_of_a_step(keep: bool) -> int:
    rng = np.random.default_rng(9)
    model = nn.Sequential(nn.Dense(64, 256, "relu", rng=0), nn.Dense(256, 256, "relu", rng=1),
                          nn.Dense(256, 10, rng=2))  # fmt: skip
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = Tensor(rng.normal(size=(512, 64))), rng.integers(0, 10, 512)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    step()
    gc.collect()
    tracemalloc.start()
    try:
        if keep:
            with tg.keep_values():
                step()
        else:
            step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_training_step_keeps_one_array_per_layer():
    """Two (512, 256) float64 layers: keeping every value holds x·W and x·W + b besides
    each activation, 2 MiB more per layer at the end of the forward pass."""
    kept, released = _peak_of_a_step(True), _peak_of_a_step(False)
    layer_array = 512 * 256 * 8
    assert kept - released >= 3 * layer_array, (kept, released)


# ------------------------------------------------------------ the public seam
def test_release_is_the_one_engine_call_and_the_ops_take_no_private_keyword():
    import inspect

    from tinygrad_bp import ops
    from tinygrad_bp.autograd import release

    for op in (ops.add, ops.relu, ops.sigmoid, ops.tanh):
        assert not any(p.startswith("_") for p in inspect.signature(op).parameters), op
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    # a sum that does not fit the released array's shape: computed as usual, value kept
    z = x * 2
    wide = ops.add(release(z, reuse=True), np.ones((4, 2, 3)))
    assert isinstance(z.data, np.ndarray) and wide.shape == (4, 2, 3)
    h = ops.tanh(z)  # the mark is gone: tanh does not write into z either
    assert isinstance(z.data, np.ndarray)
    np.testing.assert_array_equal(h.data, np.tanh(z.data))
    # one that fits: add writes into z's array and z says it was released
    z = x * 2
    kept = z.data
    y = ops.add(release(z, reuse=True), np.ones(3))
    assert y.data is kept and "add wrote its result" in repr(z.data.why)
    with tg.keep_values():  # nothing is released under keep_values()
        z = x * 2
        ops.relu(release(z, reuse=True))
        assert isinstance(z.data, np.ndarray)
