"""A shop page as an agent reads it: WebShop's "simple" text mode plus the actions it allows.

:func:`read_page` parses the HTML the app served: the visible text nodes (outside ``head``,
``style`` and ``script``) joined with ``" [SEP] "``; the clickables (link texts and form-button
texts, each with the request it makes); whether a search box is shown (and where its form goes);
the page kind (``body[data-page]``) and the option values marked selected.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from pydantic import BaseModel, Field

SEP = " [SEP] "


class Clickable(BaseModel):
    text: str
    method: str  # "GET" | "POST"
    url: str


class PageView(BaseModel):
    kind: str = ""
    texts: list[str] = Field(default_factory=list)
    clickables: list[Clickable] = Field(default_factory=list)
    search_url: str | None = None  # the search form's action, when a search box is shown
    selected: dict[str, str] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        return SEP.join(self.texts)

    def actions(self) -> list[str]:
        out = ["search[<your query>]"] if self.search_url else []
        return out + [f"click[{c.text}]" for c in self.clickables]

    def find(self, target: str) -> Clickable | None:
        """The clickable whose text is ``target`` (case and surrounding space ignored)."""
        wanted = " ".join(target.split()).lower()
        for c in self.clickables:
            if c.text.lower() == wanted:
                return c
        return None


class _Reader(HTMLParser):
    _SKIP = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.view = PageView()
        self._skip = 0
        self._link: dict[str, str] | None = None
        self._button: bool = False
        self._form: dict[str, Any] | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "body":
            self.view.kind = a.get("data-page", "")
        elif tag == "a" and "href" in a:
            self._flush()
            self._link = a
        elif tag == "form":
            self._form = {"method": a.get("method", "get").upper(), "action": a.get("action", ""), "search": False}
        elif tag == "input" and self._form is not None and a.get("name") == "q":
            self._form["search"] = True
            self.view.search_url = self._form["action"]
        elif tag == "button":
            self._flush()
            self._button = True
        elif tag in ("p", "div", "li", "h1", "h2", "h3", "span", "br", "ul"):
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._link is not None:
            text = self._flush()
            if text:
                self.view.clickables.append(Clickable(text=text, method="GET", url=self._link["href"]))
                if "selected" in self._link.get("class", "").split() and self._link.get("data-axis"):
                    self.view.selected[self._link["data-axis"]] = text
            self._link = None
        elif tag == "button" and self._button:
            text = self._flush()
            form = self._form
            if text and form is not None and not form["search"]:
                self.view.clickables.append(Clickable(text=text, method=form["method"], url=form["action"]))
            self._button = False
        elif tag == "form":
            self._form = None
        else:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buffer.append(data)

    def _flush(self) -> str:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        if text:
            self.view.texts.append(text)
        return text


def read_page(html: str) -> PageView:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader._flush()
    return reader.view
