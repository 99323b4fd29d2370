"""The live page's server, sessions and data, without a browser (Starlette's TestClient).

The browser-level checks (the page itself) are in test_live_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the live page needs the [live] extra")
pytest.importorskip("uvicorn", reason="the live page needs the [live] extra")

from starlette.testclient import TestClient  # noqa: E402

from tinygrad_bp import autograd, nn  # noqa: E402
from tinygrad_bp import functional as F  # noqa: E402
from tinygrad_bp.commands.cli import main as cli_main  # noqa: E402
from tinygrad_bp.commands.live import live  # noqa: E402
from tinygrad_bp.commands.live.registry import (  # noqa: E402
    DATASETS,
    MODELS,
    as_dataset,
    build_model,
    load_dataset,
)
from tinygrad_bp.commands.live.server import (  # noqa: E402
    TOKEN_HEADER,
    LiveConfig,
    LiveServer,
    PortInUseError,
    bind,
    create_app,
)
from tinygrad_bp.commands.live.session import Session  # noqa: E402
from tinygrad_bp.commands.live.toys import make_moons, make_spirals  # noqa: E402
from tinygrad_bp.tensor import Tensor  # noqa: E402
from tinygrad_bp.viz.read import completion_order  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "tinygrad_bp" / "commands" / "live" / "static"


def client(app) -> TestClient:
    """A test client that talks as the page does: to 127.0.0.1 on the app's port, with its
    token and JSON bodies (test_live_security.py checks the refusals, on a real server)."""
    headers = {TOKEN_HEADER: app.state.token, "Content-Type": "application/json"}
    return TestClient(app, base_url=f"http://127.0.0.1:{app.state.access.port}", headers=headers)


def page_token(url: str) -> str:
    import httpx

    page = httpx.get(url, timeout=10).text
    return re.search(r'<meta name="tinygrad-bp-token" content="([^"]+)">', page).group(1)


def wait_for(cond, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ---------------------------------------------------------------------- data
def test_toys_are_seeded_balanced_and_checked():
    a, b = make_spirals(301, arms=3, seed=4), make_spirals(301, arms=3, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], make_spirals(301, arms=3, seed=5)[0])
    assert np.bincount(a[1]).tolist() == [101, 100, 100]
    assert np.abs(a[0]).max() <= 1.5
    X, y = make_moons(100, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [50, 50]
    # without noise the upper moon (class 0) lies on a unit half circle around (-0.5, -0.25)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0] + 0.5, X[y == 0, 1] + 0.25), 1.0)
    with pytest.raises(ValueError, match="make_spirals: arms"):
        make_spirals(10, arms=1)
    with pytest.raises(ValueError, match="make_moons: n"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1)


def test_registry_names_and_bad_input():
    for name in DATASETS:
        ds = load_dataset(name)
        model = build_model(ds.default_model, ds, seed=0)
        out = model(MODELS[ds.default_model].inputs(ds.X[:3]))
        assert out.shape == (3, ds.num_classes)
    assert load_dataset("iris").hidden == (10, 5)  # the tutorial's network
    with pytest.raises(ValueError, match="unknown data set 'mnist'; expected one of iris"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="unknown model 'transformer'"):
        build_model("transformer", load_dataset("moons"))
    with pytest.raises(TypeError, match="pair"):
        as_dataset(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        as_dataset((np.zeros((3, 2)), np.array([0, 1])))
    with pytest.raises(ValueError, match="integer class labels"):
        as_dataset((np.zeros((3, 2)), np.array([0.5, 1, 0])))
    with pytest.raises(ValueError, match="NaN"):
        as_dataset((np.full((2, 2), np.nan), np.array([0, 1])))
    assert set(MODELS) >= {"mlp", "cnn", "char"}
    # a model given data it does not fit says what it takes and what came
    with pytest.raises(ValueError, match=r"cnn model takes \(N, 1, 8, 8\) images.*\(300, 2\)"):
        build_model("cnn", load_dataset("moons"))
    with pytest.raises(ValueError, match="char model takes rows of previous-character"):
        build_model("char", load_dataset("moons"))
    with pytest.raises(ValueError, match="the mlp model takes rows of features"):
        build_model("mlp", load_dataset("digits"))
    # integer inputs (token indices, for an embedding) stay integers; no boundary for them
    tokens = as_dataset((np.array([[1, 2], [3, 0]]), np.array([0, 1])))
    assert tokens.X.dtype == np.int64 and not tokens.is_2d
    assert as_dataset((np.zeros((2, 2), np.float32), np.array([0, 1]))).is_2d


# ---------------------------------------------------------------------- sessions
def _session(data="moons", **kw):
    ds = load_dataset(data)
    # one small hidden layer: few nodes, so that the walk's frames are drawn quickly
    model = build_model("mlp", ds, hidden=(6,), seed=0)
    kw.setdefault("delay", 0.0)
    return Session(model, ds, MODELS["mlp"].loss, "test", lr=ds.lr, batch_size=32, **kw), model


def test_session_trains_and_stats_match_the_gradients(monkeypatch):
    from tinygrad_bp import viz

    def no_frames(*args, **kwargs):  # the frames are tested below; this test needs none
        raise ValueError("not drawn in this test")

    monkeypatch.setattr(viz, "backward_steps", no_frames)
    s, model = _session(start_paused=True)
    s.start()
    try:
        wait_for(lambda: s.snapshot()["status"] == "paused", what="paused")
        s.command("step")
        snap = wait_for(lambda: (x := s.snapshot())["step"] == 1 and x, what="step")
        # the statistics are those of the step's gradients, which .grad still holds
        by_name = {p["name"]: p for L in snap["layers"] for p in L["params"]}
        for name, p in model.named_parameters():
            g = np.asarray(p.grad)
            assert by_name[name]["grad"]["norm"] == pytest.approx(np.linalg.norm(g), rel=1e-12)
            assert by_name[name]["grad"]["mean"] == pytest.approx(g.mean(), rel=1e-9, abs=1e-15)
            assert sum(by_name[name]["grad"]["hist"]) == g.size
        # one card per module node of the collapsed picture, named and linked to its node
        assert [(L["name"], L["svg_id"], L["shape"]) for L in snap["layers"]] == [
            ("0 Dense(2, 6, activation='tanh')", "module:0", [32, 6]),
            ("1 Dense(6, 2)", "module:1", [32, 2]),
        ]
        assert all(L["grad"]["norm"] > 0 and sum(L["activation"]["hist"]) == 32 * L["shape"][1]
                   for L in snap["layers"])  # fmt: skip
        s.command("resume")
        wait_for(lambda: s.snapshot()["step"] > 200, what="200 steps")
        h = s.snapshot()["history"]
        assert h[-1]["loss"] < 0.5 * h[0]["loss"], (h[0], h[-1])
        assert h[-1]["accuracy"] > 0.8
    finally:
        s.stop()
    assert not s.alive and s.snapshot()["status"] == "stopped"
    assert not os.path.exists(s._tmp)  # the frames' folder is removed


def test_session_refuses_bad_commands():
    s, _ = _session()
    s.start()
    try:
        wait_for(lambda: s.snapshot()["status"] == "running", what="running")
        with pytest.raises(RuntimeError, match="pause training before changing"):
            s.command("set", lr=0.1)
        with pytest.raises(RuntimeError, match="pause training before walking"):
            s.command("step")
        with pytest.raises(ValueError, match="unknown command 'jump'"):
            s.command("jump")
        s.command("pause")
        with pytest.raises(ValueError, match="learning rate must be a number in"):
            s.command("set", lr=-1.0)
        with pytest.raises(ValueError, match="batch size must be an integer from 1 to 300"):
            s.command("set", batch_size=301)
    finally:
        s.stop()


class Broken(nn.Module):
    """A model whose forward raises, as a user's model under construction might."""

    def __init__(self) -> None:
        self.inner = nn.Dense(2, 2, rng=0)

    def forward(self, x):
        return self.inner(x) @ Tensor(np.ones((3, 3)))  # (n, 2) @ (3, 3): a shape error


# ---------------------------------------------------------------------- the server
def test_page_and_static_files_use_no_network():
    with client(create_app(LiveConfig(data="moons"))) as c:
        page = c.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        for name in ("live.js", "live.css"):
            r = c.get(f"/static/{name}")
            assert r.status_code == 200
        assert c.get("/static/../server.py").status_code == 404
        assert c.get("/static/nope.js").status_code == 404
        cfg = c.get("/api/config").json()
        assert cfg["data"] == "moons" and set(cfg["datasets"]) == set(DATASETS)
    for f in STATIC.iterdir():  # nothing from a CDN: every URL the page uses is its own
        text = f.read_text(encoding="utf-8")
        urls = re.findall(r"https?://[^\s\"')]+", text)
        assert urls == ["http://www.w3.org/2000/svg"] * len(urls), (f.name, urls)


def _train_in_app(data: str, steps: int, **kw):
    """Start ``data``'s default model in a test app, run ``steps`` steps, return the last
    snapshot, the collapsed graph's SVG and the session (stopped)."""
    from tinygrad_bp import viz

    def no_frames(*args, **kwargs):  # no walk in these tests: its frames are tested above
        raise ValueError("not drawn in this test")

    app = create_app(LiveConfig(data=data, delay=0.0, stats_every=0.0, **kw))
    saved, viz.backward_steps = viz.backward_steps, no_frames
    try:
        with client(app) as c:
            sid = c.post("/api/sessions", json={}).json()["id"]
            base = f"/api/sessions/{sid}"
            wait_for(lambda: c.get(f"{base}/state").json()["step"] >= steps, 120, f"{steps} steps")
            c.post(f"{base}/control", json={"command": "pause"})
            snap = wait_for(
                lambda: (x := c.get(f"{base}/state").json())["status"] == "paused" and x,
                what="paused",
            )
            svg = wait_for(lambda: (r := c.get(f"{base}/graph.svg")).status_code == 200 and r.text)
            sess = app.state.sessions[sid]
            model = sess.model
            assert c.post(f"{base}/close").status_code == 200
            assert sess.model is None and sess.data is None  # a stopped session forgets them
            return snap, svg, sess, model
    finally:
        viz.backward_steps = saved


def test_digits_cnn_trains_and_its_graph_shows_the_layers():
    ds = load_dataset("digits")
    assert ds.X.shape[1:] == (1, 8, 8) and ds.classes == [str(d) for d in range(10)]
    # standardised with the training images' statistics (models.load_task's split)
    assert abs(ds.X.mean()) < 1e-9 and ds.X.std() == pytest.approx(1.0)
    snap, svg, sess, model = _train_in_app("digits", 40)
    assert snap["error"] is None and snap["rows"] == len(ds.X) and snap["batch_size"] == 64
    h = snap["history"]
    assert h[-1]["loss"] < 0.8 * h[0]["loss"], (h[0], h[-1])
    # one card per layer with parameters or output; the convolutions and the linear head
    names = [L["name"] for L in snap["layers"]]
    assert [n.split()[0] for n in names] == [f"net.{k}" for k in range(8)]  # program order
    assert sum("Conv2d(1, 16" in n for n in names) == 1, names
    assert sum("Conv2d(16, 32" in n for n in names) == 1, names
    assert any("MaxPool2d" in n for n in names)
    assert any("Linear(in_features=128, out_features=10)" in n for n in names)
    assert svg.count("Conv2d(") == 2 and "MaxPool2d" in svg
    assert type(model).__name__ == "DigitsCNN" and not sess.alive
    assert snap["samples"] is None  # nothing to sample from an image classifier


def test_names_char_model_trains_on_character_indices():
    ds = load_dataset("names")
    assert ds.X.dtype == np.int64 and ds.X.shape[1] == 3 and ds.num_classes == 27
    assert ds.classes[:3] == [".", "a", "b"] and ds.default_model == "char"
    snap, svg, sess, model = _train_in_app("names", 40)
    assert snap["error"] is None
    h = snap["history"]
    # from about ln 27 = 3.3 nats per character towards the bigram level
    assert h[0]["loss"] == pytest.approx(np.log(27), abs=0.4)
    assert h[-1]["loss"] < h[0]["loss"] - 0.3, (h[0], h[-1])
    assert "Embedding(27, 24" in svg and svg.count("Linear(") == 2
    # eight names sampled from the model at the last refresh (seeded draws): letters only
    assert len(snap["samples"]) == 8 and all(re.fullmatch("[a-z]*", n) for n in snap["samples"])
    assert model.training  # sampling put the model back in training mode
    assert not sess.alive


def test_api_trains_controls_and_serves_frames():
    app = create_app(LiveConfig(data="moons", hidden=(6,), delay=0.0, start_paused=True))
    with client(app) as c:
        assert (
            c.post("/api/sessions", json={"data": "mnist"})
            .json()["error"]
            .startswith("live: unknown data set 'mnist'")
        )
        sid = c.post("/api/sessions", json={}).json()["id"]
        base = f"/api/sessions/{sid}"
        wait_for(lambda: c.get(f"{base}/state").json()["status"] == "paused", what="paused")
        assert c.post(f"{base}/control", json={"command": "set", "lr": "fast"}).status_code == 400
        set_ = {"command": "set", "lr": 0.05, "batch_size": 7}
        assert c.post(f"{base}/control", json=set_).status_code == 200
        assert c.post(f"{base}/control", json={"nothing": 1}).status_code == 400
        assert c.post(f"{base}/control", content=b"{").status_code == 400
        assert c.post(f"{base}/control", json={"command": "step"}).status_code == 200
        snap = wait_for(lambda: (x := c.get(f"{base}/state").json())["walk"] and x, what="walk")
        assert snap["lr"] == 0.05 and snap["batch_size"] == 7
        w = snap["walk"]
        # the walk is the engine's order: redo the step with the same weights and rows
        walk = app.state.sessions[sid].current_walk()
        assert len(walk.batch) == 7 and app.state.sessions[sid].opt.lr == 0.05
        ds = load_dataset("moons")
        twin = build_model("mlp", ds, hidden=(6,), seed=123)
        twin.load_state_dict(walk.weights)
        loss = F.cross_entropy(twin(Tensor(ds.X[walk.batch])), ds.y[walk.batch])
        seen = []
        autograd.backward(
            loss, np.ones(()), retain_graph=True, accumulate=False,
            hook=lambda n, g: seen.append(n),
        )  # fmt: skip
        # (the pictures' order: each leaf right after the last node sending it a gradient)
        order = [{"op": n.op, "shape": list(n.shape)} for n in completion_order(seen)]
        assert w["nodes"] == order and w["count"] == len(order) == len(w["names"])
        assert w["names"][0] == "L" and w["names"][-1] == "W¹"
        assert w["loss"] == pytest.approx(float(loss.data))
        model = app.state.sessions[sid].model
        for name, p in model.named_parameters():  # and the step's update was applied
            assert not np.allclose(p.data, walk.weights[name]), name
        png = c.get(f"{base}/walk/{w['id']}/0.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert c.get(f"{base}/walk/{w['id']}/{w['count']}.png").status_code == 404
        svg = c.get(f"{base}/graph.svg")
        assert svg.status_code == 200 and b"<svg" in svg.content and b"Dense" in svg.content
        assert snap["boundary"]["size"] ** 2 == len(snap["boundary"]["cls"])
        assert c.post(f"{base}/control", json={"command": "resume"}).status_code == 200
        wait_for(lambda: c.get(f"{base}/state").json()["step"] > 20, what="training")
        # the boundary (the biggest part) is sent again only when it changed
        sess = app.state.sessions[sid]
        c.post(f"{base}/control", json={"command": "pause"})
        wait_for(lambda: sess.snapshot()["status"] == "paused", what="paused")
        v = sess.snapshot()["boundary_version"]
        assert v > 0 and sess.snapshot(boundary_since=v)["boundary"] is None
        assert sess.snapshot(boundary_since=v - 1)["boundary"] is not None
        assert c.post(f"{base}/close").status_code == 200
        assert c.get(f"{base}/state").json()["status"] == "stopped"
        assert not app.state.sessions[sid].alive
        assert c.get("/api/sessions/nope/state").status_code == 404


def test_events_stream_snapshots_and_closing_stops_training():
    app = create_app(LiveConfig(data="moons", delay=0.0))
    with client(app) as c:
        sid = c.post("/api/sessions").json()["id"]
        session = app.state.sessions[sid]
        snaps = []
        with c.stream("GET", f"/api/sessions/{sid}/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("data: "):
                    snaps.append(json.loads(line[6:]))
                if any("<svg" in x.get("graph_svg", "") for x in snaps) and len(snaps) >= 3:
                    break
        assert snaps[-1]["step"] >= snaps[0]["step"]
        # the picture is sent only when it changed: once per graph version
        sent = [x["graph_version"] for x in snaps if "graph_svg" in x]
        assert sent == sorted(set(sent)) and len(sent) < len(snaps)
        # the page went away: its training stops
        wait_for(lambda: not session.alive, what="training to stop")


def test_forward_error_is_shown_and_the_server_stays_up():
    model = Broken()
    data = (np.zeros((10, 2)), np.arange(10) % 2)
    app = create_app(LiveConfig(data=data, model=model, delay=0.0))
    with client(app) as c:
        sid = c.post("/api/sessions").json()["id"]
        base = f"/api/sessions/{sid}"
        snap = wait_for(lambda: (x := c.get(f"{base}/state").json())["error"] and x, what="err")
        assert snap["status"] == "error"
        assert "matmul" in snap["error"] and "(10, 2)" in snap["error"], snap["error"]
        r = c.post(f"{base}/control", json={"command": "pause"})
        assert r.status_code == 409 and "stopped on an error" in r.json()["error"]
        assert c.get("/api/config").json()["fixed"] is True  # still serving
        assert c.post(f"{base}/close").status_code == 200
        assert c.post("/api/sessions").status_code == 200  # a reloaded page tries again


def test_your_model_trains_in_one_page_at_a_time():
    X, y = make_moons(60, seed=2)
    model = nn.mlp([2, 5, 2], rng=0)
    before = model.state_dict()["0.W"].copy()
    app = create_app(LiveConfig(data=(X, y), model=model, delay=0.0))
    with client(app) as c:
        first = c.post("/api/sessions").json()["id"]
        busy = c.post("/api/sessions")
        assert busy.status_code == 409 and "already training in another page" in busy.text
        wait_for(lambda: c.get(f"/api/sessions/{first}/state").json()["step"] > 10, what="steps")
        c.post(f"/api/sessions/{first}/close")
        switch = c.post("/api/sessions", json={"data": "iris"})
        assert switch.status_code == 400 and "cannot switch" in switch.text
    assert not np.array_equal(model.state_dict()["0.W"], before)  # trained in place


def test_config_errors_come_before_serving():
    with pytest.raises(ValueError, match="unknown data set 'mnist'"):
        create_app(LiveConfig(data="mnist"))
    with pytest.raises(ValueError, match="unknown model 'gpt'"):
        create_app(LiveConfig(model="gpt"))
    with pytest.raises(TypeError, match="model must be an nn.Module or a model name"):
        create_app(LiveConfig(model=42, data="moons"))
    with pytest.raises(ValueError, match=r"the cnn model takes \(N, 1, 8, 8\) images"):
        create_app(LiveConfig(data="moons", model="cnn"))
    with pytest.raises(ValueError, match="the char model takes rows of previous-character"):
        create_app(LiveConfig(data="digits", model="char"))


def test_busy_port_names_the_next_free_one():
    taken = bind(0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            bind(port)
        assert info.value.free is not None and info.value.free != port
        assert str(info.value) == (
            f"live: port {port} on 127.0.0.1 is in use (another live page?); the next free "
            f"port is {info.value.free} (--port {info.value.free})"
        )
        with pytest.raises(OSError, match="is in use"):
            live(data="moons", port=port, block=False)
    finally:
        taken.close()
    with pytest.raises(ValueError, match="port must be an integer"):
        bind(70000)


def test_cli_reports_bad_names_and_busy_ports(capsys):
    assert cli_main(["live", "--data", "mnist", "--port", "0"]) == 2
    assert "unknown data set 'mnist'" in capsys.readouterr().err
    taken = bind(0)
    try:
        port = taken.getsockname()[1]
        assert cli_main(["live", "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"tinygrad-bp live: error: port {port} on 127.0.0.1 is in use" in err
        assert "the next free port is" in err
    finally:
        taken.close()


def test_server_thread_serves_on_loopback_and_stops_everything():
    with LiveServer(LiveConfig(data="moons", delay=0.0), port=0) as srv:
        assert srv.url.startswith("http://127.0.0.1:")
        host, port = srv.sock.getsockname()
        assert host == "127.0.0.1"
        import httpx

        sid = httpx.post(srv.url + "api/sessions", json={},
                         headers={TOKEN_HEADER: page_token(srv.url)}).json()["id"]  # fmt: skip
        session = srv.app.state.sessions[sid]
        wait_for(lambda: session.snapshot()["step"] > 5, what="training")
    assert not session.alive
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


def test_ctrl_c_stops_the_command_cleanly(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_bp", "live", "--port", "0", "--data", "moons"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        m = re.search(r"serving (http://127\.0\.0\.1:\d+/)", line)
        assert m, line
        import httpx

        token = {TOKEN_HEADER: page_token(m.group(1))}
        made = httpx.post(m.group(1) + "api/sessions", json={}, headers=token, timeout=10)
        sid = made.json()["id"]
        with httpx.stream("GET", f"{m.group(1)}api/sessions/{sid}/events", timeout=10) as r:
            next(r.iter_lines())  # a page is connected and training
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=15)
        assert rc == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_live_from_python_with_your_model_and_the_docs_pictures(capsys):
    X, y = make_moons(50, seed=3)
    model = nn.mlp([2, 4, 2], rng=0)
    srv = live(model, (X, y), port=0, block=False)
    try:
        assert f"serving {srv.url} (Ctrl-C stops)" in capsys.readouterr().out
        import httpx

        cfg = httpx.get(srv.url + "api/config").json()
        assert cfg["fixed"] is True and cfg["data"] == "your data"
    finally:
        srv.stop()
    page = (ROOT / "docs" / "live.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\((images/live_[a-z]+\.png)\)", page)
    assert shown == [f"images/live_{n}.png" for n in ("spirals", "step", "iris", "digits")]
    for rel in shown:  # made by scripts/make_live_screenshots.py
        assert (ROOT / "docs" / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", rel


def test_a_picture_that_cannot_be_drawn_does_not_stop_training(monkeypatch):
    from tinygrad_bp import viz

    def too_big(*args, **kwargs):
        raise ValueError("backward_steps: the graph has 400 nodes")

    def no_graph(*args, **kwargs):
        raise RuntimeError("Graphviz could not render the graph as svg")

    monkeypatch.setattr(viz, "backward_steps", too_big)
    monkeypatch.setattr(viz, "draw_graph", no_graph)
    s, model = _session(start_paused=True)
    s.start()
    try:
        snap = wait_for(lambda: (x := s.snapshot())["graph_error"] and x, what="graph error")
        assert snap["graph_error"].startswith("the graph cannot be drawn: Graphviz could not")
        assert snap["status"] == "paused" and snap["error"] is None
        s.command("step")
        snap = wait_for(lambda: (x := s.snapshot())["step"] == 1 and x, what="the step")
        assert snap["walk"] is None and snap["status"] == "paused"
        assert snap["message"] == (
            "step taken, but not drawn: backward_steps: the graph has 400 nodes"
        )
        s.command("resume")
        wait_for(lambda: s.snapshot()["step"] > 20, what="training on")
        assert s.snapshot()["error"] is None
    finally:
        s.stop()


def test_cli_offers_the_next_free_port_in_a_terminal(monkeypatch, capsys):
    import importlib
    import io

    live_mod = importlib.import_module("tinygrad_bp.commands.live")

    calls = []

    def fake_live(port, **kwargs):
        calls.append(port)
        if len(calls) == 1:
            raise PortInUseError(port, port + 1)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(live_mod, "live", fake_live)
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert cli_main(["live", "--port", "8123"]) == 0
    assert calls == [8123, 8124]
    assert "Serve on port 8124 instead? [Y/n]" in capsys.readouterr().out
    calls.clear()
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert cli_main(["live", "--port", "8123"]) == 2 and calls == [8123]
