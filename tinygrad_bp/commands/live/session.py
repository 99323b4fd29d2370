"""One training run behind one page: a background thread, its controls and its snapshots.

The thread owns the model: it alone runs forward, backward and the optimizer, so the web
server never waits on training and never sees a half-updated model.  The server talks to
it through a small command queue (pause, resume, step, settings, stop) and reads
:meth:`Session.snapshot`, a plain dict built under a lock.  Anything the model raises is
caught, shown on the page as ``error`` and stops the training, not the server.
"""

from __future__ import annotations

import math
import queue
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The engine and the pictures by absolute name: this package is meant to move under
# tinygrad_bp.viz; only its own modules are imported relatively.
from tinygrad_bp import autograd, nn, optim
from tinygrad_bp.autograd import no_grad
from tinygrad_bp.tensor import Tensor

from .registry import Dataset

__all__ = ["Session", "Walk", "OPTIMIZERS", "HIST_BINS", "BOUNDARY_GRID"]

OPTIMIZERS = ("sgd", "adam")
HIST_BINS = 16  # bars in each small histogram
BOUNDARY_GRID = 64  # the decision boundary's grid is BOUNDARY_GRID × BOUNDARY_GRID
MAX_HISTORY = 2000  # curve points kept: older ones are thinned, not dropped
EVAL_ROWS = 1000  # the curves are measured on at most this many (seeded) training rows

# Graphviz keeps global state and is not thread-safe: pages training at the same time take
# turns drawing (each picture takes a fraction of a second).
_DRAW_LOCK = threading.Lock()


def _stats(a: Any) -> dict[str, Any]:
    """Norm, mean, std, range and a histogram of an array: a few numbers for the page."""
    a = np.asarray(a, dtype=np.float64).ravel()
    if a.size == 0:
        return {"norm": 0.0, "mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0, "hist": []}
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if hi <= lo:
        hi = lo + 1e-12
    counts, _ = np.histogram(finite, bins=HIST_BINS, range=(lo, hi))
    return {
        "norm": float(np.sqrt(np.sum(a * a))),
        "mean": float(a.mean()),
        "std": float(a.std()),
        "min": lo,
        "max": hi,
        "hist": counts.tolist(),
    }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None  # JSON has no NaN


def _summary(sm: Any) -> dict[str, Any] | None:
    """A :class:`tinygrad_bp.viz.Summary` as the page's numbers (None where unknown)."""
    if sm is None:
        return None
    edges = list(sm.edges)
    return {
        "norm": _finite(sm.norm),
        "mean": _finite(sm.mean),
        "std": _finite(sm.std),
        "min": _finite(edges[0]) if edges else None,
        "max": _finite(edges[-1]) if edges else None,
        "hist": list(sm.hist),
    }


def check_lr(lr: Any) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr < 100):
        raise ValueError(f"live: learning rate must be a number in (0, 100), got {lr!r}")
    return float(lr)


def check_batch_size(bs: Any, n: int) -> int:
    if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or not 1 <= bs <= n:
        raise ValueError(
            f"live: batch size must be an integer from 1 to {n} (the rows), got {bs!r}"
        )
    return int(bs)


@dataclass
class Walk:
    """One backward pass walked node by node: the step frames of
    :func:`tinygrad_bp.viz.backward_steps` and, per frame, the engine's node."""

    id: int
    step: int  # the training step whose backward pass this is
    folder: str
    frames: list[str]  # PNG paths, one per node the engine processed
    names: list[str]  # the node each frame highlights, as the pictures name it
    nodes: list[dict[str, Any]]  # {"op": ..., "shape": [...]} in the engine's order
    batch: np.ndarray  # row indices of the batch (so a test can redo the step)
    weights: dict[str, np.ndarray]  # the parameters before the step's update
    loss: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "count": len(self.frames),
            "names": self.names,
            "nodes": self.nodes,
            "loss": self.loss,
        }


@dataclass
class _Settings:
    lr: float
    batch_size: int
    delay: float  # seconds between steps, so that the page can be watched
    every: int  # steps between refreshes of the curves
    stats_every: float  # seconds between refreshes of the graph and the statistics


@dataclass
class _State:
    status: str = "starting"  # starting, running, paused, walking, error, stopped
    step: int = 0
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    graph_svg: str = ""
    graph_version: int = 0
    graph_error: str | None = None
    boundary: dict[str, Any] | None = None
    boundary_version: int = 0
    walk: Walk | None = None
    error: str | None = None
    message: str | None = None
    samples: list[str] | None = None


class Session:
    """Train ``model`` on ``data`` in a background thread; start with :meth:`start`.

    ``loss(output, y)`` gives the scalar loss.  The page reads :meth:`snapshot` and sends
    commands through :meth:`command`.  :meth:`stop` ends the thread (joined) and removes
    the step frames' temporary folder.
    """

    def __init__(
        self,
        model: nn.Module,
        data: Dataset,
        loss: Callable[[Tensor, np.ndarray], Tensor],
        title: str,
        inputs: Callable[[np.ndarray], Any] = Tensor,
        lr: float = 0.01,
        batch_size: int = 32,
        optimizer: str = "adam",
        seed: int = 0,
        delay: float = 0.02,
        every: int = 5,
        stats_every: float = 1.0,
        start_paused: bool = False,
        samples: Callable[[nn.Module], list[str]] | None = None,
    ) -> None:
        if not hasattr(model, "parameters") or not callable(model):
            raise TypeError(f"live: model must be an nn.Module, got {type(model).__name__}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"live: unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
        params = model.parameters()
        if not params:
            raise ValueError("live: the model has no parameters to train")
        self.model = model
        self.data = data
        self.rows, self.classes = len(data.X), list(data.classes)  # kept after stopping
        self.loss_fn = loss
        self.inputs = inputs
        self.samples_fn = samples
        self.title = title
        self.seed = int(seed)
        self.optimizer_name = optimizer
        n = len(data.X)
        self.settings = _Settings(
            check_lr(lr), check_batch_size(min(batch_size, n), n), float(delay), max(1, int(every)),
            float(stats_every),
        )  # fmt: skip
        self.opt = (
            optim.Adam(params, lr=self.settings.lr)
            if optimizer == "adam"
            else optim.SGD(params, lr=self.settings.lr)
        )
        self._rng = np.random.default_rng(self.seed)
        self._order = self._rng.permutation(n)
        self._pos = 0
        self._eval = np.sort(self._rng.permutation(n)[:EVAL_ROWS])
        self.state = _State()
        self.version = 0  # bumped whenever the snapshot changes
        self._lock = threading.Lock()
        self._commands: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._paused = start_paused
        self._stop = threading.Event()
        self._tmp = tempfile.mkdtemp(prefix="tinygrad-bp-live-")
        self._walk_id = 0
        self._last_stats = -math.inf
        self._grid = self._boundary_grid() if data.is_2d else None
        self._thread = threading.Thread(target=self._run, name="tinygrad-bp-live", daemon=True)
        self.started_at = time.time()

    # ------------------------------------------------------------------ control
    def start(self) -> Session:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def command(self, name: str, **kwargs: Any) -> None:
        """Queue ``pause``, ``resume``, ``step``, ``set`` (``lr=``, ``batch_size=``).

        ``set`` is checked here so the page gets the error at once; it is refused while
        training runs (pause first), as the brief of the page promises.
        """
        if name not in ("pause", "resume", "step", "set"):
            raise ValueError(f"live: unknown command {name!r}; expected pause, resume, step or set")
        if self.state.status == "error":
            raise RuntimeError(f"live: training stopped on an error: {self.state.error}")
        if self.state.status == "stopped":
            raise RuntimeError("live: this session has stopped")
        if name == "set":
            if not self._paused:
                raise RuntimeError("live: pause training before changing its settings")
            if "lr" in kwargs and kwargs["lr"] is not None:
                kwargs["lr"] = check_lr(kwargs["lr"])
            if "batch_size" in kwargs and kwargs["batch_size"] is not None:
                kwargs["batch_size"] = check_batch_size(kwargs["batch_size"], self.rows)
        if name == "step" and not self._paused:
            raise RuntimeError("live: pause training before walking a step")
        if name == "pause":
            self._paused = True  # at once, so that a following set/step is accepted
        self._commands.put((name, kwargs))

    def request_stop(self) -> None:
        """Ask the thread to stop after its current step; returns at once (safe to call
        from an event loop that is being cancelled)."""
        self._stop.set()
        self._commands.put(("wake", {}))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop training, wait for the thread and remove the temporary frames."""
        self.request_stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._finish()

    def _finish(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
        with self._lock:
            if self.state.status != "error":
                self.state.status = "stopped"
            self.version += 1
        self._release()

    def _release(self) -> None:
        """Once the thread is over, drop the model, the data, the optimizer and every
        picture and curve: a stopped session keeps only its last status (a server that
        serves many pages in turn stays the same size).  The thread itself calls this
        when it ends, if :meth:`stop` gave up waiting for it."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            return
        with self._lock:
            self.model = self.data = self.opt = None  # type: ignore[assignment]
            self.loss_fn = self.inputs = self.samples_fn = None  # type: ignore[assignment]
            self._grid = self._order = self._eval = None  # type: ignore[assignment]
            s = self.state
            s.history, s.layers, s.boundary, s.graph_svg = [], [], None, ""
            s.walk, s.samples = None, None
            self.version += 1

    # ------------------------------------------------------------------ reading
    def snapshot(self, since: int = 0, boundary_since: int = -1) -> dict[str, Any]:
        """What the page shows: status, settings, curve points from index ``since``, the
        layer statistics, the graph's version (the SVG itself comes from :meth:`graph`),
        the decision boundary (None when its version is still ``boundary_since``) and the
        current walk."""
        with self._lock:
            s = self.state
            return {
                "version": self.version,
                "title": self.title,
                "status": s.status,
                "step": s.step,
                "epoch": s.epoch,
                "lr": self.settings.lr,
                "batch_size": self.settings.batch_size,
                "rows": self.rows,
                "optimizer": self.optimizer_name,
                "classes": self.classes,
                "history_len": len(s.history),
                "history": s.history[since:],
                "layers": s.layers,
                "graph_version": s.graph_version,
                "graph_error": s.graph_error,
                "boundary": s.boundary if s.boundary_version != boundary_since else None,
                "boundary_version": s.boundary_version,
                "walk": s.walk.public() if s.walk else None,
                "error": s.error,
                "message": s.message,
                "samples": s.samples,
            }

    def graph(self) -> tuple[int, str]:
        with self._lock:
            return self.state.graph_version, self.state.graph_svg

    def walk_frame(self, walk_id: int, k: int) -> str | None:
        with self._lock:
            w = self.state.walk
            if w is None or w.id != walk_id or not 0 <= k < len(w.frames):
                return None
            return w.frames[k]

    def current_walk(self) -> Walk | None:
        with self._lock:
            return self.state.walk

    # ------------------------------------------------------------------ the thread
    def _set(self, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self.state, k, v)
            self.version += 1

    def _run(self) -> None:
        try:
            self._set(status="paused" if self._paused else "running")
            self._evaluate()
            self._refresh(force=True)
            while not self._stop.is_set():
                self._handle_commands(block=self._paused)
                if self._stop.is_set():
                    break
                if self._paused:
                    continue
                self._train_step()
                if self.settings.delay > 0:
                    self._stop.wait(self.settings.delay)  # also lets the server thread run
        except Exception as exc:  # the model's own code: show it, keep the server up
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
            self._set(status="error", error=f"{type(exc).__name__}: {exc}{where}")
        finally:
            if self._stop.is_set():
                self._finish()
            else:  # an error ended it: the page shows the error, nothing needs the model
                self._release()

    def _handle_commands(self, block: bool) -> None:
        while True:
            try:
                get = self._commands.get
                name, kw = get(timeout=0.25) if block else get(block=False)
            except queue.Empty:
                return
            if name == "pause":
                self._paused = True
                self._set(status="paused", message=None)
            elif name == "resume":
                self._paused = False
                self._set(status="running", walk=None, message=None)
                return
            elif name == "set":
                if kw.get("lr") is not None:
                    self.settings.lr = kw["lr"]
                    self.opt.lr = kw["lr"]
                if kw.get("batch_size") is not None:
                    self.settings.batch_size = kw["batch_size"]
                self._set(message="settings changed")
            elif name == "step":
                self._walk_step()
            block = False  # drain what is queued, then go on

    def _next_batch(self) -> np.ndarray:
        bs = self.settings.batch_size
        n = len(self.data.X)
        if bs >= n:
            self._pos = 0
            self.state.epoch += 1
            return np.arange(n)
        if self._pos + bs > n:  # a new epoch: reshuffle
            self._order = self._rng.permutation(n)
            self._pos = 0
            self.state.epoch += 1
        idx = self._order[self._pos : self._pos + bs]
        self._pos += bs
        return idx

    def _forward(self, x: Any) -> Tensor:
        out = self.model(x)
        if not isinstance(out, Tensor):
            raise TypeError(f"live: the model returned {type(out).__name__}, not a Tensor")
        return out

    def _loss(self, idx: np.ndarray) -> tuple[Tensor, Tensor]:
        out = self._forward(self.inputs(self.data.X[idx]))
        loss = self.loss_fn(out, self.data.y[idx])
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise TypeError("live: the loss must be a Tensor with one element")
        return loss, out

    def _train_step(self) -> None:
        idx = self._next_batch()
        loss, out = self._loss(idx)
        due = time.monotonic() - self._last_stats >= self.settings.stats_every
        # before backward: the pictures run their own, on the graph that still has its values
        modules = self._pictures(loss) if due else None
        self.opt.zero_grad()
        loss.backward()
        if due:
            self._layer_stats(modules, out)
        self.opt.step()
        self._after_step()

    def _after_step(self) -> None:
        with self._lock:
            self.state.step += 1
            self.version += 1
        if self.state.step % self.settings.every == 0:
            self._evaluate()
        if time.monotonic() - self._last_stats >= self.settings.stats_every:
            self._refresh()

    def _evaluate(self) -> None:
        with no_grad():
            out = self._forward(self.inputs(self.data.X[self._eval]))
            y = self.data.y[self._eval]
            loss = float(self.loss_fn(out, y).data)
            acc = float((np.asarray(out.data).argmax(axis=-1) == y).mean())
        point = {"step": self.state.step, "loss": _finite(loss), "accuracy": acc}
        with self._lock:
            h = self.state.history
            h.append(point)
            if len(h) > MAX_HISTORY:  # keep every other old point: the curve's shape stays
                self.state.history = h[: MAX_HISTORY // 2 : 2] + h[MAX_HISTORY // 2 :]
            self.version += 1
        if self._grid is not None:
            self._boundary()

    def _refresh(self, force: bool = False) -> None:
        """Graph and statistics from a forward/backward on one batch that changes nothing."""
        if not force and time.monotonic() - self._last_stats < self.settings.stats_every:
            return
        idx = self._order[: min(self.settings.batch_size, len(self._order))]
        loss, out = self._loss(np.sort(idx))
        modules = self._pictures(loss)
        saved = {id(p): p.grad for p in self.model.parameters()}
        for p in self.model.parameters():
            p.grad = None
        loss.backward()
        self._layer_stats(modules, out)
        for p in self.model.parameters():  # leave .grad as the last real step left it
            p.grad = saved[id(p)]
        if self.samples_fn is not None:
            self._set(samples=[str(x) for x in self.samples_fn(self.model)])

    def _pictures(self, loss: Tensor) -> list[Any] | None:
        """Draw the collapsed backward picture of ``loss`` and read its modules' numbers
        (:func:`tinygrad_bp.viz.module_stats`: the nodes of that same picture).  If the
        picture cannot be made, the page says why and training goes on: the picture is
        not the model.  Returns the module statistics, or None."""
        from tinygrad_bp import viz

        t0 = time.monotonic()
        try:
            with _DRAW_LOCK:
                g = viz.draw_graph(loss, backward=True, model=self.model, collapse=True)
                svg = g.pipe("svg").decode("utf-8")
            modules = viz.module_stats(loss, model=self.model, backward=True, bins=HIST_BINS)
        except (ValueError, TypeError, RuntimeError, ImportError) as exc:
            self._set(graph_error=f"the graph cannot be drawn: {exc}")
            self.settings.stats_every = max(self.settings.stats_every, 10.0)  # don't retry often
            return None
        with self._lock:
            self.state.graph_svg = svg
            self.state.graph_error = None
            self.state.graph_version += 1
            self.version += 1
        # a slow picture (a big model) is refreshed less often
        self.settings.stats_every = max(self.settings.stats_every, 4 * (time.monotonic() - t0))
        return modules

    def _layer_stats(self, modules: list[Any] | None, out: Tensor) -> None:
        """One card per module node of the collapsed picture: its output and the gradient
        with respect to it (from ``module_stats``), and its own parameters' ``.grad`` (the
        arrays this step's update uses)."""
        params = list(self.model.named_parameters())

        def own(name: str | None) -> list[dict[str, Any]]:
            return [
                {
                    "name": n,
                    "shape": list(p.shape),
                    "grad": _stats(p.grad) if p.grad is not None else None,
                    "value": _stats(p.data),
                }
                for n, p in params
                if name is None or (n.rsplit(".", 1)[0] if "." in n else "") == name
            ]

        layers = []
        for m in modules or []:
            label = f"{m.name} {m.title}"
            if m.calls > 1:
                label += f", call {m.call} of {m.calls}"
            layers.append(
                {
                    "name": label,
                    "svg_id": m.svg_id,
                    "shape": list(m.shapes[0]) if m.shapes else [],
                    "activation": _summary(m.output),
                    "grad": _summary(m.grad),
                    "params": own(m.name) if m.call == 1 else [],  # a cell's: on its first call
                }
            )
        if not layers:  # no module nodes (or no picture): the output and every parameter
            layers.append(
                {
                    "name": "output",
                    "svg_id": None,
                    "shape": list(out.shape),
                    "activation": _stats(out.data),
                    "grad": None,
                    "params": own(None),
                }
            )
        self._last_stats = time.monotonic()
        self._set(layers=layers)

    def _boundary_grid(self) -> dict[str, Any]:
        X = self.data.X
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-9
        lo, hi = lo - pad, hi + pad
        xs = np.linspace(lo[0], hi[0], BOUNDARY_GRID)
        ys = np.linspace(hi[1], lo[1], BOUNDARY_GRID)  # the top row of the image first
        gx, gy = np.meshgrid(xs, ys)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        return {"lo": lo.tolist(), "hi": hi.tolist(), "points": points}

    def _boundary(self) -> None:
        g = self._grid
        assert g is not None  # only called for 2-D data
        with no_grad():
            out = self._forward(self.inputs(g["points"]))
        z = np.asarray(out.data, dtype=np.float64)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        p = z / z.sum(axis=1, keepdims=True)
        self._set(
            boundary_version=self.state.boundary_version + 1,
            boundary={
                "size": BOUNDARY_GRID,
                "lo": g["lo"],
                "hi": g["hi"],
                "cls": p.argmax(axis=1).astype(int).tolist(),
                "conf": np.round(p.max(axis=1), 2).tolist(),
                "X": np.round(self.data.X, 3).tolist(),
                "y": self.data.y.tolist(),
            },
        )

    def _walk_step(self) -> None:
        """One training step whose backward pass is drawn frame by frame first."""
        from tinygrad_bp import viz

        self._set(status="walking", message="drawing the backward pass, one frame per node…")
        idx = self._next_batch()
        weights = {n: np.array(p.data, copy=True) for n, p in self.model.named_parameters()}
        loss, out = self._loss(idx)
        self._walk_id += 1
        folder = f"{self._tmp}/walk_{self._walk_id}"
        try:
            with _DRAW_LOCK:
                res = viz.backward_steps(
                    loss,
                    folder,
                    model=self.model,
                    title=f"Backward pass of step {self.state.step + 1}",
                )
        except (ValueError, TypeError, RuntimeError, ImportError) as exc:
            # no frames (a graph too big to draw node by node, say): still take the step
            self._plain_step(loss, out)
            self._set(status="paused", message=f"step taken, but not drawn: {exc}")
            return
        seen: list[Tensor] = []
        autograd.backward(
            loss,
            np.ones(loss.shape, dtype=loss.dtype),
            retain_graph=True,
            accumulate=False,
            hook=lambda node, g: seen.append(node),
        )
        # in the pictures' order: each leaf when its gradient is complete
        from tinygrad_bp.viz.read import completion_order

        nodes = [{"op": t.op, "shape": list(t.shape)} for t in completion_order(seen)]
        if len(nodes) != len(res.frames):  # the pictures and the engine must agree
            raise RuntimeError(
                f"live: {len(res.frames)} step frames but the engine processed {len(nodes)} nodes"
            )
        walk = Walk(
            self._walk_id, self.state.step + 1, folder, res.frames, list(res.order), nodes,
            idx.copy(), weights, float(loss.data),
        )  # fmt: skip
        old = self.state.walk
        self._plain_step(loss, out, publish=walk)
        if old is not None:
            shutil.rmtree(old.folder, ignore_errors=True)

    def _plain_step(self, loss: Tensor, out: Tensor, publish: Walk | None = None) -> None:
        """Backward, statistics and the update for a step taken while paused."""
        modules = self._pictures(loss)
        self.opt.zero_grad()
        loss.backward()
        self._layer_stats(modules, out)
        self.opt.step()
        self._set(walk=publish, status="paused", message=None)
        self._after_step()
