"""What every synthetic app shares: styles (theme x layout), the page shell, its JS runtime, and
the declarative success check.

An app is a function ``build(rng, style) -> (AppPage, [Goal, ...])``.  The page is one
self-contained HTML document (no network); its whole state lives in ``window.S`` (JSON), which the
app's JS updates on clicks, typing, selects and key presses.  Interactive elements carry
``data-tg="<element id>"``; the extractor (:mod:`envs.gui.page`) reports them with role, name,
box and value.  A :class:`Goal` has one text per instruction template, a list of conditions on
``S`` (:func:`goal_met`) and the oracle's plan (clicks by element id, typing, keys, selects).

Conditions (all must hold):

* ``{"op": "eq", "path": "a.b", "value": v}``: ``S.a.b == v``;
* ``{"op": "has", "path": "items", "item": {...}}``: some list item has every given key equal
  (strings compared after stripping and case-folding);
* ``{"op": "lacks", "path": "items", "item": {...}}``: no list item matches;
* ``{"op": "len", "path": "items", "value": n}``: the list has ``n`` items;
* ``{"op": "count", "path": "items", "item": {...}, "value": n}``: exactly ``n`` items match.
"""

from __future__ import annotations

import html
import json
import random
from typing import Any

from pydantic import BaseModel, Field

THEMES: dict[str, dict[str, str]] = {
    "paper": {"bg": "#ffffff", "fg": "#1f2328", "panel": "#f3f4f6", "accent": "#2563eb", "muted": "#6b7280", "line": "#d1d5db"},
    "night": {"bg": "#111827", "fg": "#e5e7eb", "panel": "#1f2937", "accent": "#60a5fa", "muted": "#9ca3af", "line": "#374151"},
    "forest": {"bg": "#f0fdf4", "fg": "#14532d", "panel": "#dcfce7", "accent": "#15803d", "muted": "#4d7c0f", "line": "#86efac"},
    "ocean": {"bg": "#ecfeff", "fg": "#083344", "panel": "#cffafe", "accent": "#0e7490", "muted": "#155e75", "line": "#67e8f9"},
    # held out: test only
    "sunset": {"bg": "#fff7ed", "fg": "#431407", "panel": "#ffedd5", "accent": "#c2410c", "muted": "#9a3412", "line": "#fdba74"},
    "mono": {"bg": "#fafafa", "fg": "#000000", "panel": "#e5e5e5", "accent": "#404040", "muted": "#525252", "line": "#a3a3a3"},
}
TRAIN_THEMES = ("paper", "night", "forest", "ocean")
TEST_THEMES = ("sunset", "mono")
FONTS = ("Arial, sans-serif", "Georgia, serif", "'DejaVu Sans', sans-serif", "'Liberation Mono', monospace", "Verdana, sans-serif")

FIRST_NAMES = ["Alice", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jun", "Kira", "Luis", "Mira", "Nils",
               "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Viktor", "Wen", "Yara", "Zeno"]
LAST_NAMES = ["Abbott", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Ito", "Jansen", "Kowalski",
              "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quist", "Rossi", "Silva", "Tanaka", "Umarov", "Varga"]
TOPICS = ["budget review", "team lunch", "server upgrade", "trip plan", "quarterly report", "design draft", "invoice 4411",
          "garden party", "book club", "code freeze", "hiring panel", "launch checklist", "dentist visit", "piano lesson",
          "conference talk", "lab results", "moving day", "tax forms", "weekly sync", "birthday gift", "yoga class",
          "car service", "grant proposal", "holiday photos"]
WORDS = ["amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "juniper", "kelp", "lotus",
         "maple", "nectar", "opal", "pebble", "quartz", "raven", "saffron", "tundra", "umber", "velvet", "willow", "zephyr"]


class Style(BaseModel):
    """How one seed of an app looks: the theme plus layout knobs."""

    theme: str
    font: str
    font_size: int
    pad: int
    radius: int
    width: int  # max width of the app column, px
    centered: bool
    header_align: str
    reverse: bool  # sections in reverse order (a layout variant)
    row_gap: int

    @classmethod
    def draw(cls, rng: random.Random, theme: str) -> Style:
        return cls(theme=theme, font=rng.choice(FONTS), font_size=rng.randint(13, 17), pad=rng.randint(6, 14),
                   radius=rng.choice([0, 4, 8, 14]), width=rng.choice([560, 640, 720, 800]), centered=rng.random() < 0.5,
                   header_align=rng.choice(["left", "center"]), reverse=rng.random() < 0.3, row_gap=rng.randint(2, 12))

    def css(self) -> str:
        t = THEMES[self.theme]
        return f"""
:root{{--bg:{t['bg']};--fg:{t['fg']};--panel:{t['panel']};--accent:{t['accent']};--muted:{t['muted']};--line:{t['line']};}}
*{{box-sizing:border-box}}
body{{margin:0;background:var(--bg);color:var(--fg);font-family:{self.font};font-size:{self.font_size}px}}
.app{{max-width:{self.width}px;margin:{'0 auto' if self.centered else '0 0 0 24px'};padding:{self.pad}px}}
header{{text-align:{self.header_align};border-bottom:2px solid var(--line);margin-bottom:{self.pad}px}}
h1{{font-size:1.5em;margin:{self.pad}px 0}} h2{{font-size:1.15em;margin:{self.pad}px 0 4px}}
.stack{{display:flex;flex-direction:{'column-reverse' if self.reverse else 'column'};gap:{self.pad}px}}
.panel{{background:var(--panel);padding:{self.pad}px;border-radius:{self.radius}px}}
button{{background:var(--accent);color:var(--bg);border:0;border-radius:{self.radius}px;padding:{self.pad // 2 + 3}px {self.pad + 4}px;
  font:inherit;cursor:pointer}}
button.plain{{background:transparent;color:var(--accent);border:1px solid var(--line)}}
input,select,textarea{{font:inherit;padding:{self.pad // 2 + 2}px;border:1px solid var(--line);border-radius:{self.radius}px;
  background:var(--bg);color:var(--fg)}}
textarea{{width:100%;height:5em}} input[type=text]{{width:100%}} label{{display:block;margin:4px 0 2px;color:var(--muted)}}
ul{{list-style:none;margin:0;padding:0}}
li{{display:flex;align-items:center;gap:8px;padding:{self.row_gap + 4}px 4px;border-bottom:1px solid var(--line)}}
li .grow{{flex:1}} .muted{{color:var(--muted)}} .row{{display:flex;gap:8px;align-items:center;margin:4px 0}}
.grid{{display:grid;grid-template-columns:repeat(7,1fr);gap:4px}} .grid button{{padding:{self.pad}px 0}}
[hidden]{{display:none!important}}
"""


RUNTIME_JS = r"""
const $ = id => document.querySelector('[data-tg="' + id + '"]');
const esc = s => String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
function show(screen) {
  document.querySelectorAll('[data-screen]').forEach(e => { e.hidden = e.dataset.screen !== screen; });
  S.screen = screen;
}
function formValue(e) { return e.type === 'checkbox' ? e.checked : e.value; }
function onField(e) {
  const f = e.target.dataset && e.target.dataset.field;
  if (f) { S.form[f] = formValue(e.target); if (OPS.field) OPS.field(f, e.target); }
}
document.addEventListener('input', onField);
document.addEventListener('change', onField);
document.addEventListener('click', e => {
  const b = e.target.closest('[data-op]');
  if (b && !b.disabled && OPS[b.dataset.op]) OPS[b.dataset.op](b.dataset.arg, b);
});
document.addEventListener('keydown', e => {
  if (e.key !== 'Enter') return;
  const t = e.target.closest && e.target.closest('[data-enter]');
  if (t && OPS[t.dataset.enter]) { e.preventDefault(); OPS[t.dataset.enter](t.dataset.arg, t); }
});
"""


class AppPage(BaseModel):
    app: str
    title: str
    body: str
    script: str
    state: dict[str, Any]
    style: Style

    def html(self) -> str:
        state = json.dumps({"screen": "main", "form": {}, **self.state}).replace("</", "<\\/")
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(self.title)}</title><style>{self.style.css()}</style></head>"
            f"<body><div class='app' data-app='{self.app}'><header><h1>{esc(self.title)}</h1></header>{self.body}</div>"
            f"<script>window.S = {state};\n{RUNTIME_JS}\n{self.script}\nif (window.render) render();</script></body></html>"
        )


class Goal(BaseModel):
    """One goal on one app seed: texts by template, success conditions, the oracle's plan."""

    kind: str
    texts: list[str]
    expect: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    params: dict[str, Any] = Field(default_factory=dict)


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def click(element: str, what: str) -> dict[str, Any]:
    return {"action": "click", "element": element, "instruction": f"Click {what}"}


def type_text(text: str, what: str) -> dict[str, Any]:
    return {"action": "type", "text": text, "instruction": f"Type '{text}' into {what}"}


def press(key: str, why: str) -> dict[str, Any]:
    return {"action": "press", "key": key, "instruction": f"Press {key} {why}"}


def select(element: str, value: str, what: str) -> dict[str, Any]:
    return {"action": "select", "element": element, "value": value, "instruction": f"Choose '{value}' in {what}"}


def fill(element: str, text: str, what: str) -> list[dict[str, Any]]:
    """Click a text field, then type into it (the two GUI actions a person makes)."""
    return [click(element, what), type_text(text, what)]


# ----- success check ------------------------------------------------------------------------------
def _get(state: dict[str, Any], path: str) -> Any:
    value: Any = state
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return a == b


def _matches(item: Any, pattern: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(_same(item.get(k), v) for k, v in pattern.items())


def condition_met(state: dict[str, Any], cond: dict[str, Any]) -> bool:
    value = _get(state, cond["path"])
    op = cond["op"]
    if op == "eq":
        return _same(value, cond["value"])
    items = value if isinstance(value, list) else []
    if op == "has":
        return any(_matches(i, cond["item"]) for i in items)
    if op == "lacks":
        return not any(_matches(i, cond["item"]) for i in items)
    if op == "len":
        return isinstance(value, list) and len(value) == cond["value"]
    if op == "count":
        return sum(_matches(i, cond["item"]) for i in items) == cond["value"]
    raise ValueError(f"unknown condition op {op!r}")


def goal_met(state: dict[str, Any] | None, expect: list[dict[str, Any]]) -> bool:
    """True when every condition holds on the app state ``S``."""
    return state is not None and all(condition_met(state, c) for c in expect)


def pick(rng: random.Random, pool: list[str], k: int) -> list[str]:
    return rng.sample(pool, k)


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
