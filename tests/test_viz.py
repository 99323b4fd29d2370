"""Pictures of the graph (tinygrad_bp.viz): real rendering, counted and decoded.

The expected node and edge counts are derived here from the network's structure, not read
back from the drawing code.  The golden DOT files in tests/golden/ are rewritten only when
TINYGRAD_BP_REGEN_GOLDEN=1 is set (and the test then reports that it regenerated them).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pygraphviz as pgv
import pytest
from PIL import Image

import tinygrad_bp as tg
from tinygrad_bp import autograd, nn, viz
from tinygrad_bp.commands import graph as graph_command
from tinygrad_bp.commands.graph import tutorial_graph
from tinygrad_bp.viz import read, render, scene

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("TINYGRAD_BP_REGEN_GOLDEN") == "1"
PARAM_FILL = (0xFF, 0xD9, 0x66)  # the parameters' fill colour, #ffd966
CURRENT = (0xE8, 0x59, 0x0C)  # the step frames' highlight, #e8590c


# ---------------------------------------------------------------- helpers
def tutorial():
    """The tutorial's 4 → 10 tanh → 5 tanh → 3 network, cross-entropy on 4 Iris rows."""
    loss, model, _ = tutorial_graph(batch_size=4, seed=0)
    return loss, model


def walk(root):
    """Every tensor of the graph, found independently of viz."""
    seen, stack = {id(root): root}, [root]
    while stack:
        for p in stack.pop()._parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return list(seen.values())


def parse(source: str) -> pgv.AGraph:
    return pgv.AGraph(string=source)


def edges_attr(g: pgv.AGraph, name: str) -> list[str]:
    return [e.attr.get(name) or "" for e in g.edges()]


def small_graph():
    """A two-layer net with hand-set weights on one row: the golden picture."""
    model = nn.Sequential(nn.Dense(2, 2, activation="tanh"), nn.Dense(2, 1))
    model.load_state_dict(
        {
            "0.W": np.array([[0.5, -0.25], [0.125, 1.0]]),
            "0.b": np.array([0.1, -0.1]),
            "1.W": np.array([[1.5], [-0.5]]),
            "1.b": np.array([0.25]),
        }
    )
    x = tg.Tensor([[1.0, -2.0]])
    d = model(x) - np.array([[0.5]])  # written out, so the picture does not depend on F
    loss = (d * d).mean()
    return loss, model


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"regenerated {path} (TINYGRAD_BP_REGEN_GOLDEN=1)")
    assert path.exists(), f"{path} is missing; run with TINYGRAD_BP_REGEN_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"DOT differs from {path}; if the change is intended, rerun with "
        "TINYGRAD_BP_REGEN_GOLDEN=1 and review the diff"
    )


def distinct_colours(png: Path) -> set[tuple[int, int, int]]:
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        return {c for _, c in rgb.getcolors(maxcolors=1 << 20)}


# ---------------------------------------------------------------- the library
def test_import_does_not_load_the_renderer():
    code = (
        "import sys, tinygrad_bp, tinygrad_bp.viz; "
        "print('pygraphviz' in sys.modules, 'PIL' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
    assert out.stdout.split() == ["False", "False"]


def test_missing_pygraphviz_says_how_to_install(monkeypatch):
    loss, _ = small_graph()
    monkeypatch.setitem(sys.modules, "pygraphviz", None)  # makes the import fail
    with pytest.raises(ImportError) as info:
        viz.draw_graph(loss)
    msg = str(info.value)
    assert "pip install pygraphviz" in msg and "\n" not in msg


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(tg.__file__).parent.parent)
    env.update(extra)
    return env


def test_renders_png_without_a_system_dot_program(tmp_path):
    # An empty PATH: no `dot` (or any other program) can be found, so the picture can
    # only come from the engine bundled in the pygraphviz wheel.
    code = (
        "import numpy as np, tinygrad_bp as tg\n"
        "w = tg.Tensor(np.ones(3), requires_grad=True)\n"
        f"tg.viz.draw_graph((w * 2).sum()).save({str(tmp_path / 'g.png')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(PATH=""))
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- the tutorial network
def expected_counts(loss) -> tuple[int, int, int, int]:
    """(tensors, ops, op inputs, nodes requiring grad) by walking the graph."""
    ts = walk(loss)
    ops = [t for t in ts if t._parents]
    return len(ts), len(ops), sum(len(t._parents) for t in ops), sum(t.requires_grad for t in ts)


def test_tutorial_structure_by_hand():
    loss, _ = tutorial()
    # 3 Dense layers: W, b, xW, a each (+ h for the two hidden ones); x, y and the loss.
    tensors = 3 * 4 + 2 + 3
    # matmul, add per layer, tanh for the hidden ones, one cross_entropy
    ops = 3 * 2 + 2 + 1
    inputs = 3 * 2 + 3 * 2 + 2 * 1 + 2  # matmul 2, add 2, tanh 1, cross_entropy 2
    assert expected_counts(loss)[:3] == (tensors, ops, inputs) == (17, 9, 16)


def test_forward_view_counts_names_and_styles(tmp_path):
    loss, model = tutorial()
    n_t, n_ops, n_in, _ = expected_counts(loss)
    g = viz.draw_graph(loss, model=model)
    d = parse(g.source)
    assert d.number_of_nodes() == n_t + n_ops == g.num_nodes == 26
    assert d.number_of_edges() == n_in + n_ops == g.num_edges == 25  # inputs + one output each
    text = g.source
    for op, k in (("matmul", 3), ("add", 3), ("tanh", 2), ("cross_entropy", 1)):
        assert text.count(f"<b>{op}</b>") == k, op
    for name in ("0.W", "0.b", "1.W", "1.b", "2.W", "2.b", "0.a", "0.h", "1.a", "1.h", "2.a"):
        assert f"<b>{name}</b>" in text, name
    assert "<b>x</b>" in text and "<b>y</b>" in text and "<b>loss</b>" in text
    assert "(4, 10) float64" in text and "(10, 5) float64" in text
    # styles: parameters filled gold, the input plain, the labels a dashed constant
    nodes = {n: d.get_node(n) for n in d.nodes()}
    by_head = {}
    for n, node in nodes.items():
        m = re.search(r"<b>([^<]+)</b>", node.attr["label"])
        by_head[m.group(1) if m else n] = node.attr
    assert by_head["0.W"]["fillcolor"] == "#ffd966" and by_head["2.b"]["style"] == "filled"
    assert by_head["x"]["fillcolor"] == "#ffffff" and "dashed" not in by_head["x"]["style"]
    assert "dashed" in by_head["y"]["style"]
    assert by_head["0.a"]["fillcolor"] not in ("#ffd966", "#ffffff")
    # no arrows reversed in the forward view
    assert not any(edges_attr(d, "dir"))


def test_backward_view_same_nodes_reversed_edges_gradients_and_rules():
    loss, model = tutorial()
    n_t, n_ops, n_in, n_grad = expected_counts(loss)
    fwd = parse(viz.draw_graph(loss, model=model).source)
    g = viz.draw_graph(loss, backward=True, model=model)
    d = parse(g.source)
    assert d.number_of_nodes() == n_t + n_ops and d.number_of_edges() == n_in + n_ops
    assert sorted(d.nodes()) == sorted(fwd.nodes())
    assert [(e[0], e[1]) for e in d.edges()] == [(e[0], e[1]) for e in fwd.edges()]
    dirs = edges_attr(d, "dir")
    # gradient flows back along every edge except from x and from the labels y
    assert dirs.count("none") == 2 and dirs.count("back") == n_in + n_ops - 2
    text = g.source
    assert text.count("Σ over batch") == 3  # one per bias
    # every rule in the names the picture shows (x, W¹, a¹, h¹, ...), never A, B or z
    for rule in (
        "∂/∂a¹ = g·(1 − (h¹)²)",  # the two tanh layers
        "∂/∂a² = g·(1 − (h²)²)",
        "∂/∂W¹ = xᵀ·g",
        "∂/∂W² = (h¹)ᵀ·g",
        "∂/∂W³ = (h²)ᵀ·g",
        "∂/∂h¹ = g·(W²)ᵀ",  # x needs none
        "∂/∂h² = g·(W³)ᵀ",
        "∂/∂(x·W¹) = g",
        "∂/∂b¹ = g",
        "∂/∂a³ = (softmax(a³) − y)/N",
    ):
        assert text.count(rule) == 1, rule
    assert text.count("ᵀ·g") == 3 and text.count("·(W") == 2 and "∂/∂x " not in text
    for unknown in ("∂/∂A", "∂/∂B", "∂/∂z", "∂/∂u", "∂/∂v"):
        assert unknown not in text
    assert text.count("‖·‖ = ") == n_grad - 1  # every gradient but the scalar seed's
    assert "∂L/∂L = 1" in text
    # drawing had no side effect; the real gradients match the numbers drawn
    assert all(p.grad is None for p in model.parameters())
    loss.backward()
    for name, p in model.named_parameters():
        sym = {"W": "W", "b": "b"}[name[-1]] + str(int(name[0]) + 1).translate(scene._SUP)
        norm = scene._num(float(np.linalg.norm(p.grad)))
        assert f"∂L/∂{sym} {scene._shape(p.shape)}  ‖·‖ = {norm}" in text, name
    b3 = model[2].b.grad
    assert "= [" + ", ".join(scene._num(v) for v in b3) + "]" in text  # 3 values: shown


def test_backward_view_keeps_the_ranks():
    loss, model = tutorial()

    def ranks(source: str) -> list[set[str]]:
        d = parse(source)
        d.layout(prog="dot")
        by_y: dict[float, set[str]] = {}
        for n in d.nodes():
            by_y.setdefault(float(n.attr["pos"].split(",")[1]), set()).add(str(n))
        return [by_y[y] for y in sorted(by_y)]

    fwd = ranks(viz.draw_graph(loss, model=model).source)
    bwd = ranks(viz.draw_graph(loss, model=model, backward=True).source)
    assert fwd == bwd and len(fwd) == 19  # inputs to loss: two ranks per op, plus one


def test_collapsed_view_counts():
    loss, model = tutorial()
    g = viz.draw_graph(loss, model=model, collapse=True)
    d = parse(g.source)
    # x, three Dense nodes, y, the cross_entropy op and the loss
    assert d.number_of_nodes() == 1 + len(model) + 1 + 1 + 1 == 7
    # x → D0 → D1 → D2 → cross_entropy ← y, cross_entropy → loss
    assert d.number_of_edges() == 6
    for label in ("Dense 4→10, tanh", "Dense 10→5, tanh", "Dense 5→3<"):
        assert label in g.source, label
    assert "h¹ (4, 10)" in g.source and "h² (4, 5)" in g.source
    gb = viz.draw_graph(loss, model=model, collapse=True, backward=True)
    assert parse(gb.source).number_of_edges() == 6
    assert gb.source.count("(Σ over batch)") == 3


def test_large_graph_falls_back_to_collapsed_with_a_note():
    loss, model = tutorial()
    g = viz.draw_graph(loss, model=model, max_nodes=20)
    assert g.view == "collapsed" and g.num_nodes == 7
    assert "more than max_nodes=20" in g.note and "max_nodes=20" in g.source


def unrecorded():
    """The tutorial's graph made without any module call recorded (forward() directly)."""
    _, model = tutorial()
    x = tg.Tensor(np.linspace(-1, 1, 12).reshape(3, 4))
    for layer in model:
        x = layer.forward(x)
    return tg.functional.cross_entropy(x, np.array([0, 1, 2]))


def test_large_graph_without_modules_is_truncated_with_a_note():
    loss = unrecorded()
    g = viz.draw_graph(loss, max_nodes=12)
    d = parse(g.source)
    assert g.view == "truncated" and d.number_of_nodes() == 12
    hidden = 26 - 11
    assert f"{hidden} earlier nodes" in g.source and "more than max_nodes=12" in g.source
    # every edge ends at a drawn node, and the hidden part is one node feeding the cut
    assert all(e[1] in d.nodes() for e in d.edges())


def test_deterministic_dot():
    loss, model = tutorial()
    a = viz.draw_graph(loss, backward=True, model=model).source
    loss, model = tutorial()  # new tensors: other ids and creation numbers
    assert viz.draw_graph(loss, backward=True, model=model).source == a
    ids = re.findall(r"^\s*(n\d+)\s*\[", a, flags=re.M)
    assert sorted(ids, key=lambda s: int(s[1:])) == [f"n{i}" for i in range(26)]


# ---------------------------------------------------------------- golden DOT
def test_golden_forward_dot():
    loss, model = small_graph()
    check_golden("small_forward.dot", viz.draw_graph(loss, model=model).source)


def test_golden_backward_dot():
    loss, model = small_graph()
    check_golden("small_backward.dot", viz.draw_graph(loss, backward=True, model=model).source)


# ---------------------------------------------------------------- files
def test_save_png_svg_pdf_dot(tmp_path):
    loss, model = tutorial()
    g = viz.draw_graph(loss, backward=True, model=model)
    png, svg, pdf, dot = (tmp_path / f"g.{s}" for s in ("png", "svg", "pdf", "dot"))
    for p in (png, svg, pdf, dot):
        assert g.save(p) == str(p)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 600 and im.height > 1200
    colours = distinct_colours(png)
    assert len(colours) > 20 and PARAM_FILL in colours and (255, 255, 255) in colours
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = root.findall(".//s:g", ns)
    assert sum(x.get("class") == "node" for x in groups) == 26
    assert sum(x.get("class") == "edge" for x in groups) == 25
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert dot.read_text(encoding="utf-8") == g.source
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "g.pdf", "g.png", "g.svg"]  # no temp left


def test_jupyter_reprs():
    loss, model = small_graph()
    g = viz.draw_graph(loss, model=model)
    svg = g._repr_svg_()
    assert ET.fromstring(svg.encode("utf-8")).tag.endswith("svg")
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"] == svg and "nodes" in bundle["text/plain"]


def test_unknown_suffix(tmp_path):
    loss, _ = small_graph()
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf, \.dot"):
        viz.draw_graph(loss).save(tmp_path / "g.jpeg")
    assert os.listdir(tmp_path) == []


def test_unwritable_paths_leave_nothing(tmp_path):
    g = viz.draw_graph(small_graph()[0])
    with pytest.raises(OSError, match="does not exist"):
        g.save(tmp_path / "no" / "such" / "g.png")
    (tmp_path / "adir.png").mkdir()  # the target is a folder: the rename fails
    with pytest.raises(OSError, match="cannot write"):
        g.save(tmp_path / "adir.png")
    assert os.listdir(tmp_path) == ["adir.png"] and os.listdir(tmp_path / "adir.png") == []
    if os.geteuid() != 0:  # root ignores folder permissions
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(OSError, match="cannot write"):
                g.save(ro / "g.png")
            assert os.listdir(ro) == []
        finally:
            ro.chmod(0o755)


def test_failed_render_leaves_old_file_untouched(tmp_path, monkeypatch):
    g = viz.draw_graph(small_graph()[0])
    out = tmp_path / "g.png"
    out.write_bytes(b"old")

    def broken(*a, **k):
        raise RuntimeError("Graphviz could not render the graph as png: boom")

    monkeypatch.setattr(render, "_render", broken)
    with pytest.raises(RuntimeError, match="boom"):
        g.save(out)
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["g.png"]


# ---------------------------------------------------------------- bad input
def test_root_not_a_tensor():
    with pytest.raises(TypeError, match="root must be a Tensor, got ndarray"):
        viz.draw_graph(np.ones(3))


def test_no_recorded_history():
    w = tg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="no recorded history"):
        viz.draw_graph(w)
    with tg.no_grad():
        y = (w * 2).sum()
    with pytest.raises(ValueError, match="no recorded history"):
        viz.draw_graph(y, backward=True)


def test_steps_after_backward_names_the_fix(tmp_path):
    loss, model = small_graph()
    loss.backward()
    viz.draw_graph(loss, model=model)  # the forward structure is still there
    with pytest.raises(RuntimeError, match=r"backward_steps\(\.\.\.\) before"):
        viz.backward_steps(loss, tmp_path / "s", model=model)
    assert not (tmp_path / "s").exists()


def test_freed_inner_node_is_found(tmp_path):
    w = tg.Tensor(np.ones(3), requires_grad=True)
    h = (w * 3).tanh()
    h.sum().backward()  # frees the mul and tanh nodes, not what comes after
    loss = (h * 2).sum()
    assert not autograd.is_freed(loss)
    with pytest.raises(RuntimeError, match=r"a mul node .*was freed"):
        viz.draw_graph(loss, backward=True)
    with pytest.raises(RuntimeError, match="freed"):
        viz.backward_steps(loss, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_non_scalar_root_needs_grad():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    y = w * w
    with pytest.raises(ValueError, match=r"pass grad="):
        viz.draw_graph(y, backward=True)
    src = viz.draw_graph(y, backward=True, grad=np.array([1.0, 0.5])).source
    assert "= [2, −2]" in src  # dy/dw · grad = 2w · [1, 0.5]


def test_bad_options():
    loss, model = small_graph()
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw_graph(loss, max_nodes=1)
    with pytest.raises(ValueError, match="collapse=True, but no module call is recorded"):
        viz.draw_graph(unrecorded(), collapse=True)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        viz.draw_graph(loss, model="net")


# ---------------------------------------------------------------- step by step
def test_backward_steps_frames_gif_html(tmp_path):
    loss, model = small_graph()
    order = []
    autograd.backward(
        loss,
        np.ones(()),
        retain_graph=True,
        hook=lambda n, g: order.append(n),
        accumulate=False,
    )
    (tmp_path / "step_099.png").write_bytes(b"stale")
    res = viz.backward_steps(loss, tmp_path, model=model)
    assert len(res.frames) == len(order) == expected_counts(loss)[3]
    assert [os.path.basename(p) for p in res.frames] == [
        f"step_{k:03d}.png" for k in range(1, len(order) + 1)
    ]
    assert not (tmp_path / "step_099.png").exists()
    # the pictures: the engine's order, each leaf right after the last node that sends it
    # its gradient (the walk itself takes the leaves last, all made before the forward)
    from tinygrad_bp.viz.read import completion_order

    shown = completion_order(order)
    assert sorted(map(id, shown)) == sorted(map(id, order))
    assert [t for t in shown if t.parents] == [t for t in order if t.parents]
    for k, t in enumerate(shown):
        if not t.parents:  # a leaf: its consumers all came before it, the last just before
            assert shown[k - 1] in [c for c in shown[:k] if any(p is t for p in c.parents)]
            assert not any(any(p is t for p in c.parents) for c in shown[k:])
    assert all(not t.parents for t in order[-len([t for t in order if not t.parents]) :])
    assert res.order[0] == "L" and res.order == [
        scene._display(_ctx(loss, model), t) for t in shown
    ]
    sizes = set()
    for p in res.frames:
        with Image.open(p) as im:
            sizes.add(im.size)
        assert CURRENT in distinct_colours(Path(p))  # the processed node is highlighted
    assert len(sizes) == 1  # one layout for every frame
    with Image.open(res.gif) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(order) and gif.size in sizes
    page = Path(res.html).read_text(encoding="utf-8")
    for p in res.frames:
        assert f'"{os.path.basename(p)}"' in page
    assert "backward_steps.gif" in page and "ArrowLeft" in page and "ArrowRight" in page
    assert all(p.grad is None for p in model.parameters())


def _ctx(loss, model):
    return read._context(loss, model, False, None, "test")


def test_backward_steps_refuses_huge_graphs(tmp_path):
    loss, model = tutorial()
    with pytest.raises(ValueError, match="max_nodes=10"):
        viz.backward_steps(loss, tmp_path / "s", model=model, max_nodes=10)
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------- command line
def run_cli(*argv: str) -> int:
    """``tinygrad-bp graph ARGV`` through the command's own configure/main (cli.py only
    routes)."""
    parser = argparse.ArgumentParser(prog="tinygrad-bp graph")
    graph_command.configure(parser)
    return graph_command.main(parser.parse_args(list(argv)))


def test_cli_views(tmp_path, capsys):
    assert run_cli("--view", "backward", "--out", str(tmp_path / "b.svg")) == 0
    assert ET.parse(tmp_path / "b.svg").getroot().tag.endswith("svg")
    assert run_cli("--view", "collapsed", "--out", str(tmp_path / "c.dot")) == 0
    d = pgv.AGraph(string=(tmp_path / "c.dot").read_text(encoding="utf-8"))
    assert (d.number_of_nodes(), d.number_of_edges()) == (7, 6)
    assert "wrote" in capsys.readouterr().out


def test_cli_saved_model_and_steps(tmp_path):
    model = nn.Sequential(nn.Dense(4, 3, activation="sigmoid", rng=0), nn.Dense(3, 3, rng=1))
    model.save(tmp_path / "m.npz")
    weights = ("--weights", str(tmp_path / "m.npz"), "--activation", "sigmoid")
    assert run_cli(*weights, "--batch-size", "2", "--out", str(tmp_path / "f.dot")) == 0
    text = (tmp_path / "f.dot").read_text(encoding="utf-8")
    assert "(4, 3) float64" in text and "<b>sigmoid</b>" in text and "(2, 4) float64" in text
    d = pgv.AGraph(string=text)
    # x, y, loss + per layer W, b, xW, a (+ h); ops: matmul, add per layer, 1 sigmoid, loss
    assert d.number_of_nodes() == (3 + 2 * 4 + 1) + (2 * 2 + 1 + 1)
    assert run_cli(*weights, "--view", "steps", "--out", str(tmp_path / "steps")) == 0
    frames = sorted(p.name for p in (tmp_path / "steps").glob("step_*.png"))
    assert len(frames) == 2 * 4 + 1 + 1  # W, b, xW, a per layer, h of layer 0, the loss


def test_cli_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf, \.dot"):
        run_cli("--out", str(tmp_path / "g.bmp"))
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        run_cli("--weights", str(tmp_path / "none.npz"))
    np.savez(tmp_path / "odd.npz", foo=np.ones(3))
    with pytest.raises(ValueError, match="0.W, 0.b"):
        run_cli("--weights", str(tmp_path / "odd.npz"))
    with pytest.raises(ValueError, match="--batch-size"):
        run_cli("--batch-size", "0")
