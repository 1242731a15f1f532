"""One headless Chromium per process, driven by Playwright from its own thread.

``browser_lease()`` is an ``envs.services`` lease on the process-wide :class:`BrowserService`
(key ``gui:chromium``): nothing starts until the first ``lease.get()``.  Playwright's API is bound
to the thread (event loop) that started it, while envs are stepped from whatever thread the rollout
engine uses, so the service owns an asyncio loop in a daemon thread and every browser call is a
coroutine submitted to it (:meth:`BrowserService.call`); envs in one process share the browser
and interleave on that loop.

Sessions are pages of one shared browser context per viewport size (a new context costs ~0.75 s,
a new page ~0.05 s), held in a :class:`~envs.services.BoundedSessions` table (at most 64 pages,
reclaimed after 15 idle minutes).  Chromium is the Debian one (``/usr/bin/chromium``, or
``$TURNGYM_CHROMIUM``); Playwright never downloads a browser.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from envs.services import BoundedSessions, Lease, acquire

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--font-render-hinting=none",
]
SERVICE_KEY = "gui:chromium"
CALL_TIMEOUT_S = 60.0


def chromium_path() -> str | None:
    """The system Chromium binary, or None."""
    for candidate in (os.environ.get("TURNGYM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def browser_unavailable() -> str | None:
    """Why a browser cannot run here (None when it can): the reason GUI tests skip with."""
    if chromium_path() is None:
        return "no Chromium at /usr/bin/chromium (run scripts/setup.d/40-browser.sh, or set TURNGYM_CHROMIUM)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'turngym[gui]')"
    return None


class BrowserService:
    """A ``Service``: Chromium under Playwright's async API, on a private event-loop thread."""

    def __init__(self, max_pages: int = 64, idle_ttl: float = 900.0):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pw: Any = None
        self.browser: Any = None
        self._contexts: dict[tuple[int, int], Any] = {}
        self.pages: BoundedSessions[Any] = BoundedSessions(max_pages, idle_ttl, on_close=self._close_page)

    # ----- Service protocol -----------------------------------------------------------------
    def start(self) -> None:
        reason = browser_unavailable()
        if reason:
            raise RuntimeError(reason)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="turngym-chromium", daemon=True)
        self._thread.start()
        self.call(self._launch)

    async def _launch(self) -> None:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)

    def healthy(self) -> bool:
        return bool(self._thread and self._thread.is_alive() and self.browser is not None and self.browser.is_connected())

    def stop(self) -> None:
        if self._loop is None:
            return
        self.pages.close_all()

        async def shutdown() -> None:
            for ctx in self._contexts.values():
                await _quietly(ctx.close())
            if self.browser is not None:
                await _quietly(self.browser.close())
            if self._pw is not None:
                await _quietly(self._pw.stop())

        try:
            self.call(shutdown, timeout=20)
        except Exception:  # noqa: BLE001, S110 - stopping a dead browser
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop, self._thread, self.browser, self._pw = None, None, None, None

    # ----- calls ------------------------------------------------------------------------------
    def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Run the coroutine function ``fn(*args)`` on the browser's loop and wait for its result."""
        if self._loop is None:
            raise RuntimeError("the browser service is not running")
        return asyncio.run_coroutine_threadsafe(fn(*args), self._loop).result(timeout)

    def new_page(self, width: int, height: int) -> str:
        """Open a page (a session) with a ``width`` x ``height`` viewport; returns its session id."""

        async def open_page() -> Any:
            ctx = self._contexts.get((width, height))
            if ctx is None:
                ctx = self._contexts[(width, height)] = await self.browser.new_context(
                    viewport={"width": width, "height": height}, device_scale_factor=1, reduced_motion="reduce")
            return await ctx.new_page()

        return str(self.pages.add(self.call(open_page)))

    def page(self, session: str) -> Any:
        return self.pages.get(session)

    def close_page(self, session: str) -> None:
        self.pages.close(session)

    def _close_page(self, key: Any, page: Any, reason: str) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(_quietly(page.close()), self._loop)


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:  # noqa: BLE001, S110 - closing something already gone
        pass


def browser_lease() -> Lease:
    """A lease on this process's shared Chromium (started on first ``get()``)."""
    return acquire(SERVICE_KEY, BrowserService)
