"""GUI reward (GUI-R1 with InfiGUI-R1's click tolerance), success checks, apps and splits: no browser."""

import pytest

from envs.gui.apps import TEST_APPS, TEST_THEMES, TRAIN_APPS, goal_met, render_app
from envs.gui.apps.base import condition_met
from envs.gui.reward import GUIAction, in_scaled_box, score, token_f1
from envs.gui.tasks import GUISizes, app_tasks

SIZE = (800, 600)  # tolerance 0.04 * 800 = 32 px
GOLD_CLICK = GUIAction(type="click", point=[150, 120], element="save", box=[100, 100, 100, 40])
ELEMENTS = [{"id": "save", "box": [100, 100, 100, 40]}, {"id": "other", "box": [400, 400, 50, 50]}]


def click(x, y):
    return GUIAction(type="click", point=[x, y])


@pytest.mark.parametrize(("pred", "accuracy", "reward"), [
    (click(150, 120), 1.0, 1.0),  # the gold point
    (click(205, 139), 1.0, 1.0),  # outside the box, inside the 1.2x box (x in [90, 210], y in [96, 144]); 55.9 px from the point
    (click(211, 120), 0.0, 0.2),  # 61 px right: outside the 1.2x box and beyond 32 px
    (click(150, 145), 1.0, 1.0),  # below the 1.2x box (y <= 144) but 25 px from the point
    (click(182, 120), 1.0, 1.0),  # 32 px exactly: within the tolerance
    (GUIAction(type="click", element="save"), 1.0, 1.0),
    (GUIAction(type="click", element="other"), 0.0, 0.2),  # its centre (425, 425) is far away
    (GUIAction(type="click", element="ghost"), 0.0, 0.2),  # no such element: no point to check
    (GUIAction(type="type", text="hello"), 0.0, 0.2),  # wrong type
    (None, 0.0, 0.0),  # not a valid call
])
def test_click_reward(pred, accuracy, reward):
    parts = score(pred, GOLD_CLICK, SIZE, ELEMENTS)
    assert parts["accuracy"] == accuracy
    assert parts["reward"] == pytest.approx(reward)
    assert parts["format"] == (0.0 if pred is None else 1.0)


def test_click_distance_reported():
    assert score(click(150, 160), GOLD_CLICK, SIZE, ELEMENTS)["distance"] == 40.0  # 40 px > 32 and y 160 > 144: a miss
    assert score(click(150, 160), GOLD_CLICK, SIZE, ELEMENTS)["accuracy"] == 0.0


def test_token_f1_and_type_reward():
    # pred "buy fresh milk" vs gold "buy milk": overlap 2, precision 2/3, recall 1 -> F1 0.8
    assert token_f1("buy fresh milk", "buy milk") == pytest.approx(0.8)
    # "milk" vs "buy oat milk": precision 1, recall 1/3 -> F1 0.5: counts (>= 0.5)
    gold = GUIAction(type="type", text="buy oat milk")
    assert score(GUIAction(type="type", text="milk"), gold, SIZE)["accuracy"] == 1.0
    # "tea" vs "buy oat milk": no overlap
    parts = score(GUIAction(type="type", text="tea"), gold, SIZE)
    assert (parts["accuracy"], parts["text_f1"], parts["reward"]) == (0.0, 0.0, pytest.approx(0.2))


def test_select_scroll_press_complete():
    gold = GUIAction(type="select", element="lang", box=[10, 10, 100, 30], point=[60, 25], text="French")
    assert score(GUIAction(type="select", element="lang", text="french"), gold, SIZE)["accuracy"] == 1.0
    assert score(GUIAction(type="select", element="size", text="French"), gold, SIZE, [{"id": "size", "box": [10, 300, 100, 30]}])["accuracy"] == 0.0
    assert score(GUIAction(type="select", element="lang", text="German"), gold, SIZE)["accuracy"] == 0.0
    assert score(GUIAction(type="scroll", direction="down"), GUIAction(type="scroll", direction="down"), SIZE)["accuracy"] == 1.0
    assert score(GUIAction(type="scroll", direction="up"), GUIAction(type="scroll", direction="down"), SIZE)["reward"] == pytest.approx(0.2)
    assert score(GUIAction(type="press", key="return"), GUIAction(type="press", key="Enter"), SIZE)["accuracy"] == 1.0
    assert score(GUIAction(type="press", key="Tab"), GUIAction(type="press", key="Enter"), SIZE)["accuracy"] == 0.0
    assert score(GUIAction(type="complete"), GUIAction(type="complete"), SIZE)["reward"] == 1.0


def test_scaled_box():
    assert in_scaled_box([210, 144], [100, 100, 100, 40])  # the corner of the 1.2x box
    assert not in_scaled_box([210.5, 120], [100, 100, 100, 40])


def test_conditions():
    state = {"notes": [{"title": "Trip plan", "body": "x"}, {"title": "Tax", "body": "y"}], "settings": {"wifi": True}}
    assert condition_met(state, {"op": "has", "path": "notes", "item": {"title": " trip PLAN "}})  # stripped, case-folded
    assert not condition_met(state, {"op": "lacks", "path": "notes", "item": {"title": "Tax"}})
    assert condition_met(state, {"op": "len", "path": "notes", "value": 2})
    assert condition_met(state, {"op": "count", "path": "notes", "item": {"body": "y"}, "value": 1})
    assert condition_met(state, {"op": "eq", "path": "settings.wifi", "value": True})
    assert not condition_met(state, {"op": "eq", "path": "settings.bluetooth", "value": False})  # missing is not False
    assert condition_met(state, {"op": "eq", "path": "notes.1.title", "value": "Tax"})
    assert not goal_met(None, [])


def test_apps_are_deterministic_and_varied():
    a, goals_a = render_app("mail", 3, "paper")
    b, goals_b = render_app("mail", 3, "paper")
    assert a.html() == b.html() and goals_a == goals_b
    c, _ = render_app("mail", 4, "paper")
    assert c.html() != a.html()
    assert render_app("mail", 3, "night")[0].html() != a.html()  # the theme changes the page, not the goals
    assert render_app("mail", 3, "night")[1] == goals_a


def test_splits_hold_out_apps_themes_templates_and_seeds():
    tasks = app_tasks(GUISizes(train=3, val=2, test_apps=3, test_themes=2))
    by_split = {s: [t for t in tasks if t.split == s] for s in ("train", "val", "test")}
    assert all(by_split.values())
    for t in by_split["train"] + by_split["val"]:
        assert t.data["app"] in TRAIN_APPS and t.data["theme"] not in TEST_THEMES and t.data["template"] in (0, 1)
    seeds = {s: {(t.data["app"], t.data["seed"]) for t in by_split[s]} for s in by_split}
    assert not seeds["train"] & seeds["val"] and not seeds["train"] & seeds["test"]
    for t in by_split["test"]:
        assert t.data["app"] in TEST_APPS or (t.data["theme"] in TEST_THEMES and t.data["template"] == 2)
    assert {t.data["app"] for t in by_split["test"]} >= set(TEST_APPS)
    assert len({t.id for t in tasks}) == len(tasks)
