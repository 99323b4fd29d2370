"""Pictures of any module's graph (collapse=True, expand=) and pictures drawn after backward().

The modules here are written for the tests (a PyTorch-named linear layer, a recurrent cell
called once per time step, a container with no parameters of its own), so that collapse is
tested for modules other than Dense.  Expected counts are derived by hand from the models.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pygraphviz as pgv
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, viz
from tinygrad_bp.commands.graph import tutorial_graph
from tinygrad_bp.tensor import make_node

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("TINYGRAD_BP_REGEN_GOLDEN") == "1"


class Linear(nn.Module):
    """``y = x @ weight.T + bias`` with PyTorch's parameter names and shapes."""

    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.in_features, self.out_features = n_in, n_out
        self.weight = tg.Tensor(rng.normal(0, 0.5, (n_out, n_in)), requires_grad=True)
        self.bias = tg.Tensor(np.zeros(n_out), requires_grad=True)

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Block(nn.Module):
    """A container: Linear then tanh, with no parameter of its own."""

    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        self.lin = Linear(n_in, n_out, seed)

    def forward(self, x):
        return self.lin(x).tanh()


class Net(nn.Module):
    def __init__(self) -> None:
        self.block = Block(3, 4, 0)
        self.head = Linear(4, 2, 1)

    def forward(self, x):
        return self.head(self.block(x))


class Cell(nn.Module):
    """``h' = tanh(x·Wx + h·Wh + b)``: called once per time step."""

    def __init__(self, n_in: int, n_hidden: int) -> None:
        rng = np.random.default_rng(3)
        self.hidden_size = n_hidden
        self.weight_ih = tg.Tensor(rng.normal(0, 0.5, (n_in, n_hidden)), requires_grad=True)
        self.weight_hh = tg.Tensor(rng.normal(0, 0.5, (n_hidden, n_hidden)), requires_grad=True)
        self.bias = tg.Tensor(np.zeros(n_hidden), requires_grad=True)

    def forward(self, x, h):
        return (x @ self.weight_ih + h @ self.weight_hh + self.bias).tanh()

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}"


def net_loss():
    net = Net()
    x = tg.Tensor(np.linspace(-1, 1, 15).reshape(5, 3))
    return F.cross_entropy(net(x), np.array([0, 1, 0, 1, 1])), net


def rnn_loss(steps: int = 4):
    cell, head = Cell(2, 3), Linear(3, 1, 5)
    rng = np.random.default_rng(7)
    xs = [tg.Tensor(rng.normal(size=(2, 2))) for _ in range(steps)]
    h = tg.Tensor(np.zeros((2, 3)))
    for x in xs:
        h = cell(x, h)
    model = nn.Sequential(cell, head)  # only to name the modules ("0", "1")
    return F.mse_loss(head(h), np.ones((2, 1))), model


def parse(source: str) -> pgv.AGraph:
    return pgv.AGraph(string=source)


def walk(root):
    seen, stack = {id(root): root}, [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return list(seen.values())


# ---------------------------------------------------------------- the scope
def test_every_node_is_stamped_with_the_module_call_it_was_made_in():
    model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), nn.Dense(4, 2, rng=1))
    x = tg.Tensor(np.ones((2, 3)))
    out = model(x)
    inner = out.scope  # the second Dense's call, (module, args, kwargs, parent)
    outer = inner[3]  # the Sequential's call, around it
    assert inner[0] is model[1] and outer[0] is model and outer[3] is None
    assert outer[1][0] is x and outer[2] is None
    h = out.parents[0].parents[0]  # add(matmul(h, W), b): the first layer's output
    assert h.scope[0] is model[0] and h.scope[3] is outer and inner[1][0] is h
    assert out.parents[0].scope is inner  # the matmul: made in the same call
    # nodes made outside any module carry no scope; leaves neither
    assert (x * 2).scope is None and x.scope is None and model[0].W.scope is None
    with tg.no_grad():  # the stamp does not depend on grad mode
        assert model(x).scope[0] is model[1]
    assert tg.autograd.current_scope() is None  # left as it was, also after an error
    with pytest.raises(ValueError):
        model(tg.Tensor(np.ones((2, 5))))
    assert tg.autograd.current_scope() is None
    with tg.autograd.scope("block") as s:  # any code can open one
        y = model(x)
    assert y.scope[3][3] is s and s[0] == "block"


def test_tuple_outputs_share_one_scope():
    class Two(nn.Module):
        def __init__(self):
            self.w = tg.Tensor(np.ones(2), requires_grad=True)

        def forward(self, x):
            return x * self.w, (x + self.w, 3)

    two = Two()
    a, (b, _) = two(tg.Tensor(np.ones(2)))
    assert a.scope is b.scope and a.scope[0] is two


# ---------------------------------------------------------------- collapse
def test_collapse_any_module_counts_and_labels():
    loss, net = net_loss()
    g = viz.draw_graph(loss, model=net, collapse=True)
    d = parse(g.source)
    # Net and Block are containers (drawn through): block.lin, tanh (op + tensor),
    # head, x, y, cross_entropy (op) and the loss
    assert (d.number_of_nodes(), g.num_nodes) == (8, 8)
    # x→lin, lin→tanh, tanh→h, h→head, head→ce, y→ce, ce→loss
    assert d.number_of_edges() == g.num_edges == 7
    assert "Linear(in_features=3, out_features=4)" in g.source
    assert "Linear(in_features=4, out_features=2)" in g.source
    assert "block.lin → (5, 4)" in g.source and "head → (5, 2)" in g.source
    assert g.source.count("box3d") == 2
    assert g.view == "collapsed"
    # without model=, the names come from the outermost module called
    assert viz.draw_graph(loss, collapse=True).source == g.source


def test_collapsed_backward_shows_parameter_gradients():
    loss, net = net_loss()
    src = viz.draw_graph(loss, model=net, collapse=True, backward=True).source
    loss.backward()
    for name in ("weight", "bias"):
        for mod in (net.block.lin, net.head):
            norm = float(np.linalg.norm(getattr(mod, name).grad))
            assert (
                f"∂L/∂{name} {viz.scene._shape(getattr(mod, name).shape)}  ‖·‖ = "
                + (viz.scene._num(norm))
                in src
            )


def test_recurrent_cell_is_one_node_per_step():
    steps = 4
    loss, model = rnn_loss(steps)
    g = viz.draw_graph(loss, model=model, collapse=True)
    d = parse(g.source)
    cells = [n for n in d.nodes() if "hidden_size=3" in n.attr["label"]]
    assert len(cells) == steps
    for k in range(1, steps + 1):
        assert f"0 (call {k})" in g.source
    # h chains the cells: cell k → cell k+1, one edge each
    ids = {n.attr["id"]: str(n) for n in cells}
    chain = [ids[f"module:0:{k}"] for k in range(1, steps + 1)]
    edges = {(str(a), str(b)) for a, b in d.edges()}
    assert all((a, b) in edges for a, b in zip(chain, chain[1:]))
    # nodes: 4 x, h0, 4 cells, head, y (the target), sub/mul/mean ops with their tensors, loss
    n_x = steps + 1
    assert d.number_of_nodes() == n_x + steps + 1 + 1 + 3 * 2
    # edges: x_k and h→cell (2 per cell), head←cell, sub←head, sub←y, sub→d,
    # d→mul twice (a self-product), mul→t, t→mean, mean→loss
    assert d.number_of_edges() == 2 * steps + 1 + 2 + 1 + 2 + 1 + 1 + 1


def test_expand_opens_a_module_into_a_named_cluster():
    loss, net = net_loss()
    g = viz.draw_graph(loss, model=net, expand=["head"])
    d = parse(g.source)
    clusters = d.subgraphs()
    assert [s.name for s in clusters] == ["cluster_0"]
    assert "head: Linear(in_features=4, out_features=2)" in clusters[0].graph_attr["label"]
    # head's ops: transpose (weight.T), matmul, add, with their three outputs, and its two
    # parameters: 8 nodes in the cluster
    assert len(clusters[0].nodes()) == 3 * 2 + 2
    # collapsed 8 nodes, minus the head node, plus its 8
    assert d.number_of_nodes() == 8 - 1 + 8
    # edges: 7 collapsed, minus h→head and head→ce, plus inside the cluster
    # weight→T, T→w.T, h→matmul, w.T→matmul, matmul→t, t→add, bias→add, add→out, out→ce
    assert d.number_of_edges() == 7 - 2 + 9
    assert g.source.count("box3d") == 1
    nested = viz.draw_graph(loss, model=net, expand=["block", "block.lin"])
    dn = parse(nested.source)  # (keep the graph alive while its subgraphs are read)
    sub = dn.subgraphs()
    assert [s.name for s in sub] == ["cluster_0"] and [s.name for s in sub[0].subgraphs()] == [
        "cluster_1"
    ]


def test_expand_unknown_name_lists_the_known_ones():
    loss, net = net_loss()
    with pytest.raises(ValueError) as info:
        viz.draw_graph(loss, model=net, expand="decoder")
    msg = str(info.value)
    assert "'decoder'" in msg and "'block', 'block.lin', 'head'" in msg and "Net" in msg
    with pytest.raises(TypeError, match="expand must be"):
        viz.draw_graph(loss, model=net, expand=[3])


def test_stats_annotations_and_svg_ids():
    loss, net = net_loss()
    g = viz.draw_graph(
        loss, model=net, collapse=True, backward=True, stats=True, annotate={"head": ["epoch 3"]}
    )
    assert g.source.count("out: mean") == 2 and g.source.count("grad: mean") == 2
    assert "epoch 3" in g.source
    svg = ET.fromstring(g.pipe("svg"))
    ids = {e.get("id") for e in svg.iter() if (e.get("id") or "").startswith("module:")}
    assert ids == {"module:block.lin", "module:head"}


def test_golden_collapsed_model_dot():
    loss, net = net_loss()
    text = viz.draw_graph(loss, model=net, collapse=True, backward=True).source
    path = GOLDEN / "net_collapsed_backward.dot"
    if REGEN:
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"regenerated {path}")
    assert text == path.read_text(encoding="utf-8")


def test_collapsed_dot_is_deterministic():
    a = viz.draw_graph(*rnn_loss()[:1], collapse=True, backward=True).source
    b = viz.draw_graph(*rnn_loss()[:1], collapse=True, backward=True).source
    assert a == b and a.count("box3d") == 5


# ---------------------------------------------------------------- ops this picture does not know
def test_unknown_op_gets_a_generic_label_and_rule():
    w = tg.Tensor(np.ones(3), requires_grad=True)
    y = make_node(w.data * 2, (w,), "frobnicate", lambda g: (g * 2,))
    g = viz.draw_graph(y.sum(), backward=True)
    assert "<b>frobnicate</b>" in g.source and "(no rule recorded)" in g.source
    assert "∂L/∂w (3)  ‖·‖ = " + viz.scene._num(float(np.linalg.norm([2, 2, 2]))) in g.source


def test_a_derivative_graph_draws_like_any_other():
    # d/dx tanh(x) = 1 - tanh(x)^2 written with ops: the kind of graph create_graph makes
    x = tg.Tensor([0.5, -1.0], requires_grad=True, name="x")
    t = x.tanh()
    dy = 1 - t * t
    g = viz.draw_graph(dy.sum(), backward=True)
    d = parse(g.source)
    # x, the const 1 and four results (t, t·t, 1 − t·t, the sum); tanh, mul, sub, sum
    assert d.number_of_nodes() == 6 + 4 and d.number_of_edges() == 2 + 3 + 3 + 2
    for rule in ("∂/∂x = g·(1 − t₁²)", "∂/∂t₁ = g·t₁", "∂/∂t₂ = −g"):
        assert g.source.count(rule) == (2 if rule == "∂/∂t₁ = g·t₁" else 1), rule


# ---------------------------------------------------------------- after backward()
def test_after_backward_tutorial_every_leaf_gradient_and_not_kept():
    loss, model, _ = tutorial_graph(batch_size=5, seed=0)
    tensors = walk(loss)
    inner = [t for t in tensors if t.parents and t is not loss]
    loss.backward()
    before = {n: p.grad.copy() for n, p in model.named_parameters()}
    g = viz.draw_graph(loss, backward=True, model=model)
    d = parse(g.source)
    assert d.number_of_nodes() == 26 and g.num_edges == 25
    for name, p in model.named_parameters():
        sym = name[-1] + str(int(name[0]) + 1).translate(viz.scene._SUP)
        norm = viz.scene._num(float(np.linalg.norm(p.grad)))
        assert f"∂L/∂{sym} {viz.scene._shape(p.shape)}  ‖·‖ = {norm}" in g.source, name
        np.testing.assert_array_equal(p.grad, before[name])  # nothing changed in .grad
    assert g.source.count("not kept") == len(inner) == 8
    assert "t.retain_grad() before backward()" in g.source and "∂L/∂L = 1" in g.source
    assert "Drawn after backward()" in g.note
    # the forward view and the collapsed view draw too
    assert viz.draw_graph(loss, model=model).num_nodes == 26
    assert viz.draw_graph(loss, model=model, collapse=True, backward=True).num_nodes == 7


def test_after_backward_retained_gradient_is_shown():
    w = tg.Tensor([1.0, -2.0], requires_grad=True, name="w")
    h = (w * 3).tanh()
    h.name = "h"
    h.retain_grad()
    loss = (h * h).sum()
    loss.backward()
    src = viz.draw_graph(loss, backward=True).source
    expect = viz.scene._num(float(np.linalg.norm(h.grad)))
    assert f"∂L/∂h (2)  ‖·‖ = {expect}" in src
    assert src.count("not kept") == 2  # w·3 and h·h: no retain_grad()


def test_value_beside_gradient_lets_a_learner_check_the_rule():
    a = tg.Tensor(2.0, requires_grad=True, name="a")
    b = tg.Tensor(-3.0, requires_grad=True, name="b")
    src = viz.draw_graph(a * b, backward=True).source
    assert 'value = 2</td></tr><tr><td><font color="#a61c00">∂L/∂a = −3' in src
    assert 'value = −3</td></tr><tr><td><font color="#a61c00">∂L/∂b = 2' in src
    assert "∂/∂a = g·b" in src and "∂/∂b = g·a" in src


def test_regression_target_is_y():
    model = nn.Sequential(nn.Dense(2, 1, rng=0))
    loss = F.mse_loss(model(tg.Tensor(np.ones((3, 2)))), np.zeros((3, 1)))
    src = viz.draw_graph(loss, model=model).source
    assert "<b>y</b>" in src and "const" not in re.sub(r"constant", "", src)


# ---------------------------------------------------------------- too large to read
def test_huge_graph_falls_back_with_a_note_whatever_max_nodes():
    w = tg.Tensor(np.ones(2), requires_grad=True)
    x = w
    for _ in range(2500):  # 5,000 nodes drawn in full: a picture no one can read
        x = x * 1.0
    g = viz.draw_graph(x.sum(), max_nodes=100_000)
    assert g.view == "truncated" and "too many to read in one picture" in g.note
    assert g.num_nodes <= viz.scene.MAX_RANKS


def test_huge_module_graph_falls_back_to_modules_whatever_max_nodes():
    model = nn.Sequential(*[nn.Dense(3, 3, activation="tanh", rng=i) for i in range(150)])
    loss = model(tg.Tensor(np.ones((2, 3)))).sum()
    g = viz.draw_graph(loss, max_nodes=100_000)  # 1,203 nodes on 900 ranks in full
    assert g.view == "collapsed" and g.num_nodes == 150 + 1 + 2  # x, 150 layers, sum, loss
    assert "each module call is drawn as one node" in g.note and "32,767" in g.note


def test_module_stats_match_the_arrays_and_the_svg_ids():
    loss, net = net_loss()
    stats = viz.module_stats(loss, model=net, bins=4)
    assert [s.name for s in stats] == ["block.lin", "head"]
    lin = net.block.lin
    out = walk(loss)
    head_out = next(t for t in out if t.op == "cross_entropy").parents[0]
    s = stats[1]
    assert s.shapes == [(5, 2)] and s.title == "Linear(in_features=4, out_features=2)"
    assert s.output.mean == pytest.approx(float(head_out.data.mean()))
    assert sum(s.output.hist) == 10 and len(s.output.edges) == 5
    # the gradient of the head's output: (softmax − onehot)/N, from one engine call
    z = head_out.data
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(5), [0, 1, 0, 1, 1]] -= 1
    assert s.grad.norm == pytest.approx(float(np.linalg.norm(p / 5)))
    assert sum(s.grad.hist) == 10
    assert set(stats[0].param_grad_norms) == {"weight", "bias"}
    assert all(x.grad is None for x in (lin.weight, lin.bias))  # nothing accumulated
    svg = viz.draw_graph(loss, model=net, collapse=True).pipe("svg").decode()
    assert all(f'id="{s.svg_id}"' in svg for s in stats)
    with pytest.raises(ValueError, match="bins"):
        viz.module_stats(loss, bins=0)


# ---------------------------------------------------------------- the engine's own layers
# These run once the layers and higher-order gradients are in the tree (other issues);
# until then they say why they are skipped.
def _need(obj, name: str, why: str):
    if not hasattr(obj, name):
        pytest.skip(f"{why} is not in this tree yet")
    return getattr(obj, name)


def test_cnn_collapsed_and_expanded_counts():
    for name in ("Conv2d", "MaxPool2d", "Flatten"):
        _need(nn, name, f"nn.{name}")
    rng = np.random.default_rng(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dense(2 * 3 * 3, 3, rng=1)
    )
    loss = F.cross_entropy(cnn(tg.Tensor(rng.standard_normal((4, 1, 8, 8)))), np.arange(4) % 3)
    g = viz.draw_graph(loss, model=cnn, collapse=True)
    d = parse(g.source)
    # x, five layers, y, the cross_entropy op and the loss; a chain of layers into the loss
    assert (d.number_of_nodes(), d.number_of_edges()) == (9, 8)
    assert g.source.count("box3d") == 5 and "Conv2d(" in g.source
    e = viz.draw_graph(loss, model=cnn, expand="0")
    de = parse(e.source)
    assert [s.name for s in de.subgraphs()] == ["cluster_0"]
    assert de.number_of_nodes() > 9 and e.source.count("box3d") == 4
    again = viz.draw_graph(loss, model=cnn, collapse=True).source
    assert again == g.source


def test_lstm_cell_once_per_step():
    LSTMCell = _need(nn, "LSTMCell", "nn.LSTMCell")
    cell, steps = LSTMCell(3, 4), 3
    h = c = tg.Tensor(np.zeros((2, 4)))
    xs = [tg.Tensor(np.full((2, 3), k / 3)) for k in range(steps)]
    for x in xs:
        h, c = cell(x, (h, c))
    g = viz.draw_graph((h * h).sum(), model=cell, collapse=True)
    d = parse(g.source)
    assert g.source.count("box3d") == steps
    ids = {n.attr["id"]: str(n) for n in d.nodes() if n.attr.get("id")}
    edges = [(str(a), str(b)) for a, b in d.edges()]
    for k in range(1, steps):  # h and c from each step into the next
        a, b = ids[f"module:{cell_name(g)}:{k}"], ids[f"module:{cell_name(g)}:{k + 1}"]
        assert edges.count((a, b)) == 2


def cell_name(g) -> str:
    return re.search(r'id="module:([^":]*):1"', g.source).group(1)


def test_graph_of_a_derivative_made_by_create_graph():
    grad = _need(tg.autograd, "grad", "tg.autograd.grad")
    x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    (dx,) = grad(x.tanh().sum(), x, create_graph=True)
    g = viz.draw_graph(dx.sum(), backward=True)
    d = parse(g.source)
    tensors = walk(dx.sum())
    ops = [t for t in tensors if t.parents]
    assert d.number_of_nodes() == len(tensors) + len(ops)
    assert d.number_of_edges() == sum(len(t.parents) for t in ops) + len(ops)
    assert viz.draw_graph(dx.sum(), backward=True).source == g.source
    # the seed (an unnamed input) is not called x too: the user's x keeps the name alone
    assert "<b>x</b>" in g.source and "<i>x₁</i>" in g.source and "<i>x</i>" not in g.source
    assert "∂/∂t₃ = g·x₁" in g.source


class Attn(nn.Module):
    """An engine-style layer built from sub-modules (as attention is from projections)."""

    def __init__(self) -> None:
        self.q, self.k = Linear(3, 3, 11), Linear(3, 3, 12)

    def forward(self, x):
        return (self.q(x) * self.k(x)).sum(axis=-1)


Attn.__module__ = "tinygrad_bp.nn"  # as if defined by the engine: one node when collapsed


def test_an_engine_layer_made_of_sub_modules_is_one_node_until_expanded():
    attn = Attn()
    loss = attn(tg.Tensor(np.ones((2, 3)))).sum()
    g = viz.draw_graph(loss, model=attn, collapse=True)
    assert g.source.count("box3d") == 1 and [s.name for s in viz.module_stats(loss)] == ["Attn"]
    e = viz.draw_graph(loss, model=attn, expand="Attn")
    d = parse(e.source)
    assert e.source.count("box3d") == 2 and [s.name for s in d.subgraphs()] == ["cluster_0"]
    # inside the cluster: q and k (one node each), mul and sum with their outputs
    assert len(d.subgraphs()[0].nodes()) == 2 + 2 * 2


def test_a_module_keeping_state_between_calls_is_one_node_per_call():
    class Running(nn.Module):
        """Keeps its last output and adds it to the next: no input carries it in."""

        def __init__(self) -> None:
            self.w = tg.Tensor(np.ones(2), requires_grad=True)
            self.state = None

        def forward(self, x):
            out = x * self.w if self.state is None else x * self.w + self.state
            self.state = out
            return out

    run = Running()
    for k in range(3):
        out = run(tg.Tensor(np.full(2, k + 1.0)))
    g = viz.draw_graph(out.sum(), collapse=True)
    d = parse(g.source)
    ids = {n.attr.get("id"): str(n) for n in d.nodes()}
    assert g.source.count("box3d") == 3
    edges = {(str(a), str(b)) for a, b in d.edges()}
    assert (ids["module:Running:1"], ids["module:Running:2"]) in edges
    assert (ids["module:Running:2"], ids["module:Running:3"]) in edges
    # three inputs, three calls, the sum op and its output
    assert d.number_of_nodes() == 3 + 3 + 2


def test_expanding_an_inner_module_opens_the_layer_around_it():
    attn = Attn()
    loss = attn(tg.Tensor(np.ones((2, 3)))).sum()
    d = parse(viz.draw_graph(loss, model=attn, expand="q").source)
    outer = d.subgraphs()
    assert [s.name for s in outer] == ["cluster_0"]  # Attn, opened around q
    assert "Attn: Attn()" in outer[0].graph_attr["label"]
    inner = outer[0].subgraphs()
    assert [s.name for s in inner] == ["cluster_1"] and "q: Linear" in inner[0].graph_attr["label"]


# ---------------------------------------------------------------- real models of the engine
def digits_cnn_loss(backward: bool = False):
    """The digits CNN of models.py on 4 seeded 8×8 images (optionally after backward())."""
    from tinygrad_bp.commands.models import DigitsCNN

    rng = np.random.default_rng(0)
    cnn = DigitsCNN(rng=0)
    loss = F.cross_entropy(cnn(tg.Tensor(rng.standard_normal((4, 1, 8, 8)))), np.arange(4))
    if backward:
        loss.backward()
    return loss, cnn


CNN_LAYERS = 8  # conv, relu, pool, conv, relu, pool, flatten, linear


def test_digits_cnn_collapsed_after_backward_counts():
    loss, cnn = digits_cnn_loss(backward=True)
    grads = {n: p.grad.copy() for n, p in cnn.named_parameters()}
    g = viz.draw_graph(loss, model=cnn, collapse=True, backward=True)
    d = parse(g.source)
    # DigitsCNN and its Sequential are drawn through: x, the 8 layers, y, cross_entropy, loss
    assert (d.number_of_nodes(), g.num_nodes) == (CNN_LAYERS + 4, CNN_LAYERS + 4)
    # x → conv, 7 between the layers, linear → ce, y → ce, ce → loss
    assert d.number_of_edges() == 1 + (CNN_LAYERS - 1) + 3
    assert g.source.count("box3d") == CNN_LAYERS
    ids = [n.attr["id"] for n in d.nodes() if (n.attr.get("id") or "").startswith("module:")]
    assert sorted(ids) == sorted(f"module:net.{k}" for k in range(CNN_LAYERS))
    assert "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in g.source
    assert "net.3 → (4, 32, 4, 4)" in g.source and "net.6 → (4, 128)" in g.source
    for name in ("net.0.weight", "net.3.bias", "net.7.weight"):  # each parameter's .grad
        p = dict(cnn.named_parameters())[name]
        norm = viz.scene._num(float(np.linalg.norm(p.grad)))
        assert f"∂L/∂{name.split('.')[-1]} {viz.scene._shape(p.shape)}  ‖·‖ = {norm}" in g.source
    # each layer's output gradient was not kept by backward(); nothing changed in .grad
    assert g.source.count("not kept") == CNN_LAYERS and "Drawn after backward()" in g.note
    assert all(np.array_equal(p.grad, grads[n]) for n, p in cnn.named_parameters())


def test_digits_cnn_expanded_layer_is_a_cluster_of_its_ops():
    loss, cnn = digits_cnn_loss()
    collapsed = parse(viz.draw_graph(loss, model=cnn, collapse=True).source)
    g = viz.draw_graph(loss, model=cnn, expand="net.0", backward=True)
    d = parse(g.source)
    (cl,) = d.subgraphs()
    assert "net.0: Conv2d(1, 16" in cl.graph_attr["label"]
    # the convolution as one 2-D matmul over windows: weight → reshape → matmul, bias →
    # reshape → add, then reshape and transpose back to (N, C, H, W): 6 ops, their 6
    # results and the 2 parameters
    assert len(cl.nodes()) == 6 * 2 + 2
    assert d.number_of_nodes() == collapsed.number_of_nodes() - 1 + len(cl.nodes())
    assert g.source.count("box3d") == CNN_LAYERS - 1
    assert "(4, 16, 8, 8)" in g.source
    # the layers' statistics come in the order the program called them
    names = [s.name for s in viz.module_stats(loss, model=cnn)]
    assert names == [f"net.{k}" for k in range(CNN_LAYERS)]
    # an unknown name lists the names there are
    with pytest.raises(ValueError) as info:
        viz.draw_graph(loss, model=cnn, expand="net.9")
    assert "'net.9'" in str(info.value) and "'net.0'" in str(info.value)


def test_golden_collapsed_digits_cnn_dot():
    loss, cnn = digits_cnn_loss()
    text = viz.draw_graph(loss, model=cnn, collapse=True).source
    path = GOLDEN / "digits_cnn_collapsed.dot"
    if REGEN:
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"regenerated {path}")
    assert text == path.read_text(encoding="utf-8")
    loss, cnn = digits_cnn_loss()
    assert viz.draw_graph(loss, model=cnn, collapse=True).source == text  # deterministic


def lstm_cell_loss(steps: int = 3):
    rng = np.random.default_rng(0)
    cell, head = nn.LSTMCell(3, 4, rng=0), nn.Linear(4, 2, rng=1)
    h = c = tg.Tensor(np.zeros((2, 4)))  # h0 = c0: one tensor, two inputs of the first call
    for _ in range(steps):
        h, c = cell(tg.Tensor(rng.standard_normal((2, 3))), (h, c))
    return F.cross_entropy(head(h), np.array([0, 1])), nn.Sequential(cell, head)


def test_lstm_cell_unrolled_collapsed_and_expanded_counts():
    steps = 3
    loss, model = lstm_cell_loss(steps)
    g = viz.draw_graph(loss, model=model, collapse=True)
    d = parse(g.source)
    # 3 inputs, h0 (= c0), 3 cell calls, the head, y, cross_entropy and the loss
    assert d.number_of_nodes() == steps + 1 + steps + 1 + 3
    # h0 twice into call 1, x_k into call k, (h, c) from each call into the next, the last
    # h into the head, head → ce, y → ce, ce → loss
    assert d.number_of_edges() == 2 + steps + 2 * (steps - 1) + 1 + 3
    for k in range(1, steps + 1):
        assert f"0 (call {k})" in g.source
    assert g.source.count("LSTMCell(3, 4)") == steps
    e = viz.draw_graph(loss, model=model, expand="0")
    de = parse(e.source)
    clusters = de.subgraphs()
    labels = [s.graph_attr["label"] for s in clusters]
    assert labels == [f"<b>0 (call {k}): LSTMCell(3, 4)</b>" for k in range(1, steps + 1)]
    assert de.number_of_nodes() == d.number_of_nodes() - steps + sum(
        len(s.nodes()) for s in clusters
    )
    assert e.source.count("box3d") == 1  # only the head stays one node
    ops = [
        [o for n in s.nodes() if "float64" not in (o := re.sub(r"<[^>]+>", "", n.attr["label"]))]
        for s in clusters
    ]
    # each step: the input and the hidden projections (x·Wᵢₕᵀ, h·Wₕₕᵀ), then the gates
    assert all(o.count("matmul") == 2 for o in ops), ops
    assert ops[0] == ops[1]  # the same ops at every step (the last may keep c unused)


def test_nn_lstm_is_one_node_until_expanded():
    lstm = nn.LSTM(3, 4, rng=0)
    out, _ = lstm(tg.Tensor(np.linspace(-1, 1, 30).reshape(5, 2, 3)))
    loss = (out * out).sum()
    g = viz.draw_graph(loss, model=lstm, collapse=True, backward=True)
    d = parse(g.source)
    assert g.source.count("box3d") == 1 and "LSTM → (5, 2, 4)" in g.source
    (node,) = [n for n in d.nodes() if n.attr.get("id") == "module:LSTM"]
    # after the layer: mul (a self-product), its result, the sum and the loss
    assert len(d.successors(node)) == 1 and d.number_of_nodes() == len(d.predecessors(node)) + 5
    e = parse(viz.draw_graph(loss, model=lstm, expand="LSTM").source)
    (cl,) = e.subgraphs()
    assert cl.name == "cluster_0" and "LSTM: LSTM(3, 4" in cl.graph_attr["label"]
    ops = [re.sub(r"<[^>]+>", "", n.attr["label"]).strip() for n in cl.nodes()]
    assert ops.count("lstm_layer") == 1  # the whole layer over its five steps is one op
    assert e.number_of_nodes() == d.number_of_nodes() - 1 + len(cl.nodes())


def test_multihead_attention_collapsed_and_expanded():
    rng = np.random.default_rng(0)
    mha = nn.MultiheadAttention(8, 2, rng=0)
    x = tg.Tensor(rng.standard_normal((2, 5, 8)))
    out, _ = mha(x, x, x)
    loss = (out * out).sum()
    g = viz.draw_graph(loss, model=mha, collapse=True, backward=True)
    d = parse(g.source)
    # x, the attention layer, mul with its result, sum, loss
    assert d.number_of_nodes() == 6
    # x is query, key and value (three edges), then one edge each down to the loss
    assert d.number_of_edges() == 3 + 4
    assert "MultiheadAttention(8, num_heads=2)" in g.source and g.source.count("box3d") == 1
    assert "∂L/∂in_proj_weight (24, 8)" in g.source
    e = viz.draw_graph(loss, model=mha, expand="MultiheadAttention")
    de = parse(e.source)
    (cl,) = de.subgraphs()
    assert "MultiheadAttention: MultiheadAttention(8" in cl.graph_attr["label"]
    assert e.source.count("box3d") == 1  # out_proj, a Linear inside, stays one node
    assert de.number_of_nodes() == d.number_of_nodes() - 1 + len(cl.nodes())
    assert "softmax" in e.source


def test_batchnorm_collapsed_and_expanded():
    rng = np.random.default_rng(0)
    net = nn.Sequential(
        nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2, rng=1)
    )
    loss = F.cross_entropy(net(tg.Tensor(rng.standard_normal((6, 3)))), np.arange(6) % 2)
    g = viz.draw_graph(loss, model=net, collapse=True, backward=True)
    d = parse(g.source)
    # x, four layers, y, cross_entropy, loss; x → 0 → 1 → 2 → 3 → ce ← y, ce → loss
    assert (d.number_of_nodes(), d.number_of_edges()) == (8, 7)
    assert "BatchNorm1d(4, eps=1e-05, momentum=0.1)" in g.source
    assert "∂L/∂weight (4)" in g.source and "∂L/∂bias (4)" in g.source
    e = viz.draw_graph(loss, model=net, expand="1")
    de = parse(e.source)
    (cl,) = de.subgraphs()
    ops = [re.sub(r"<[^>]+>", "", n.attr["label"]).strip() for n in cl.nodes()]
    # batch statistics: two means over the batch, then (x − mean)·(var + eps)^−½·γ + β
    assert ops.count("mean") == 2 and "pow -0.5" in ops and ops.count("add") == 2
    assert de.number_of_nodes() == d.number_of_nodes() - 1 + len(cl.nodes())
