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

Who may talk to it (any web page the user has open can send requests to 127.0.0.1; the
checks are those of Jupyter's server and OWASP's CSRF and DNS-rebinding guidance):

- the ``Host`` header must name the loopback (``127.0.0.1``, ``localhost``, ``[::1]``) on
  this server's port: Starlette's ``TrustedHostMiddleware`` for the names (it does not
  look at the port), :class:`_Gate` for the port.  A page on a name that an attacker's
  DNS resolves to 127.0.0.1 is refused (400), and so cannot read a session's state;
- every request that changes state (anything but GET and HEAD) must carry this server's
  token (:data:`TOKEN_HEADER`, a secret made per server and written into the page, as
  Jupyter's XSRF token), come from no ``Origin`` or from this server's own, and send
  ``application/json``; a foreign page can neither read the token nor send that header
  without a CORS preflight, which is never granted;
- a request body is at most :data:`MAX_BODY` bytes, refused by its ``Content-Length``
  before it is read and counted while it streams; malformed JSON (invalid UTF-8, NaN or
  infinite numbers, huge integers, deep nesting, anything but an object) is a 4xx;
- at most :data:`MAX_SESSIONS` pages train at once (one for the user's own model), the
  slot reserved before a session is built; a stopped session keeps only its last status,
  and only the last :data:`MAX_STOPPED` of those are remembered.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import json
import math
import os
import secrets
import socket
import threading
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .registry import DATASETS, MODELS, as_dataset, build_model, load_dataset
from .session import Session

__all__ = [
    "HOST",
    "LiveConfig",
    "LiveServer",
    "create_app",
    "bind",
    "PortInUseError",
    "TOKEN_HEADER",
]

HOST = "127.0.0.1"  # never another interface: the page can drive training and read files
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")  # the Host names a request may use
MAX_SESSIONS = 4  # pages training at once (each a thread on a small machine)
MAX_STOPPED = 16  # stopped sessions whose last status is still answered
MAX_BODY = 64 * 1024  # bytes in a request body (the page sends a few dozen)
MAX_INT_DIGITS = 20  # digits of an integer in a request body
TOKEN_HEADER = "X-Tinygrad-BP-Token"  # the per-server token every POST carries
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
        from .session import check_lr

        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"live: --seed must be a non-negative integer, got {self.seed!r}")
        if self.lr is not None:
            try:
                check_lr(self.lr)
            except ValueError:
                raise ValueError(
                    f"live: lr (the learning rate) must be a number in (0, 100), got {self.lr!r}"
                ) from None
        bs = self.batch_size
        if bs is not None and (isinstance(bs, bool) or not isinstance(bs, int) or bs < 1):
            raise ValueError(f"live: batch size must be a positive integer, got {bs!r}")
        for name, v in (("delay", self.delay), ("stats_every", self.stats_every)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not (math.isfinite(v) and v >= 0)
            ):
                raise ValueError(f"live: {name} must be a number of seconds >= 0, got {v!r}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"live: every must be a positive integer, got {self.every!r}")
        if self.optimizer is not None and self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"live: unknown optimizer {self.optimizer!r}; expected sgd or adam")
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
# The files the page may ask for, by exact name: nothing else is ever opened.
_STATIC_NAMES = frozenset(
    f.name
    for f in resources.files(__package__).joinpath("static").iterdir()
    if os.path.splitext(f.name)[1] in _TYPES and not f.name.startswith(".")
)
_TOKEN_META = '<meta name="tinygrad-bp-token" content="">'


class BadRequest(Exception):
    """A request refused with ``status`` and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text} is out of range")
    return v


def _small_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def parse_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or :class:`BadRequest` (400) saying why not: not
    UTF-8, not JSON, NaN or infinite numbers, integers of more than
    :data:`MAX_INT_DIGITS` digits, nesting too deep for the parser, not an object."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(
            raw.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_small_int,
        )
    except UnicodeDecodeError:
        raise BadRequest(400, "live: the request body is not UTF-8 text") from None
    except RecursionError:
        raise BadRequest(400, "live: the request body is nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(400, f"live: the request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest(400, f"live: expected a JSON object, got a {type(body).__name__}")
    return body


@dataclass
class Access:
    """Who may talk to one app: its port (set by :class:`LiveServer` once its socket is
    bound) and its token."""

    port: int
    token: str


class _Gate:
    """Pure ASGI middleware: the port in the ``Host`` header (Starlette's
    ``TrustedHostMiddleware``, which runs first, checks the name only), the body-size cap
    by ``Content-Length``, and for every state-changing request the origin, the content
    type and the token."""

    def __init__(self, app: Any, access: Access) -> None:
        self.app = app
        self.access = access

    @property
    def port(self) -> int:
        return self.access.port

    @property
    def token(self) -> str:
        return self.access.token

    def _origins(self) -> set[str]:
        suffix = "" if self.port == 80 else f":{self.port}"
        return {f"http://{name}{suffix}" for name in LOOPBACK_NAMES}

    def _refusal(self, scope: Any) -> tuple[int, str] | None:
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        host = headers.get("host", "")
        port = host.rsplit(":", 1)[1] if ":" in host.rsplit("]", 1)[-1] else "80"
        if port != str(self.port):
            return 400, "Invalid host header: this server answers on its own port only"
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "live: the Content-Length header is not a number"
            if int(length) > MAX_BODY:
                return 413, f"live: request bodies are limited to {MAX_BODY} bytes"
        if scope["method"] in ("GET", "HEAD"):
            return None
        origin = headers.get("origin")
        if origin is not None and origin not in self._origins():
            return 403, f"live: requests from {origin} are refused (another site's page)"
        if not hmac.compare_digest(headers.get(TOKEN_HEADER, "").encode(), self.token.encode()):
            return 403, f"live: this request lacks the page's token ({TOKEN_HEADER})"
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return 415, f"live: expected Content-Type application/json, got {ctype or 'none'}"
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                from starlette.responses import JSONResponse

                status, message = refusal
                await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(config: LiveConfig, port: int = 8000, token: str | None = None) -> Any:
    """The Starlette application serving the page and its API for ``config``, answering
    only ``Host: 127.0.0.1:port`` (or ``localhost``, ``[::1]``) and requiring ``token``
    (a fresh secret when None; ``app.state.token``) on every state-changing request."""
    _starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    config.check()
    token = token or secrets.token_urlsafe(32)
    access = Access(port, token)
    sessions: dict[str, Session] = {}
    lock = threading.Lock()
    reserved = [0]  # slots taken by sessions being built

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def read_body(request: Request) -> dict[str, Any]:
        """The JSON object sent, counted while it streams (a body without a length)."""
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise BadRequest(413, f"live: request bodies are limited to {MAX_BODY} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            raise BadRequest(400, "live: the request body was cut off") from None
        return parse_body(b"".join(chunks))

    def get(request: Request) -> Session | None:
        return sessions.get(request.path_params["sid"])

    def closing() -> bool:
        server = getattr(app.state, "server", None)
        return bool(server is not None and server.should_exit)

    def forget_stopped() -> None:
        """Keep the last status of only the last MAX_STOPPED stopped sessions (the lock
        is held)."""
        stopped = [sid for sid, s in sessions.items() if not s.alive]
        for sid in stopped[: max(0, len(stopped) - MAX_STOPPED)]:
            del sessions[sid]

    page_html = _static("index.html").decode("utf-8")
    if _TOKEN_META not in page_html:  # pragma: no cover - the vendored page has it
        raise RuntimeError("live: static/index.html lacks the token's meta tag")
    page_html = page_html.replace(_TOKEN_META, _TOKEN_META.replace('""', f'"{token}"'))

    async def page(request: Request) -> Response:
        return Response(page_html, media_type=_TYPES[".html"],
                        headers={"Cache-Control": "no-store"})  # fmt: skip

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC_NAMES or name == "index.html":
            return error(404, f"no such file {name[:80]!r}")
        return Response(_static(name), media_type=_TYPES[os.path.splitext(name)[1]])

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
            body = await read_body(request)
        except BadRequest as exc:
            return error(exc.status, str(exc))
        data, model = body.get("data"), body.get("model")
        for key, v in (("data", data), ("model", model)):
            if v is not None and not isinstance(v, str):
                return error(400, f"live: {key} must be a name, got a {type(v).__name__}")
        with lock:  # the slot is taken before the session is built: the limit holds
            busy = sum(s.alive for s in sessions.values()) + reserved[0]
            if config.fixed and busy:
                return error(
                    409,
                    "live: this model is already training in another page; close that page "
                    "first (one model, one page)",
                )
            if busy >= MAX_SESSIONS:
                return error(429, f"live: {MAX_SESSIONS} pages are training already; close one")
            reserved[0] += 1
        session = None
        try:
            session = await run_in_threadpool(config.new_session, data, model)
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        finally:
            with lock:
                reserved[0] -= 1
                if session is not None:
                    sid = uuid.uuid4().hex[:12]
                    sessions[sid] = session
                    session.start()  # alive before the reservation is given back
                    forget_stopped()
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
        try:
            body = await read_body(request)
        except BadRequest as exc:
            return error(exc.status, str(exc))
        session = get(request)
        if session is None:
            return error(404, "live: no such session")
        if not isinstance(body.get("command"), str):
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
        try:
            await read_body(request)
        except BadRequest as exc:
            return error(exc.status, str(exc))
        session = get(request)
        if session is not None:
            await run_in_threadpool(session.stop)
            with lock:
                forget_stopped()
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
        middleware=[
            # the names; the port, the origin, the token and the body size in _Gate
            Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_NAMES)),
            Middleware(_Gate, access=access),
        ],
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    app.state.access = access
    app.state.token = token
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

        self.app = create_app(config, port)
        self.sock = bind(port)
        self.port = self.sock.getsockname()[1]
        self.app.state.access.port = self.port  # port 0: the one the system chose
        self.token: str = self.app.state.token
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
