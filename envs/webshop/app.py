"""The shop as a web app (Starlette + Jinja2, plain HTML, no JavaScript) and the server that runs it.

Routes (``sid`` is a session id):

* ``POST /api/sessions`` ``{"world": "A", "goal": {...} | null}`` -> ``{"session", "url"}``;
  ``GET /api/sessions/{sid}`` -> ``{"session", "world", "has_goal", "done", "result"}`` (the result
  holds the score and its parts once bought; the goal is never sent back);
  ``DELETE /api/sessions/{sid}``; ``GET /health``.
* ``GET /s/{sid}/`` search box; ``GET /s/{sid}/search?q=&page=`` results; ``GET
  /s/{sid}/item/{asin}?q=&page=&o=axis:value...`` an item; ``GET /s/{sid}/item/{asin}/{sub}``
  its Description / Features / Reviews; ``POST /s/{sid}/buy/{asin}?o=...`` buys -> done page.
* ``GET /`` and ``POST /start?world=`` let a person open a session without a goal.

:class:`ShopServer` is an :mod:`envs.services` service: uvicorn serving the app from a thread on
127.0.0.1 (port 0 unless given), so an env starts it lazily and shares it within the process.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from envs.services import SessionGone
from envs.webshop.shop import NewSession, PageError, Shop, parse_options

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _page(request: Request, found: tuple[str, dict]) -> Response:
    name, context = found
    return TEMPLATES.TemplateResponse(request, name, context)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return -1  # out of range: the page handler says so


def create_app(shop: Shop) -> Starlette:
    """The ASGI app over ``shop`` (handlers are sync: Starlette runs them in its thread pool)."""

    def guarded(handler):
        # async on purpose: a handler is a few milliseconds of CPU (search, render) and no I/O, so running
        # it on the event loop saves the thread-pool hop a sync endpoint costs on every request
        async def run(request: Request) -> Response:
            sid = request.path_params.get("sid")
            try:
                return handler(request)
            except SessionGone as e:
                return _error(request, 404, str(e), None)
            except PageError as e:
                return _error(request, 404, str(e), f"/s/{sid}/" if sid else None)
        return run

    def _error(request: Request, status: int, message: str, home: str | None) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        response = TEMPLATES.TemplateResponse(request, "error.html", {"message": message, "home": home})
        response.status_code = status
        return response

    def index(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "index.html", {"worlds": shop.worlds})

    async def start(request: Request) -> Response:
        form = parse_qs((await request.body()).decode(errors="replace"))  # the home page's buttons post world=NAME
        world = request.query_params.get("world") or form.get("world", [""])[0]
        try:
            sid = shop.open_session(NewSession(world=world or shop.worlds[0]))
        except PageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return RedirectResponse(f"/s/{sid}/", status_code=303)

    async def new_session(request: Request) -> Response:
        try:
            spec = NewSession.model_validate_json(await request.body())
            sid = shop.open_session(spec)
        except ValidationError as e:
            return JSONResponse({"error": f"bad session request: {e.errors(include_url=False)}"}, status_code=400)
        except PageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse({"session": sid, "url": f"/s/{sid}/"}, status_code=201)

    def session_status(request: Request) -> Response:
        return JSONResponse(shop.status(request.path_params["sid"]))

    def end_session(request: Request) -> Response:
        closed = shop.sessions.close(request.path_params["sid"])
        return JSONResponse({"closed": closed}, status_code=200 if closed else 404)

    def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "sessions": len(shop.sessions), "worlds": shop.worlds})

    def search_page(request: Request) -> Response:
        return _page(request, shop.search_page(request.path_params["sid"]))

    def results(request: Request) -> Response:
        q = request.query_params
        return _page(request, shop.results_page(request.path_params["sid"], q.get("q", ""), _int(q.get("page"))))

    def item(request: Request) -> Response:
        q, p = request.query_params, request.path_params
        chosen = parse_options(q.getlist("o"))
        if "sub" in p:
            return _page(request, shop.sub_page(p["sid"], p["asin"], p["sub"], q.get("q", ""), _int(q.get("page")), chosen))
        return _page(request, shop.item_page(p["sid"], p["asin"], q.get("q", ""), _int(q.get("page")), chosen))

    def buy(request: Request) -> Response:
        p = request.path_params
        return _page(request, shop.buy(p["sid"], p["asin"], parse_options(request.query_params.getlist("o"))))

    routes = [
        Route("/", index), Route("/start", start, methods=["POST"]), Route("/health", health),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route("/api/sessions/{sid}", guarded(session_status), methods=["GET"]),
        Route("/api/sessions/{sid}", guarded(end_session), methods=["DELETE"]),
        Route("/s/{sid}/", guarded(search_page)), Route("/s/{sid}/search", guarded(results)),
        Route("/s/{sid}/item/{asin}", guarded(item)), Route("/s/{sid}/item/{asin}/{sub}", guarded(item)),
        Route("/s/{sid}/buy/{asin}", guarded(buy), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.shop = shop
    return app


class ShopServer:
    """uvicorn serving :func:`create_app` in a daemon thread (a :class:`envs.services.Service`)."""

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0, max_sessions: int = 1024,
                 idle_ttl: float = 900.0, start_timeout: float = 30.0):
        self.root, self.host, self.port = Path(root), host, port
        self.max_sessions, self.idle_ttl, self.start_timeout = max_sessions, idle_ttl, start_timeout
        self.shop: Shop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.shop = Shop(self.root, self.max_sessions, self.idle_ttl)
        for world in self.shop.worlds:
            self.shop.catalog(world)  # load catalogs now, not on the first request
        config = uvicorn.Config(create_app(self.shop), host=self.host, port=self.port, log_level="warning",
                                access_log=False, lifespan="off", timeout_keep_alive=300)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="webshop-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the shop server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def healthy(self) -> bool:
        if self._thread is None or not self._thread.is_alive():
            return False
        try:
            return httpx.get(f"{self.url}/health", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.shop is not None:
            self.shop.sessions.close_all()
