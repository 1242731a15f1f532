"""The shop as a web app: routes, sessions (bounded, reclaimed), server-side reward, the goal never
shown; served by uvicorn and looked at by headless Chromium."""

import shutil
import struct
import subprocess

import httpx
import pytest
from starlette.testclient import TestClient

from envs.webshop import reward as R
from envs.webshop.app import ShopServer, create_app
from envs.webshop.data import load_webshop_tasks
from envs.webshop.page import read_page
from envs.webshop.shop import Shop

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def tasks():
    return load_webshop_tasks()


@pytest.fixture(scope="module")
def client(tasks):
    with TestClient(create_app(Shop(tasks.root, max_sessions=64))) as c:
        yield c


def open_session(client, task):
    r = client.post("/api/sessions", json={"world": task.data["world"], "goal": task.data["goal"]})
    assert r.status_code == 201 and set(r.json()) == {"session", "url"}
    return r.json()["session"]


def opts(options):
    return [("o", f"{k}:{v}") for k, v in options.items()]


def test_oracle_path_scores_on_the_server_and_never_shows_the_goal(client, tasks):
    task = tasks.get(tasks.ids("test")[3])
    goal, sid = task.data["goal"], open_session(client, task)
    seen = [client.get(f"/s/{sid}/").text]
    results = client.get(f"/s/{sid}/search", params={"q": task.data["oracle_query"], "page": task.data["oracle_page"]})
    view = read_page(results.text)
    assert view.kind == "results" and f"Page {task.data['oracle_page']} (Total results: 50)" in view.texts
    assert view.find(goal["asin"]) is not None and view.find("Back to Search") is not None
    item = client.get(view.find(goal["asin"]).url)
    seen += [results.text, item.text]
    for sub in ("description", "features", "reviews"):
        seen.append(client.get(f"/s/{sid}/item/{goal['asin']}/{sub}").text)
    done = client.post(f"/s/{sid}/buy/{goal['asin']}", params=opts(goal["options"]))
    seen.append(done.text)
    status = client.get(f"/api/sessions/{sid}").json()
    seen.append(str(status))
    assert status["done"] and status["result"]["score"] == 1.0 and status["result"]["options"] == goal["options"]
    assert read_page(done.text).texts[-2:] == ["Your score (min 0.0, max 1.0)", "1"]
    for text in seen[:-1]:  # plain HTML: no script, nothing fetched from elsewhere
        assert "<script" not in text.lower() and "://" not in text and "<html" in text
    for text in seen:
        assert task.prompt not in text and f"{goal['price_upper']:.2f}" not in text and "instruction" not in text.lower()


def test_results_paginate_and_items_default_to_first_options(client, tasks):
    task = tasks.get(tasks.ids("test")[0])
    sid = open_session(client, task)
    q = task.data["oracle_query"]
    pages = [read_page(client.get(f"/s/{sid}/search", params={"q": q, "page": n}).text) for n in range(1, 6)]
    assert [len([c for c in v.clickables if c.url.startswith(f"/s/{sid}/item/")]) for v in pages] == [10] * 5
    assert [v.find("Next >") is not None for v in pages] == [True] * 4 + [False]
    assert [v.find("< Prev") is not None for v in pages] == [False] + [True] * 4
    assert client.get(f"/s/{sid}/search", params={"q": q, "page": 6}).status_code == 404
    asin = next(c.text for c in pages[0].clickables if "/item/" in c.url)
    product = tasks.catalog("B").get(asin)
    item = read_page(client.get(f"/s/{sid}/item/{asin}").text)
    assert item.selected == {axis: values[0] for axis, values in product["options"].items()}
    axis, values = next(iter(product["options"].items()))
    chosen = read_page(client.get(item.find(values[-1]).url).text)
    assert chosen.selected[axis] == values[-1]
    # buying with the page's options scores exactly what the reward module says
    done = client.post(chosen.find("Buy Now").url)
    expected = R.score(product, chosen.selected, task.data["goal"])
    assert client.get(f"/api/sessions/{sid}").json()["result"]["reward_parts"] == expected
    assert read_page(done.text).kind == "done"
    # a second purchase does not replace the first
    client.post(f"/s/{sid}/buy/{task.data['goal']['asin']}", params=opts(task.data["goal"]["options"]))
    assert client.get(f"/api/sessions/{sid}").json()["result"]["asin"] == asin


def test_bad_requests_get_clear_answers(client, tasks):
    assert client.post("/api/sessions", content=b"{not json").status_code == 400
    r = client.post("/api/sessions", json={"world": "Z"})
    assert r.status_code == 400 and "no world 'Z'" in r.json()["error"]
    r = client.post("/api/sessions", json={"world": "A", "goal": {"asin": "NOPE", "price_upper": 10}})
    assert r.status_code == 400 and "NOPE" in r.json()["error"]
    sid = client.post("/api/sessions", json={"world": "A"}).json()["session"]
    r = client.get(f"/s/{sid}/item/NOSUCHITEM")
    assert r.status_code == 404 and "no product 'NOSUCHITEM'" in read_page(r.text).text
    assert client.get(f"/s/{sid}/item/{tasks.catalog('A').products[0]['asin']}/specs").status_code == 404
    assert client.get(f"/s/{sid}/search", params={"q": "boots", "page": "x"}).status_code == 404
    done = client.post(f"/s/{sid}/buy/{tasks.catalog('A').products[0]['asin']}")
    assert "not scored" in done.text  # a person shopping without a goal
    assert client.delete(f"/api/sessions/{sid}").json() == {"closed": True}
    # a person starts a goal-free session from the home page
    assert "Shop in world B" in client.get("/").text
    started = client.post("/start", data={"world": "B"}, follow_redirects=False)
    assert started.status_code == 303 and read_page(client.get(started.headers["location"]).text).search_url
    assert client.get(f"/s/{sid}/").status_code == 404


def test_sessions_are_bounded_and_reclaimed(tasks):
    shop = Shop(tasks.root, max_sessions=3)
    with TestClient(create_app(shop)) as c:
        sids = [c.post("/api/sessions", json={"world": "A"}).json()["session"] for _ in range(5)]
        assert len(shop.sessions) == 3
        gone = c.get(f"/s/{sids[0]}/")
        assert gone.status_code == 404 and "reclaimed to make room" in gone.text
        assert c.get(f"/s/{sids[4]}/").status_code == 200
        assert c.get("/health").json()["sessions"] == 3


@pytest.fixture(scope="module")
def server(tasks):
    srv = ShopServer(tasks.root)
    srv.start()
    yield srv
    srv.stop()


def test_uvicorn_server_serves_and_stops(tasks):
    srv = ShopServer(tasks.root)
    srv.start()
    try:
        assert srv.port > 0 and srv.healthy()
        with httpx.Client(base_url=srv.url) as http:
            assert http.post("/api/sessions", json={"world": "B"}).status_code == 201
    finally:
        srv.stop()
    assert not srv.healthy()


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium is not installed (scripts/setup.d installs it)")
def test_chromium_renders_results_and_item_pages(server, tasks, tmp_path):
    task = tasks.get(tasks.ids("test")[1])
    with httpx.Client(base_url=server.url) as http:
        sid = http.post("/api/sessions", json={"world": "B", "goal": task.data["goal"]}).json()["session"]
    asin = task.data["goal"]["asin"]
    pages = {
        "results": (f"{server.url}/s/{sid}/search?q={task.data['oracle_query'].replace(' ', '+')}&page={task.data['oracle_page']}",
                    ["Back to Search", "Total results: 50", asin]),
        "item": (f"{server.url}/s/{sid}/item/{asin}", ["Buy Now", "Description", tasks.catalog("B").get(asin)["title"]]),
    }
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    for name, (url, expected) in pages.items():
        png = tmp_path / f"webshop-{name}.png"
        subprocess.run([*base, f"--screenshot={png}", "--window-size=1280,900", url], capture_output=True, timeout=90, check=True)
        assert _png_size(png) == (1280, 900) and png.stat().st_size > 10_000  # a page with content, not a blank one
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=True).stdout
        text = " ".join(read_page(dom).texts)
        assert all(e in text for e in expected), (name, text[:500])


@pytest.mark.slow
def test_cli_serve_prints_a_session_url_a_browser_can_open(tmp_path):
    import os
    import re
    import sys
    from pathlib import Path

    cmd = [sys.executable, "-c", "from turngym.cli import app; app()", "webshop", "serve", "--port", "0", "--task", "webshop/B/test/0007"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parent.parent,
                            env={**os.environ, "COLUMNS": "300"})
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Shop for it at"):
                break
        text = "".join(lines)
        assert "Task webshop/B/test/0007: " in text, text
        url = re.search(r"Shop for it at (\S+)", text).group(1)
        page = httpx.get(url)
        assert page.status_code == 200 and read_page(page.text).search_url is not None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
