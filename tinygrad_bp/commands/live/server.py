"""The live page's web server: Starlette on uvicorn, server-sent events, 127.0.0.1 only.

Why these: Starlette is a small, well-kept ASGI toolkit (routing, static files, streaming
responses, a test client) without the schema machinery of a larger framework that this
page does not need; uvicorn is the ASGI server it is usually run on, and can serve a socket
that we bound ourselves (so "port in use" is found before anything starts, with no race).
Updates flow one way, from training to the page, a few times a second: server-sent events
(``EventSource`` in every browser, plain HTTP, automatic reconnects, no extra server
package) fit that better than websockets; the few commands (pause, step, settings) are
ordinary POSTs.  The page itself is plain JavaScript and SVG from ``static/``, vendored in
the package: nothing is fetched from the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .registry import DATASETS, MODELS, as_dataset, build_model, load_dataset
from .session import Session

__all__ = ["HOST", "LiveConfig", "LiveServer", "create_app", "bind", "PortInUseError"]

HOST = "127.0.0.1"  # never another interface: the page can drive training and read files
MAX_SESSIONS = 4  # pages training at once (each a thread on a small machine)
EVENT_PERIOD = 0.25  # seconds between checks for a new snapshot


def _starlette() -> Any:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ImportError(
            "the live page needs Starlette and uvicorn: pip install 'tinygrad-bp[live]'"
        ) from None


@dataclass
class LiveConfig:
    """What a new page trains.  ``model``/``data`` are registry names, or the user's own
    ``nn.Module`` and ``(X, y)`` (then every page trains that same object, one at a time)."""

    data: Any = "spirals"
    model: Any = None  # None: the data set's default model
    hidden: tuple[int, ...] | None = None
    activation: str = "tanh"
    lr: float | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    seed: int = 0
    delay: float = 0.02
    every: int = 5
    stats_every: float = 1.0
    start_paused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fixed(self) -> bool:
        """The user's own model object: the page cannot switch to another."""
        return not (self.model is None or isinstance(self.model, str))

    def check(self) -> None:
        """Fail before serving on names and arguments that cannot work."""
        if isinstance(self.data, str):
            ds = load_dataset(self.data, self.seed)  # raises on an unknown name
        else:
            ds = as_dataset(self.data)
        if isinstance(self.model, str) and self.model not in MODELS:
            raise ValueError(
                f"live: unknown model {self.model!r}; expected one of {', '.join(MODELS)}"
            )
        if isinstance(self.model, str):
            # a model that does not fit the data (the CNN on 2-D points) says so now, not
            # in the page after it is served; building one is cheap
            build_model(self.model, ds, self.hidden, self.activation, self.seed)
        if self.fixed and not hasattr(self.model, "parameters"):
            raise TypeError(
                "live: model must be an nn.Module or a model name "
                f"({', '.join(MODELS)}), got {type(self.model).__name__}"
            )

    def new_session(self, data: str | None = None, model: str | None = None) -> Session:
        if self.fixed and (data or model):
            raise ValueError("live: this page trains the model it was given; it cannot switch")
        data_name = data or self.data
        if isinstance(data_name, str):
            ds = load_dataset(data_name, self.seed)
        else:
            ds = as_dataset(data_name, name="your data")
        if self.fixed:
            net, model_name = self.model, type(self.model).__name__
            spec = MODELS["mlp"]  # the default loss (cross-entropy) and inputs (Tensor)
        else:
            model_name = model or (self.model if isinstance(self.model, str) else None)
            model_name = model_name or ds.default_model
            hidden = self.hidden if data is None else None
            net = build_model(model_name, ds, hidden, self.activation, self.seed)
            spec = MODELS[model_name]
        return Session(
            net,
            ds,
            spec.loss,
            inputs=spec.inputs,
            samples=None if self.fixed else spec.samples,
            title=f"{model_name} on {ds.name}",
            lr=self.lr if self.lr is not None and data is None else ds.lr,
            batch_size=self.batch_size if self.batch_size and data is None else ds.batch_size,
            optimizer=self.optimizer if self.optimizer and data is None else ds.optimizer,
            seed=self.seed,
            delay=self.delay,
            every=self.every,
            stats_every=self.stats_every,
            start_paused=self.start_paused,
        )


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}  # fmt: skip


def create_app(config: LiveConfig) -> Any:
    """The Starlette application serving the page and its API for ``config``."""
    _starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    config.check()
    sessions: dict[str, Session] = {}
    lock = threading.Lock()

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def get(request: Request) -> Session | None:
        return sessions.get(request.path_params["sid"])

    def closing() -> bool:
        server = getattr(app.state, "server", None)
        return bool(server is not None and server.should_exit)

    async def page(request: Request) -> Response:
        return Response(_static("index.html"), media_type=_TYPES[".html"])

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        ext = os.path.splitext(name)[1]
        if ext not in _TYPES or "/" in name or name.startswith("."):
            return error(404, f"no such file {name!r}")
        try:
            return Response(_static(name), media_type=_TYPES[ext])
        except FileNotFoundError:
            return error(404, f"no such file {name!r}")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the browser's console

    async def api_config(request: Request) -> Response:
        return JSONResponse(
            {
                "fixed": config.fixed,
                "data": config.data if isinstance(config.data, str) else "your data",
                "model": config.model if isinstance(config.model, str) else None,
                "datasets": {k: v.title for k, v in DATASETS.items()},
                "models": {k: v.title for k, v in MODELS.items()},
            }
        )

    async def create(request: Request) -> Response:
        try:
            body = await request.json() if await request.body() else {}
        except json.JSONDecodeError:
            return error(400, "live: the request body is not JSON")
        data, model = body.get("data"), body.get("model")
        with lock:
            busy = [s for s in sessions.values() if s.alive]
            if config.fixed and busy:
                return error(
                    409,
                    "live: this model is already training in another page; close that page "
                    "first (one model, one page)",
                )
            if len(busy) >= MAX_SESSIONS:
                return error(429, f"live: {MAX_SESSIONS} pages are training already; close one")
        try:
            session = await run_in_threadpool(config.new_session, data, model)
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        sid = uuid.uuid4().hex[:12]
        with lock:
            sessions[sid] = session
        session.start()
        return JSONResponse({"id": sid, "title": session.title})

    async def events(request: Request) -> Response:
        session = get(request)
        if session is None:
            return error(404, "live: no such session (it stopped, or the server restarted)")

        async def stream() -> Any:
            sent_version, sent_history, sent_graph, sent_boundary = -1, 0, -1, -1
            try:
                yield "retry: 1000\n\n"
                while not closing():
                    if session.version != sent_version:
                        # the curve's new points only, and the boundary when it changed
                        snap = session.snapshot(since=sent_history, boundary_since=sent_boundary)
                        sent_version, sent_boundary = snap["version"], snap["boundary_version"]
                        sent_history = snap["history_len"]
                        if snap["graph_version"] != sent_graph:
                            sent_graph, snap["graph_svg"] = session.graph()
                        yield f"data: {json.dumps(snap)}\n\n"
                        if snap["status"] in ("stopped",):
                            break
                    await asyncio.sleep(EVENT_PERIOD)
            finally:
                # The page went away (closed, reloaded) or the server stops: so does
                # training.  No await here: this runs while the stream is being cancelled.
                session.request_stop()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def state(request: Request) -> Response:
        session = get(request)
        if session is None:
            return error(404, "live: no such session")
        return JSONResponse(session.snapshot())

    async def graph(request: Request) -> Response:
        session = get(request)
        if session is None:
            return error(404, "live: no such session")
        return Response(session.graph()[1], media_type="image/svg+xml")

    async def frame(request: Request) -> Response:
        session = get(request)
        if session is None:
            return error(404, "live: no such session")
        path = session.walk_frame(request.path_params["wid"], request.path_params["k"])
        if path is None or not os.path.isfile(path):
            return error(404, "live: no such step frame (a newer step replaced it)")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def control(request: Request) -> Response:
        session = get(request)
        if session is None:
            return error(404, "live: no such session")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return error(400, "live: the request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            return error(400, 'live: expected {"command": "pause" | "resume" | "step" | "set"}')
        cmd = body.pop("command")
        kw = {k: body[k] for k in ("lr", "batch_size") if k in body}
        try:
            session.command(cmd, **kw)
        except ValueError as exc:
            return error(400, str(exc))
        except RuntimeError as exc:
            return error(409, str(exc))
        return JSONResponse({"ok": True})

    async def close(request: Request) -> Response:
        session = get(request)
        if session is not None:
            await run_in_threadpool(session.stop)
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        for s in list(sessions.values()):
            await run_in_threadpool(s.stop)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", static),
            Route("/favicon.ico", favicon),
            Route("/api/config", api_config),
            Route("/api/sessions", create, methods=["POST"]),
            Route("/api/sessions/{sid}/events", events),
            Route("/api/sessions/{sid}/state", state),
            Route("/api/sessions/{sid}/graph.svg", graph),
            Route("/api/sessions/{sid}/walk/{wid:int}/{k:int}.png", frame),
            Route("/api/sessions/{sid}/control", control, methods=["POST"]),
            Route("/api/sessions/{sid}/close", close, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    return app


class PortInUseError(OSError):
    """The port is taken; ``.free`` is the next free one (or None)."""

    def __init__(self, port: int, free: int | None) -> None:
        offer = f"; the next free port is {free} (--port {free})" if free else ""
        super().__init__(
            errno.EADDRINUSE,
            f"live: port {port} on {HOST} is in use (another live page?){offer}",
        )
        self.port, self.free = port, free

    def __str__(self) -> str:  # the sentence, without OSError's "[Errno 98]"
        return str(self.strerror)


def _try_bind(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR lets a restart reuse a port in TIME_WAIT; a live listener still refuses
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        raise
    sock.listen(128)
    return sock


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port), or
    :class:`PortInUseError` naming the next free port."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"live: port must be an integer from 0 to 65535, got {port!r}")
    sock = _try_bind(port)
    if sock is not None:
        return sock
    for p in range(port + 1, min(port + 100, 65536)):
        probe = _try_bind(p)
        if probe is not None:
            probe.close()
            raise PortInUseError(port, p)
    raise PortInUseError(port, None)


class LiveServer:
    """uvicorn serving :func:`create_app` on a socket from :func:`bind`.

    :meth:`run` blocks until Ctrl-C (uvicorn's own signal handling), :meth:`start` runs it
    in a thread (notebooks, tests); :meth:`stop` ends it, and every training thread, cleanly.
    """

    def __init__(self, config: LiveConfig, port: int = 8000) -> None:
        _starlette()
        import uvicorn

        self.app = create_app(config)
        self.sock = bind(port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/"
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                timeout_graceful_shutdown=2,
                lifespan="on",
            )
        )
        self.app.state.server = self.server
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self._stop_sessions()
            self.sock.close()

    def start(self) -> LiveServer:
        self._thread = threading.Thread(
            target=self.run, name="tinygrad-bp-live-server", daemon=True
        )
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            self._thread.join(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._stop_sessions()

    def _stop_sessions(self) -> None:
        for s in list(self.app.state.sessions.values()):
            s.stop()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
