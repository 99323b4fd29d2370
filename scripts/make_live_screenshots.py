"""Screenshots of the live page for docs/live.md, taken in headless chromium.

    python scripts/make_live_screenshots.py            # writes docs/images/live_*.png

The page is served by the project's own server (``tinygrad_bp.commands.live``) on a free port of
127.0.0.1 and driven by Playwright with the system's chromium (``apt-get install
chromium``; set ``TINYGRAD_BP_CHROMIUM`` to use another).  Four pictures:

- ``live_spirals.png``: two spirals training, paused after 400 steps: curves, decision
  boundary, the collapsed graph with its gradient norms and the layer statistics;
- ``live_step.png``: then "step": the backward pass of one step, walked to its 6th node;
- ``live_iris.png``: the tutorial's network on Iris, paused after 300 steps;
- ``live_digits.png``: the digits CNN on the 8×8 digits, paused after 150 steps: its
  collapsed graph (Conv2d, ReLU, MaxPool2d, ..., Linear) with the layer statistics.

Each file is written to a temporary name and renamed into place, so a failed run leaves
the old pictures as they were.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT))

from tinygrad_bp.commands.live.server import LiveConfig, LiveServer  # noqa: E402


def _chromium() -> str:
    for name in (os.environ.get("TINYGRAD_BP_CHROMIUM"), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    raise SystemExit("make_live_screenshots: no chromium found (apt-get install chromium)")


def _shot(page, name: str, **kw) -> Path:
    final = IMAGES / name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".png", dir=IMAGES)
    os.close(fd)
    try:
        page.screenshot(path=tmp, **kw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {final.relative_to(ROOT)}")
    return final


def _run_until(page, steps: int) -> None:
    page.wait_for_selector("#graph svg", timeout=30000)
    page.wait_for_function(
        f"document.querySelector('#readout').dataset.step >= {steps}", timeout=120000
    )
    page.click("#pause")
    page.wait_for_function("document.body.dataset.status === 'paused'")
    page.wait_for_timeout(600)  # the last snapshot after the pause reaches the page


def main() -> int:
    from playwright.sync_api import sync_playwright

    IMAGES.mkdir(parents=True, exist_ok=True)
    config = LiveConfig(data="spirals", delay=0.01, stats_every=0.5)
    with LiveServer(config, port=0) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.goto(srv.url)
        _run_until(page, 400)
        _shot(page, "live_spirals.png")
        page.click("#step")
        page.wait_for_selector("#walk:not([hidden])", timeout=60000)
        for _ in range(5):
            page.click("#next")
        page.wait_for_function("document.querySelector('#frame').complete")
        page.set_viewport_size({"width": 1400, "height": 1100})
        page.evaluate("window.scrollTo(0, document.querySelector('#walk').offsetTop - 90)")
        page.wait_for_timeout(300)
        _shot(page, "live_step.png")
        page.set_viewport_size({"width": 1400, "height": 860})
        page.goto(srv.url + "?data=iris")
        _run_until(page, 300)
        _shot(page, "live_iris.png")
        # a tall window: the CNN's graph is a long column, drawn at 70 % of the height
        page.set_viewport_size({"width": 1400, "height": 1500})
        page.goto(srv.url + "?data=digits")
        _run_until(page, 150)
        _shot(page, "live_digits.png")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
