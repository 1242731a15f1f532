"""``turngym/WebShop-v0``: buy what the instruction asks for in a web shop served over HTTP.

Tools: ``search(query)`` (only where a search box is shown) and ``click(target)`` (a button or
link text, a product id, an option value).  WebShop's own action strings are accepted too:
``search[keywords]`` and ``click[value]`` (the last one in the reply), so published agents' prompts
work unchanged.  Each tool answers with the page in WebShop's simple text mode (visible text
joined by " [SEP] ") and the list of available actions.

The shop (:mod:`envs.webshop.app`) runs in this process, started on the first ``reset`` through
:mod:`envs.services` and shared by every env of the process; each episode is one server session
(closed at the episode's end), driven through one keep-alive ``httpx`` client.  Pass ``base_url``
to use a shop already running elsewhere (``turngym webshop serve``).

Reward (computed by the server at "Buy Now"): WebShop's, see :mod:`envs.webshop.reward`;
``outcome`` = score, ``success`` = score 1.0, ``info["reward_parts"]`` has r_type, r_att, r_option,
r_price.  ``state_key`` = task id, page kind, query, results page, product and selected options.
``answer`` = the target product id and its goal options.  A shop that cannot be reached raises
:class:`tools.ToolInfrastructureError` (the rollout marks the episode failed, not the policy); a
query the request cannot carry (a lone surrogate) is the policy's: a tool error, a turn spent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from envs.core import ToolEnv
from envs.services import acquire
from envs.tasks import Split, Task, TaskSet
from envs.webshop.page import PageView, read_page
from tools import ToolError, tool
from tools.calls import ToolCall, ToolInfrastructureError
from tools.text import sendable

MAX_QUERY_CHARS = 500
_RAW_ACTION = re.compile(r"\b(search|click)\[([^\[\]]*)\]")


class WebShopEnv(ToolEnv):
    family = "webshop"
    default_max_turns = 15
    system_intro = (
        "You are shopping in a web shop for the product the instruction describes. Search with "
        "search(query), open products, pick the options the instruction asks for and buy with "
        "click(target): target is a button text, a product id or an option value shown on the page. "
        "Your score depends on the product type, its attributes, the chosen options and the price."
    )

    def __init__(
        self,
        split: Split = "train",
        tasks: TaskSet | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        max_observation_chars: int | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
    ):
        if tasks is None:
            from envs.webshop.data import load_webshop_tasks

            tasks = load_webshop_tasks()
        if not hasattr(tasks, "root"):
            raise TypeError("WebShopEnv needs a task set stored under a folder (tasks.root holds the shop's worlds)")
        super().__init__(tasks, split=split, max_turns=max_turns, render_mode=render_mode, max_observation_chars=max_observation_chars)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self._lease = None if base_url else acquire(f"webshop:{Path(tasks.root).resolve()}", self._server_factory(Path(tasks.root)))
        self._client: httpx.Client | None = None
        self._sid: str | None = None
        self._url = ""
        self._view = PageView()

    @staticmethod
    def _server_factory(root: Path):
        def make():
            from envs.webshop.app import ShopServer

            return ShopServer(root)
        return make

    # ----- HTTP -----------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        base = self.base_url or self._lease.get().url
        if self._client is None or str(self._client.base_url).rstrip("/") != base:
            if self._client is not None:
                self._client.close()
            self._client = httpx.Client(base_url=base, timeout=self.timeout)
        return self._client

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http().request(method, url, **kwargs)
        except UnicodeError as e:  # text the request could not carry came from the policy (tools check it first: sendable)
            raise ToolError(f"the request cannot be sent: {e}") from e
        except Exception as e:  # connection refused, timeout, a server that failed to start
            raise ToolInfrastructureError(f"the web shop could not be reached: {type(e).__name__}: {e}") from e
        if response.status_code >= 500:
            raise ToolInfrastructureError(f"the web shop failed: HTTP {response.status_code} for {method} {url}: {response.text[:200]}")
        return response

    def _open(self, method: str, url: str, **kwargs: Any) -> str:
        response = self._request(method, url, **kwargs)
        view = read_page(response.text)
        if response.status_code >= 400:
            message = view.texts[1] if len(view.texts) > 1 else f"HTTP {response.status_code}"
            if self._sid and self._sid in message:  # our session is gone (reclaimed, or the server restarted)
                raise ToolInfrastructureError(f"the web shop lost this episode's session: {message}")
            raise ToolError(message)  # a page the shop does not have (a bad page number): stay put
        self._url, self._view = str(response.url), view
        return self.render_page()

    def render_page(self) -> str:
        actions = ", ".join(self._view.actions()) or "none (the episode is over)"
        return f"{self._view.text}\n\nAvailable actions: {actions}"

    # ----- episode --------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        data = task.data
        response = self._request("POST", "/api/sessions", json={"world": data["world"], "goal": data.get("goal")})
        if response.status_code != 201:
            raise ToolInfrastructureError(f"the web shop refused a session: HTTP {response.status_code}: {response.text[:300]}")
        self._sid = response.json()["session"]
        self._open("GET", f"/s/{self._sid}/")

    def task_prompt(self, task: Task) -> str:
        return f"Instruction: {task.prompt}\n\n{self.render_page()}"

    def end_task(self) -> None:
        if self._sid is not None and self._client is not None:
            try:
                self._client.delete(f"/api/sessions/{self._sid}")
            except httpx.HTTPError:
                pass  # the server reclaims idle sessions anyway
        self._sid = None

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._lease is not None:
            self._lease.release()

    def state_key(self) -> str:
        if self.task is None:
            return json.dumps(None)
        parts = urlsplit(self._url)
        query = parse_qs(parts.query)
        segments = parts.path.strip("/").split("/")
        asin = segments[3] if len(segments) > 3 and segments[2] in ("item", "buy") else None
        page = query.get("page", ["1" if "q" in query else ""])[0]  # the search form's first page has no page parameter
        return json.dumps([self.task.id, self._view.kind, query.get("q", [""])[0], page, asin,
                           sorted(self._view.selected.items())])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._url, self._view = "", PageView()
        obs, info = super().reset(seed=seed, options=options)
        data = self.task.data
        info.update(target_asin=data["goal"]["asin"], goal_options=dict(data["goal"]["options"]), oracle_query=data.get("oracle_query"),
                    oracle_page=data.get("oracle_page"), world=data["world"], template=data.get("template"),
                    oracle_options=data.get("oracle_options"))
        return obs, info

    def step(self, action: Any):
        if isinstance(action, str) and "<tool_call>" not in action and not action.lstrip().startswith("{"):
            found = _RAW_ACTION.findall(action)
            if found:
                name, arg = found[-1]
                action = ToolCall(name=name, arguments={"query" if name == "search" else "target": arg})
        return super().step(action)

    # ----- tools ----------------------------------------------------------------------------
    @tool
    def search(self, query: str) -> str:
        """Search the shop (only on a page with a search box; click 'Back to Search' to get one).

        Args:
            query: Keywords, e.g. the product type and the features you need.
        """
        if self._view.search_url is None:
            raise ToolError("there is no search box on this page; click[Back to Search] first. "
                            f"Available actions: {', '.join(self._view.actions())}")
        if not query.strip():
            raise ToolError("the query is empty; search for the product type and the features you need")
        if len(query) > MAX_QUERY_CHARS:
            raise ToolError(f"the query is {len(query)} characters long; keep it under {MAX_QUERY_CHARS} (a few keywords work best)")
        sendable(query, "the query", nul=True)  # a lone surrogate cannot be encoded into the URL; the shop reads a NUL as text
        return self._open("GET", self._view.search_url, params={"q": query.strip()})

    @tool
    def click(self, target: str) -> str:
        """Click a button, a link, a product id or an option value shown on the page.

        Args:
            target: The text to click, exactly as the page shows it (case does not matter).
        """
        found = self._view.find(target)
        if found is None:
            raise ToolError(f"nothing called {target!r} to click on this page. Available actions: {', '.join(self._view.actions())}")
        page = self._open(found.method, found.url)
        if self._view.kind == "done":
            status = self._request("GET", f"/api/sessions/{self._sid}").json()
            result = status.get("result") or {}
            parts = result.get("reward_parts") or {}
            self.finish(float(result.get("score") or 0.0), reward_parts=parts,
                        bought={"asin": result.get("asin"), "options": result.get("options"), "price": result.get("price")})
            self.end_task()  # the purchase is read: free the server's session now, not at the next reset
        return page
