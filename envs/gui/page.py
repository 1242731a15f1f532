"""What the GUI envs do to a Playwright page: observe it (screenshot, elements, accessibility
text, app state) and act on it (click a point or an element, type, scroll, press, select).

All functions are coroutines run on the browser's loop (:meth:`BrowserService.call`).  Elements are
the page's ``[data-tg]`` nodes that are rendered and at least partly inside the viewport, each
``{"id", "role", "name", "box": [x, y, w, h], "clickable", "value"}`` in viewport CSS pixels
(device scale 1, so screenshot pixels too).  Problems the agent caused (an unknown element, a
value a list does not offer) come back as :class:`ActionRefused` with a message for the model.
"""

from __future__ import annotations

from typing import Any

from envs.gui.screens import element_line

KEYS = {"enter": "Enter", "return": "Enter", "tab": "Tab", "escape": "Escape", "esc": "Escape", "backspace": "Backspace",
        "delete": "Delete", "space": " ", "arrowup": "ArrowUp", "arrowdown": "ArrowDown", "arrowleft": "ArrowLeft",
        "arrowright": "ArrowRight", "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
        "home": "Home", "end": "End", "pageup": "PageUp", "pagedown": "PageDown"}
SCROLL_FRACTION = 0.6  # one scroll moves 60% of the viewport

_ELEMENTS_JS = r"""() => {
  const W = innerWidth, H = innerHeight, out = [];
  const roleOf = e => e.getAttribute('role') || ({BUTTON: 'button', SELECT: 'combobox', TEXTAREA: 'textbox', LI: 'listitem',
    H1: 'heading', H2: 'heading', A: 'link'})[e.tagName] || (e.tagName === 'INPUT' ? (e.type === 'checkbox' ? 'checkbox' : 'textbox') : 'generic');
  for (const e of document.querySelectorAll('[data-tg]')) {
    if (e.tagName === 'UL' || e.tagName === 'DIV') continue;  // containers: their items are listed
    const r = e.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.bottom <= 0 || r.top >= H || r.right <= 0 || r.left >= W) continue;
    if (getComputedStyle(e).visibility === 'hidden') continue;
    const label = e.id ? document.querySelector(`label[for="${e.id}"]`) : null;
    let name = e.getAttribute('aria-label') || (label && label.innerText) || e.innerText || e.getAttribute('placeholder') || '';
    name = name.replace(/\s+/g, ' ').trim().slice(0, 80);
    let value = null;
    if (e.tagName === 'INPUT' && e.type === 'checkbox') value = e.checked ? 'checked' : 'unchecked';
    else if (e.tagName === 'INPUT' || e.tagName === 'TEXTAREA') value = e.value;
    else if (e.tagName === 'SELECT') value = e.options[e.selectedIndex] ? e.options[e.selectedIndex].text : '';
    const clickable = ['BUTTON', 'INPUT', 'SELECT', 'TEXTAREA', 'A'].includes(e.tagName) || e.hasAttribute('data-op');
    out.push({id: e.dataset.tg, role: roleOf(e), name, box: [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)],
              clickable, value});
  }
  const f = document.activeElement;
  return {elements: out, scroll: [Math.round(scrollX), Math.round(scrollY)],
          page_height: document.documentElement.scrollHeight, focused: f && f.dataset ? (f.dataset.tg || null) : null};
}"""

_BOX_JS = """id => { const e = document.querySelector(`[data-tg="${CSS.escape(id)}"]`); if (!e) return null;
  const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height, innerWidth, innerHeight]; }"""


class ActionRefused(Exception):
    """The action cannot be done as asked (the model's mistake); the message says why."""


APP_ORIGIN = "http://apps.turngym.invalid"


async def load(page: Any, html: str) -> None:
    """Navigate ``page`` to ``html``, served by Playwright's router (no network, no server).

    A real navigation (not ``set_content``) so every episode gets a fresh JS realm: no globals or
    listeners survive from the page before."""
    if not getattr(page, "_turngym_routed", False):
        async def serve(route: Any) -> None:
            await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=page._turngym_html)

        await page.route(f"{APP_ORIGIN}/**", serve)
        page._turngym_routed, page._turngym_loads = True, 0
    page._turngym_html = html
    page._turngym_loads += 1
    await page.goto(f"{APP_ORIGIN}/{page._turngym_loads}", wait_until="load")


async def observe(page: Any, screenshot: bool = True) -> dict[str, Any]:
    """``{"png", "elements", "scroll", "page_height", "focused", "state", "width", "height"}``."""
    found = await page.evaluate(_ELEMENTS_JS)
    found["state"] = await page.evaluate("() => window.S === undefined ? null : JSON.parse(JSON.stringify(window.S))")
    size = page.viewport_size
    found["width"], found["height"] = size["width"], size["height"]
    found["png"] = await page.screenshot(type="png", caret="hide", animations="disabled") if screenshot else b""
    return found


async def state(page: Any) -> Any:
    return await page.evaluate("() => window.S === undefined ? null : JSON.parse(JSON.stringify(window.S))")


async def element_box(page: Any, element: str) -> list[float] | None:
    """``[x, y, w, h, viewport_w, viewport_h]`` of an element wherever it is, or None."""
    return await page.evaluate(_BOX_JS, element)


async def click_point(page: Any, x: float, y: float) -> str:
    size = page.viewport_size
    if not (0 <= x < size["width"] and 0 <= y < size["height"]):
        raise ActionRefused(f"({x}, {y}) is outside the {size['width']}x{size['height']} screen")
    target = await page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); const t = e && e.closest('[data-tg]');"
                                 " return t ? t.dataset.tg : null; }", [x, y])
    await page.mouse.click(x, y)
    return f"Clicked at ({x:g}, {y:g})" + (f" on [{target}]." if target else ".")


async def click_element(page: Any, element: str) -> str:
    loc = page.locator(f'[data-tg="{_css(element)}"]')
    if await loc.count() == 0 or not await loc.first.is_visible():
        raise ActionRefused(f"no visible element [{element}] on this screen; use an id from the element list")
    await loc.first.scroll_into_view_if_needed(timeout=5000)
    box = await loc.first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.click(x, y)
    return f"Clicked [{element}] at ({x:.0f}, {y:.0f})."


async def type_text(page: Any, text: str) -> str:
    focused = await page.evaluate("() => { const f = document.activeElement; return f && ['INPUT', 'TEXTAREA'].includes(f.tagName) &&"
                                  " f.type !== 'checkbox' ? (f.dataset.tg || '?') : null; }")
    if focused is None:
        raise ActionRefused("no text field has the focus; click a text field first")
    await page.keyboard.type(text)
    return f"Typed {text!r} into [{focused}]."


async def scroll(page: Any, direction: str) -> str:
    dx, dy = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[direction]
    pos = await page.evaluate("([dx, dy, f]) => { window.scrollBy({left: dx * Math.round(f * innerWidth), top: dy * Math.round(f * innerHeight),"
                              " behavior: 'instant'}); return [Math.round(scrollX), Math.round(scrollY)]; }", [dx, dy, SCROLL_FRACTION])
    return f"Scrolled {direction}; the page is now at offset ({pos[0]}, {pos[1]})."


def normalize_key(key: str) -> str:
    name = KEYS.get(key.strip().lower().replace(" ", "").replace("_", ""))
    if name is None:
        raise ActionRefused(f"unknown key {key!r}; known keys: {', '.join(sorted(set(KEYS.values()) - {' '}))}, Space")
    return name


async def press(page: Any, key: str) -> str:
    name = normalize_key(key)
    await page.keyboard.press(name)
    return f"Pressed {key}."


async def select_option(page: Any, element: str, value: str) -> str:
    loc = page.locator(f'[data-tg="{_css(element)}"]')
    if await loc.count() == 0 or not await loc.first.is_visible():
        raise ActionRefused(f"no visible element [{element}] on this screen")
    if await loc.first.evaluate("e => e.tagName") != "SELECT":
        raise ActionRefused(f"[{element}] is not a list to select from")
    options = await loc.first.evaluate("e => Array.from(e.options).map(o => o.text)")
    match = next((o for o in options if o.strip().casefold() == value.strip().casefold()), None)
    if match is None:
        raise ActionRefused(f"[{element}] has no option {value!r}; options: {', '.join(options)}")
    await loc.first.scroll_into_view_if_needed(timeout=5000)
    await loc.first.select_option(label=match)
    return f"Selected {match!r} in [{element}]."


def _css(element: str) -> str:
    return element.replace("\\", "\\\\").replace('"', '\\"')


def a11y_text(elements: list[dict[str, Any]], scroll_pos: list[int] | None = None) -> str:
    """The accessibility view a text-only model reads: one line per element, with its id and box."""
    head = f"Screen elements (id, role, name, box = x,y,w,h){f'; page scrolled to {scroll_pos[1]}' if scroll_pos and scroll_pos[1] else ''}:"
    return "\n".join([head, *map(element_line, elements)])
