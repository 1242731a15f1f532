"""MiniWoB-v0: MiniWoB++ tasks under the GUI tool calls (real Selenium Chromium; skipped where it cannot run)."""

import pytest

from envs.checker import check_multiturn
from envs.gui.miniwob_env import TEST_TASKS, TRAIN_TASKS, MiniWoBEnv, miniwob_tasks, miniwob_unavailable
from envs.gui.oracle import miniwob_plan
from envs.tasks import ListTaskSet
from tools import call

pytestmark = pytest.mark.skipif(miniwob_unavailable() is not None, reason=str(miniwob_unavailable()))


def test_splits_hold_out_tasks():
    tasks = miniwob_tasks()
    names = {s: {tasks.get(t).data["name"] for t in tasks.ids(s)} for s in ("train", "val", "test")}
    assert names["train"] == names["val"] == set(TRAIN_TASKS) and names["test"] == set(TEST_TASKS)
    assert not names["train"] & names["test"]
    assert tasks.sizes() == {"train": 20 * len(TRAIN_TASKS), "val": 5 * len(TRAIN_TASKS), "test": 10 * len(TEST_TASKS)}


@pytest.fixture(scope="module")
def click_test_2():
    env = MiniWoBEnv(split="train", tasks=ListTaskSet([t for t in miniwob_tasks().iter("train") if t.data["name"] == "click-test-2"][:4]))
    yield env
    env.close()


def test_scripted_policy_solves_click_test_2(click_test_2):
    env = click_test_2
    for task_id in env.tasks.ids("train"):
        obs, info = env.reset(options={"task": task_id})
        target = dict(info["fields"])["target"]
        assert obs[1]["content"][0]["text"] == f"Goal: Click button {target}.\nThe screen is 160x210 pixels."
        assert obs[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
        assert f"button '{target}'" in obs[1]["content"][2]["text"]
        obs, reward, terminated, truncated, step_info = env.step(miniwob_plan(0, info))
        assert (reward, terminated, step_info["miniwob_reward"] > 0) == (1.0, True, True)


def test_wrong_button_and_bad_calls(click_test_2):
    env = click_test_2
    obs, info = env.reset(options={"task": env.tasks.ids("train")[0]})
    obs, *_ = env.step(call("click", element="999"))
    assert obs[0]["content"] == "Error: no element [999]; use an id from the element list"
    obs, *_ = env.step(call("click", x=500, y=5))
    assert "outside the 160x210 screen" in obs[0]["content"]
    target = dict(info["fields"])["target"]
    wrong = next(e for e in info["elements"] if e["role"] == "button" and e["name"] != target)
    obs, reward, terminated, truncated, step_info = env.step(call("click", element=wrong["id"]))
    assert (reward, terminated, step_info["miniwob_reward"]) == (0.0, True, -1.0)


def test_text_selenium_cannot_send_is_the_policy_s_error(click_test_2):
    """A lone surrogate in typed text raised ToolInfrastructureError("MiniWoB failed: InvalidArgumentException")."""
    env = click_test_2
    env.reset(options={"task": env.tasks.ids("train")[0]})
    obs, reward, terminated, truncated, info = env.step(call("type", text="towel \udbca pink"))
    assert obs[0]["content"].startswith("Error: the text cannot be sent: it holds a lone surrogate (the first, '\\udbca'")
    assert (reward, terminated, truncated, info["valid_action"], info["tool_errors"]) == (0.0, False, False, True, 1)
    obs, *_ = env.step(call("type", text="a\x00b"))  # Selenium dropped the NUL without a word
    assert obs[0]["content"].startswith("Error: the text cannot be sent: it holds a NUL character (the first at character 1)")


@pytest.mark.slow
@pytest.mark.parametrize("observation", ["both", "a11y"])
def test_check_env_miniwob(click_test_2, observation):
    results = check_multiturn(lambda: MiniWoBEnv(split="train", tasks=click_test_2.tasks, max_turns=3, max_open=1, observation=observation),
                              n_fuzz=100)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_a11y_screens_are_text_with_every_element(click_test_2):
    env = MiniWoBEnv(split="train", tasks=click_test_2.tasks, observation="a11y", max_open=1)
    obs, info = env.reset(options={"task": env.tasks.ids("train")[0]})
    first = obs[1]["content"]
    assert isinstance(first, str) and first.startswith(f"Goal: {info['utterance']}\nThe screen is 160x210 pixels.\nScreen elements (id, tag")
    assert all(f"- [{e['id']}] {e['role']} {e['name']!r}" in first and f"box={','.join(map(str, e['box']))}" in first for e in info["elements"])
    obs, *_ = env.step(call("wait"))  # nothing moves on click-test-2's screen
    assert obs[1]["content"].startswith("The screen now:\nScreen elements") and obs[1]["content"].endswith("Changes since the last screen: none")
    obs, reward, terminated, *_ = env.step(miniwob_plan(0, info))
    assert (reward, terminated) == (1.0, True)
    env.close()
