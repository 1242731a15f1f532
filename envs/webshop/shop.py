"""The shop's logic, free of HTTP: sessions, pages as (template, context), buying and scoring.

The web app (:mod:`envs.webshop.app`) maps routes onto :class:`Shop` methods and renders the
returned contexts with Jinja2.  A session holds its world, its goal (or none: a person shopping
freely) and, once something was bought, the result.  The goal stays inside the session: no page
and no API answer shows it; the reward is computed here, when the buyer clicks "Buy Now".

Pages mirror WebShop's: search -> results (top 50, 10 a page) -> item (options; Description,
Features and Reviews sub-pages; Buy Now) -> done.  Option values not chosen default to the
first value offered (the pre-selected radio button of a real shop).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from envs.services import BoundedSessions
from envs.webshop import reward as R
from envs.webshop.search import RESULTS, Catalog, load_catalog

PER_PAGE = 10
SUB_PAGES = ("description", "features", "reviews")


class Goal(BaseModel):
    """What the reward compares a purchase with (never sent back to a client)."""

    model_config = ConfigDict(extra="ignore")

    asin: str
    name: str = ""
    query: str = ""
    product_category: str = ""
    nouns: list[str] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
    price_upper: float
    instruction: str = ""


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    world: str
    goal: Goal | None = None


class Session(BaseModel):
    world: str
    goal: Goal | None = None
    result: dict[str, Any] | None = None


class PageError(LookupError):
    """A request for something the shop does not have (unknown product, page or session)."""


class Shop:
    """Every world under ``root`` (folders holding ``products.jsonl``) and a bounded session table."""

    def __init__(self, root: str | Path, max_sessions: int = 1024, idle_ttl: float = 900.0):
        self.root = Path(root)
        self.worlds = sorted(p.name for p in self.root.iterdir() if (p / "products.jsonl").exists())
        if not self.worlds:
            raise FileNotFoundError(f"no shop worlds (folders with products.jsonl) under {self.root}")
        self.sessions: BoundedSessions[Session] = BoundedSessions(max_sessions, idle_ttl)
        self._lock = threading.Lock()

    def catalog(self, world: str) -> Catalog:
        if world not in self.worlds:
            raise PageError(f"no world {world!r}; worlds: {', '.join(self.worlds)}")
        return load_catalog(self.root / world)

    # ----- sessions -----------------------------------------------------------------------
    def open_session(self, request: NewSession) -> str:
        catalog = self.catalog(request.world)
        if request.goal is not None and catalog.get(request.goal.asin) is None:
            raise PageError(f"the goal's product {request.goal.asin!r} is not in world {request.world!r}")
        return str(self.sessions.add(Session(world=request.world, goal=request.goal)))

    def session(self, sid: str) -> Session:
        return self.sessions.get(sid)  # SessionGone (a KeyError) says why when it is not live

    def status(self, sid: str) -> dict[str, Any]:
        s = self.session(sid)
        return {"session": sid, "world": s.world, "has_goal": s.goal is not None, "done": s.result is not None, "result": s.result}

    # ----- pages --------------------------------------------------------------------------
    def search_page(self, sid: str) -> tuple[str, dict[str, Any]]:
        s = self.session(sid)
        if s.result is not None:
            return self.done_page(sid)
        return "search.html", {"sid": sid, "action": f"/s/{sid}/search"}

    def results_page(self, sid: str, query: str, page: int) -> tuple[str, dict[str, Any]]:
        s = self.session(sid)
        if s.result is not None:
            return self.done_page(sid)
        catalog = self.catalog(s.world)
        hits = catalog.search(query, RESULTS) if query.strip() else []
        pages = max(1, -(-len(hits) // PER_PAGE))
        if not 1 <= page <= pages:
            raise PageError(f"page {page} is out of range: {pages} page(s) of results")
        rows = []
        for asin in hits[(page - 1) * PER_PAGE : page * PER_PAGE]:
            p = catalog.get(asin)
            rows.append({"asin": asin, "title": p["title"], "price": f"${p['price']:.2f}",
                         "url": f"/s/{sid}/item/{asin}?" + urlencode({"q": query, "page": page})})
        back = {"q": query}
        return "results.html", {
            "sid": sid, "query": query, "page": page, "total": len(hits), "rows": rows, "home": f"/s/{sid}/",
            "prev": f"/s/{sid}/search?" + urlencode({**back, "page": page - 1}) if page > 1 else None,
            "next": f"/s/{sid}/search?" + urlencode({**back, "page": page + 1}) if page < pages else None,
        }

    def item_page(self, sid: str, asin: str, query: str, page: int, chosen: dict[str, str]) -> tuple[str, dict[str, Any]]:
        s = self.session(sid)
        if s.result is not None:
            return self.done_page(sid)
        p = self._product(s, asin)
        picked = _pick(p, chosen)
        state = {"q": query, "page": page}
        axes = []
        for axis, values in p.get("options", {}).items():
            axes.append({"name": axis, "choices": [
                {"value": v, "selected": picked.get(axis) == v,
                 "url": _item_url(sid, asin, state, {**picked, axis: v})} for v in values]})
        return "item.html", {
            "sid": sid, "p": p, "price": f"${p['price']:.2f}", "axes": axes, "home": f"/s/{sid}/",
            "picked": picked, "prev": f"/s/{sid}/search?" + urlencode(state) if query else f"/s/{sid}/",
            "subs": [{"name": name.capitalize(), "url": _item_url(sid, asin, state, picked, name)} for name in SUB_PAGES],
            "buy": f"/s/{sid}/buy/{asin}?" + urlencode([("o", f"{k}:{v}") for k, v in picked.items()]),
        }

    def sub_page(self, sid: str, asin: str, sub: str, query: str, page: int, chosen: dict[str, str]) -> tuple[str, dict[str, Any]]:
        s = self.session(sid)
        if s.result is not None:
            return self.done_page(sid)
        if sub not in SUB_PAGES:
            raise PageError(f"no sub-page {sub!r}; sub-pages: {', '.join(SUB_PAGES)}")
        p = self._product(s, asin)
        return "sub.html", {"sid": sid, "p": p, "sub": sub, "home": f"/s/{sid}/",
                            "prev": _item_url(sid, asin, {"q": query, "page": page}, _pick(p, chosen))}

    def buy(self, sid: str, asin: str, chosen: dict[str, str]) -> tuple[str, dict[str, Any]]:
        s = self.session(sid)
        with self._lock:  # two clicks on Buy Now: the first purchase stands
            if s.result is None:
                p = self._product(s, asin)
                picked = _pick(p, chosen)
                parts = R.score(p, picked, s.goal.model_dump()) if s.goal is not None else None
                s.result = {"asin": asin, "title": p["title"], "price": p["price"], "options": picked,
                            "score": parts["score"] if parts else None, "reward_parts": parts}
        return self.done_page(sid)

    def done_page(self, sid: str) -> tuple[str, dict[str, Any]]:
        s = self.session(sid)
        return "done.html", {"sid": sid, "result": s.result, "home": f"/s/{sid}/"}

    def _product(self, s: Session, asin: str) -> dict[str, Any]:
        p = self.catalog(s.world).get(asin)
        if p is None:
            raise PageError(f"no product {asin!r} in this shop")
        return p


def _pick(product: dict[str, Any], chosen: dict[str, str]) -> dict[str, str]:
    """The options in effect: each axis's chosen value when the product offers it, else its first."""
    return {axis: chosen[axis] if chosen.get(axis) in values else values[0]
            for axis, values in product.get("options", {}).items() if values}


def _item_url(sid: str, asin: str, state: dict[str, Any], picked: dict[str, str], sub: str | None = None) -> str:
    params = [*state.items(), *(("o", f"{k}:{v}") for k, v in picked.items())]
    return f"/s/{sid}/item/{asin}" + (f"/{sub}" if sub else "") + "?" + urlencode(params)


def parse_options(values: list[str]) -> dict[str, str]:
    """``["color:navy", "size:xl"]`` (the ``o`` query parameters) -> ``{"color": "navy", "size": "xl"}``."""
    out = {}
    for item in values:
        axis, sep, value = item.partition(":")
        if sep:
            out[axis] = value
    return out
