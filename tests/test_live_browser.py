"""The live page in a real headless browser: Debian's chromium driven by Playwright.

The server runs on a free port of 127.0.0.1 in a thread; the page is loaded as a user
would, and what it shows is read from the DOM.  Skipped, with the reason, only when
Playwright or a chromium is not installed (CI installs both: see .ci/run).
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the live page needs the [live] extra")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)

from tinygrad_bp import autograd, nn  # noqa: E402
from tinygrad_bp import functional as F  # noqa: E402
from tinygrad_bp.commands.live.registry import build_model, load_dataset  # noqa: E402
from tinygrad_bp.commands.live.server import LiveConfig, LiveServer  # noqa: E402
from tinygrad_bp.tensor import Tensor  # noqa: E402
from tinygrad_bp.viz.read import completion_order  # noqa: E402


def _chromium() -> str | None:
    for name in (os.environ.get("TINYGRAD_BP_CHROMIUM"), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium to drive (apt-get install chromium; .ci/run installs it)",
)
HIDDEN = (6,)  # one small hidden layer: the walk's frames are drawn in about a second


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def server():
    srv = LiveServer(LiveConfig(data="moons", hidden=HIDDEN, delay=0.01), port=0).start()
    yield srv
    srv.stop()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    return page, errors


def _session(server, page):
    sid = page.wait_for_function("document.body.dataset.session").json_value()
    return server.app.state.sessions[sid]


def test_page_shows_training_loss_falls_and_graph_updates(browser, server):
    page, errors = _open(browser, server.url)
    try:
        page.wait_for_selector("#graph svg", timeout=15000)
        page.wait_for_function("document.querySelector('#readout').dataset.step > 0")
        first = float(page.get_attribute("#readout", "data-first-loss"))
        v0 = int(page.get_attribute("#graph", "data-version"))
        b0 = int(page.get_attribute("#boundary", "data-updates"))
        page.wait_for_function(
            f"document.querySelector('#readout').dataset.loss < {first / 2}", timeout=20000
        )
        page.wait_for_function(
            f"document.querySelector('#graph').dataset.version > {v0}", timeout=15000
        )
        assert int(page.get_attribute("#boundary", "data-updates")) > b0
        # the graph is the collapsed picture, with the layers and the gradient norms
        svg = page.inner_text("#graph")
        assert "Dense 2→6, tanh" in svg and "∂L/∂W¹" in svg and "cross_entropy" in svg
        cards = page.locator("#layers .layer")
        assert cards.count() == 2
        assert "∂L/∂0.W" in cards.nth(0).inner_text()
        cards.nth(1).hover()  # marks the same module's node in the graph
        assert page.locator("#graph g.hl").get_attribute("id") == "module:1"
        assert page.locator("#curves polyline[data-series=loss]").count() == 1
        assert page.inner_text("#status") == "running"
        assert errors == []
    finally:
        page.close()


def test_pause_step_walks_the_backward_pass_in_the_engines_order(browser, server):
    page, errors = _open(browser, server.url)
    try:
        session = _session(server, page)
        page.wait_for_function("document.body.dataset.status === 'running'")
        page.click("#pause")
        page.wait_for_function("document.body.dataset.status === 'paused'")
        steps_paused = session.snapshot()["step"]
        # a refused setting says why; good ones change while paused and reach the optimizer
        page.fill("#lr", "-1")
        page.click("#apply")
        page.wait_for_selector("#notice:not([hidden])")
        assert "learning rate must be a number in (0, 100)" in page.inner_text("#notice")
        page.fill("#lr", "0.07")
        page.fill("#bs", "9")
        page.click("#apply")
        page.wait_for_function("!document.querySelector('#message').hidden")
        page.wait_for_selector("#notice", state="hidden")
        assert session.settings.lr == 0.07 and session.opt.lr == 0.07
        assert session.settings.batch_size == 9
        time.sleep(0.3)
        assert session.snapshot()["step"] == steps_paused  # paused means paused
        page.click("#step")
        page.wait_for_selector("#walk:not([hidden])", timeout=20000)
        walk = session.current_walk()
        assert len(walk.batch) == 9
        # the engine's own order, from the same weights and rows, independently of the page
        ds = load_dataset("moons")
        twin = build_model("mlp", ds, hidden=HIDDEN, seed=99)
        twin.load_state_dict(walk.weights)
        loss = F.cross_entropy(twin(Tensor(ds.X[walk.batch])), ds.y[walk.batch])
        seen: list[Tensor] = []
        autograd.backward(
            loss, np.ones(()), retain_graph=True, accumulate=False,
            hook=lambda n, g: seen.append(n),
        )  # fmt: skip
        # (each leaf right after the last node sending it a gradient, as the pictures show)
        order = [(n.op or "", ",".join(map(str, n.shape))) for n in completion_order(seen)]
        shown, srcs = [], []
        for k in range(len(order)):
            page.wait_for_function(f"document.querySelector('#caption').dataset.k == {k}")
            page.wait_for_function("document.querySelector('#frame').complete")
            cap = page.locator("#caption")
            shown.append((cap.get_attribute("data-op"), cap.get_attribute("data-shape")))
            srcs.append(page.get_attribute("#frame", "src"))
            w = page.evaluate("document.querySelector('#frame').naturalWidth")
            assert w > 100, f"frame {k} did not load"
            assert page.locator("#order li.current").inner_text() == f"∂L/∂{walk.names[k]}"
            if k < len(order) - 1:
                page.click("#next")
        assert shown == order
        assert len(set(srcs)) == len(order)  # one frame per node
        assert page.is_disabled("#next")
        # a click shows the frame at its actual size (its text readable, scrolled), another
        # fits it to the page again
        size = "(f => [f.clientWidth, f.naturalWidth])(document.querySelector('#frame'))"
        page.click("#frame")
        shown_w, natural_w = page.evaluate(size)
        assert shown_w == natural_w
        page.click("#frame")
        shown_w, _ = page.evaluate(size)
        box = page.evaluate("document.querySelector('#framebox').clientWidth")
        assert shown_w <= box
        n = len(order)
        assert page.inner_text("#caption").startswith(f"node {n} of {n}: ∂L/∂{walk.names[-1]}")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"document.querySelector('#caption').dataset.k == {len(order) - 2}")
        assert session.snapshot()["step"] == steps_paused + 1  # exactly one step was taken
        page.click("#pause")  # now "resume"
        page.wait_for_function("document.body.dataset.status === 'running'")
        page.wait_for_selector("#walk", state="hidden")
        refused = "Failed to load resource: the server responded with a status of 400"
        assert [e for e in errors if not e.startswith(refused)] == []  # only the bad lr's
    finally:
        page.close()


def test_closing_the_page_stops_its_training(browser, server):
    page, _ = _open(browser, server.url)
    session = _session(server, page)
    page.wait_for_function("document.querySelector('#readout').dataset.step > 0")
    assert session.alive
    page.close()
    end = time.monotonic() + 10
    while session.alive and time.monotonic() < end:
        time.sleep(0.05)
    assert not session.alive
    assert session.snapshot()["status"] == "stopped"


def test_the_pages_posts_carry_its_token(browser, server):
    """Restarting closes the old session with a POST (a keepalive fetch with the page's
    token, not a beacon, which could not carry it): the server accepts it."""
    page, errors = _open(browser, server.url)
    try:
        first = _session(server, page)
        page.wait_for_function("document.querySelector('#readout').dataset.step > 0")
        with page.expect_response(lambda r: r.url.endswith("/close"), timeout=60000) as close:
            page.click("#restart")
        assert close.value.status == 200
        end = time.monotonic() + 30
        while first.alive and time.monotonic() < end:
            time.sleep(0.05)
        assert not first.alive
        assert errors == []
    finally:
        page.close()


class _Broken(nn.Module):
    def __init__(self) -> None:
        self.inner = nn.Dense(2, 2, rng=0)

    def forward(self, x):
        return self.inner(x) @ Tensor(np.ones((3, 3)))  # a shape error in the user's model


def test_a_failing_model_is_shown_and_the_page_stays_up(browser):
    data = (np.zeros((8, 2)), np.arange(8) % 2)
    with LiveServer(LiveConfig(data=data, model=_Broken()), port=0) as srv:
        page, _ = _open(browser, srv.url)
        try:
            page.wait_for_selector("#error:not([hidden])", timeout=15000)
            text = page.inner_text("#error")
            assert text.startswith("Training stopped: ") and "matmul" in text
            assert page.inner_text("#status") == "error"
            assert page.is_disabled("#pause") and page.is_disabled("#step")
            assert page.is_disabled("#data")  # the user's own model: no switching
            page.reload()  # the server is still there
            page.wait_for_selector("#error:not([hidden])", timeout=15000)
        finally:
            page.close()


def test_digits_cnn_page_shows_conv_layers_and_its_loss_falls(browser):
    srv = LiveServer(LiveConfig(data="digits", delay=0.0, stats_every=0.5), port=0).start()
    page, errors = _open(browser, srv.url)
    try:
        page.wait_for_selector("#graph svg", timeout=30000)
        page.wait_for_function("document.querySelector('#readout').dataset.step > 0")
        first = float(page.get_attribute("#readout", "data-first-loss"))
        assert first == pytest.approx(np.log(10), abs=0.5)  # ten classes, about uniform
        page.wait_for_function(
            f"document.querySelector('#readout').dataset.loss < {0.7 * first}", timeout=60000
        )
        # the collapsed graph of the CNN: its two convolutions and the linear head, one
        # node each, and a card per layer
        svg = page.inner_text("#graph")
        assert svg.count("Conv2d(") == 2 and "MaxPool2d(" in svg and "Linear(" in svg
        assert page.locator("#graph g[id^='module:net.']").count() == 8
        names = page.locator("#layers .layer").all_inner_texts()
        assert sum("Conv2d" in n for n in names) == 2, names
        assert errors == []
    finally:
        page.close()
        srv.stop()


def test_names_page_shows_sampled_names(browser):
    srv = LiveServer(LiveConfig(data="names", delay=0.0, stats_every=0.5), port=0).start()
    page, errors = _open(browser, srv.url)
    try:
        page.wait_for_selector("#samples:not([hidden])", timeout=30000)
        text = page.inner_text("#samples")
        assert text.startswith("sampled: ") and len(text.split(", ")) == 8
        assert "Embedding(27, 24" in page.inner_text("#graph") and errors == []
    finally:
        page.close()
        srv.stop()
