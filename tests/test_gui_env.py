"""GUITrace-v0 and GUI-v0 in real headless Chromium (skipped, with the reason, where it cannot run).

One browser serves the whole test session (the process-wide service); traces are recorded once
into a temporary folder, few apps x few goals, to keep the CPU cost small.
"""

import hashlib
import json
import random

import pytest

from envs.checker import check_multiturn
from envs.gui.browser import browser_unavailable
from envs.gui.live_env import GUIEnv
from envs.gui.oracle import live_plan, trace_plan
from envs.gui.tasks import GUISizes, app_tasks
from envs.gui.trace_env import GUITraceEnv
from envs.gui.traces import TraceSizes, build_traces, export_gui_r1, load_trace_tasks
from envs.tasks import ListTaskSet
from tools import call

pytestmark = pytest.mark.skipif(browser_unavailable() is not None, reason=str(browser_unavailable()))
TOOLS = ["click", "type", "scroll", "press", "select", "wait", "complete"]


@pytest.fixture(scope="session")
def trace_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gui") / "traces"
    build_traces(root, TraceSizes(train=2, val=1, test=5))
    return root


@pytest.fixture(scope="session")
def live_tasks():
    return ListTaskSet(app_tasks(GUISizes(train=1, val=1, test_apps=2, test_themes=1)))


def play(env, plan, task_id):
    _obs, info = env.reset(options={"task": task_id})
    turn = 0
    while True:
        _obs, reward, terminated, truncated, step_info = env.step(plan(turn, info))
        turn += 1
        if terminated or truncated:
            return reward, step_info


def random_action(rng):
    name = rng.choice(TOOLS)
    args = {"click": lambda: {"x": rng.randrange(800), "y": rng.randrange(600)}, "type": lambda: {"text": rng.choice(["hello", "x"])},
            "scroll": lambda: {"direction": rng.choice(["up", "down"])}, "press": lambda: {"key": rng.choice(["Enter", "Tab"])},
            "select": lambda: {"element": "set-language", "value": "French"}}.get(name, dict)()
    return call(name, **args)


@pytest.mark.parametrize("mode", ["step", "trace"])
def test_trace_oracle_scores_one_on_test(trace_root, mode):
    tasks = load_trace_tasks(str(trace_root), mode=mode)
    env = GUITraceEnv(split="test", tasks=tasks, mode=mode, observation="both")
    results = [play(env, trace_plan, tid) for tid in tasks.ids("test")]
    assert len(results) >= 5
    assert all(r == 1.0 and info["success"] for r, info in results)
    assert all(info["reward_parts"] == {"format": 1.0, "type": 1.0, "accuracy": 1.0, "reward": 1.0} | (
        {"distance": info["reward_parts"]["distance"]} if "distance" in info["reward_parts"] else {}) for _, info in results)


def test_trace_random_scores_near_zero(trace_root):
    tasks = load_trace_tasks(str(trace_root), mode="step")
    env = GUITraceEnv(split="test", tasks=tasks)
    rng = random.Random(0)
    accuracy = [play(env, lambda t, i: random_action(rng), tid)[1]["reward_parts"]["accuracy"] for tid in tasks.ids("test")]
    assert sum(accuracy) / len(accuracy) <= 0.25


def test_trace_observation_and_images_stored_once(trace_root):
    tasks = load_trace_tasks(str(trace_root), mode="step")
    env = GUITraceEnv(split="test", tasks=tasks, observation="both", images="file")
    obs, _info = env.reset(options={"task": tasks.ids("test")[0]})
    parts = obs[1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text"]
    assert parts[0]["text"].startswith("Goal: ") and "800x600" in parts[0]["text"]
    assert parts[1]["image_url"]["url"].startswith("file://") and "Screen elements" in parts[2]["text"]
    referenced = set()
    for line in (trace_root / "records" / "test.jsonl").read_text().splitlines():
        for step in json.loads(line)["steps"]:
            referenced.add(step["image"])
            assert step["history"] == [] or len(step["history"]) == step["index"]
    files = {f"images/{p.name}" for p in (trace_root / "images").iterdir()}
    assert referenced <= files
    for name in files:  # every image is named by its content: one file per distinct screen
        assert (trace_root / name).name.startswith(hashlib.sha256((trace_root / name).read_bytes()).hexdigest()[:24])


def test_trace_mode_teacher_forces_and_scores_the_mean(trace_root):
    tasks = load_trace_tasks(str(trace_root), mode="trace")
    tid = max(tasks.ids("test"), key=lambda t: len(tasks.get(t).data["steps"]))
    n = len(tasks.get(tid).data["steps"])
    env = GUITraceEnv(split="test", tasks=tasks, mode="trace")
    obs, info = env.reset(options={"task": tid})
    # step 1 wrong (a bad call: 0), the rest right: outcome (n - 1) / n
    obs, reward, terminated, _truncated, step_info = env.step("no call")
    assert step_info["reward_parts"]["reward"] == 0.0 and obs[-1]["role"] == "user" and isinstance(obs[-1]["content"], list)
    assert "1. " in obs[-1]["content"][0]["text"]  # the gold instruction of step 1 is in the history
    for turn in range(1, n):
        obs, reward, terminated, _truncated, step_info = env.step(trace_plan(turn, info))
    assert terminated and reward == pytest.approx((n - 1) / n) and step_info["success"] is False


def test_exporter_writes_gui_r1_rows(trace_root, tmp_path):
    rows = export_gui_r1(trace_root, tmp_path, "test")
    lines = [json.loads(x) for x in (tmp_path / "test.jsonl").read_text().splitlines()]
    assert rows == len(lines) > 0
    click = next(r for r in lines if r["gt_action"] == "click")
    x1, y1, x2, y2 = click["gt_bbox"]
    assert x1 < click["gt_point"][0] < x2 and y1 < click["gt_point"][1] < y2 and click["gt_input_text"] == "no input text"
    assert (tmp_path / click["image"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert lines[-1]["gt_action"] == "complete" and lines[-1]["gt_bbox"] == []


@pytest.mark.parametrize("mode", ["step", "trace"])
def test_check_env_trace(trace_root, mode):
    tasks = load_trace_tasks(str(trace_root), mode=mode)
    results = check_multiturn(lambda: GUITraceEnv(split="test", tasks=tasks, mode=mode), n_fuzz=300)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_live_oracle_solves_test_and_random_does_not(live_tasks):
    env = GUIEnv(split="test", tasks=live_tasks)
    first_of_app = {}
    for tid in live_tasks.ids("test"):  # one goal of every app: the held-out apps and the held-out themes
        first_of_app.setdefault(live_tasks.get(tid).data["app"], tid)
    assert len(first_of_app) == 7
    oracle = [play(env, live_plan, tid)[0] for tid in first_of_app.values()]
    assert oracle == [1.0] * 7
    rng = random.Random(1)
    env.max_turns = 5
    rand = [play(env, lambda t, i: random_action(rng), tid)[0] for tid in list(first_of_app.values())[:4]]
    assert sum(rand) <= 1
    env.close()


def test_live_feedback_and_screens(live_tasks):
    env = GUIEnv(split="test", tasks=live_tasks, max_turns=5)
    tid = next(t for t in live_tasks.ids("test") if live_tasks.get(t).data["kind"] == "add")  # contacts: add
    obs, info = env.reset(options={"task": tid})
    assert obs[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "[add-contact] button" in obs[1]["content"][2]["text"] and info["goal_met"] is False
    obs, *_ = env.step(call("type", text="x"))
    assert obs == [{"role": "tool", "name": "type", "content": "Error: no text field has the focus; click a text field first"}] or \
        obs[0]["content"].startswith("Error: no text field")
    obs, *_ = env.step(call("click", element="nope"))
    assert "no visible element [nope]" in obs[0]["content"]
    obs, reward, terminated, _truncated, step_info = env.step(call("click", element="add-contact"))
    assert obs[0]["content"].startswith("Clicked [add-contact]") and obs[1]["role"] == "user"
    assert "[contact-name] textbox 'Name'" in obs[1]["content"][2]["text"]
    obs, reward, terminated, _truncated, step_info = env.step(call("complete"))
    assert terminated and reward == 0.0 and step_info["goal_met"] is False
    env.close()


def test_live_refuses_text_it_cannot_send_and_caps_its_screens(live_tasks):
    """A lone surrogate was typed as U+FFFD and echoed raw ("no visible element [\udbca]"); a screen after a
    step was not capped (a step's own messages were): here a cap far below the 800x600 screenshot."""

    class SmallScreens(GUIEnv):
        max_image_pixels = 200 * 150

    env = SmallScreens(split="test", tasks=live_tasks, max_turns=6)
    tid = next(t for t in live_tasks.ids("test") if live_tasks.get(t).data["kind"] == "add")
    obs, info = env.reset(options={"task": tid})
    assert obs[1]["content"][2]["text"].startswith("[scaled: an image of 800x600 pixels")
    env.step(call("click", element="add-contact"))
    env.step(call("click", element="contact-name"))
    obs, _, terminated, _, info = env.step(call("type", text="towel \udbca pink"))
    assert obs[0] == {"role": "tool", "name": "type", "content": "Error: the text cannot be sent: it holds a lone surrogate (the first, "
                    "'\\udbca', at character 6): half of a UTF-16 pair, which is not a character and cannot be encoded. "
                    "Write it again as plain text."} and not terminated
    obs, *_ = env.step(call("type", text="a\x00b"))
    assert obs[0]["content"].startswith("Error: the text cannot be sent: it holds a NUL character")
    obs, *_ = env.step(call("type", text="Ann"))
    assert obs[0]["content"] == "Typed 'Ann' into [contact-name]." and "value='Ann'" in obs[1]["content"][3]["text"]
    assert obs[1]["content"][2]["text"].startswith("[scaled: an image of 800x600 pixels and ") and \
        obs[1]["content"][2]["text"].endswith("is shown at 200x150 pixels; scale its coordinates by 4]")
    env.close()


def test_live_a11y_screens_are_text_and_say_what_changed(live_tasks):
    env = GUIEnv(split="test", tasks=live_tasks, max_turns=6, observation="a11y")
    tid = next(t for t in live_tasks.ids("test") if live_tasks.get(t).data["kind"] == "add")  # contacts: add
    obs, info = env.reset(options={"task": tid})
    first = obs[1]["content"]
    assert isinstance(first, str) and first.startswith(f"Goal: {live_tasks.get(tid).prompt}\nThe screen is 800x600 pixels.\nScreen elements")
    assert env._obs["png"] == b"" and "Changes since" not in first  # no screenshot is even taken
    assert all(f"[{e['id']}] {e['role']}" in first and f"box={','.join(map(str, e['box']))}" in first for e in env._obs["elements"])
    shown = [e["id"] for e in env._obs["elements"]]
    obs, *_ = env.step(call("click", element="add-contact"))  # the list gives way to the form
    screen, diff = obs[1]["content"].split("\nChanges since the last screen:")
    assert screen.startswith("The screen now:\nScreen elements") and all(f"[{e['id']}]" in screen for e in env._obs["elements"])
    lines = diff.strip().splitlines()
    assert [line.split(" ")[:2] for line in lines] == [["added", "[contact-name]"], ["added", "[contact-phone]"], ["added", "[contact-group]"],
                                                      ["added", "[save-contact]"], *(["removed", f"[{i}]"] for i in shown)]
    obs, *_ = env.step(call("click", element="contact-name"))
    assert obs[1]["content"].endswith("\nChanges since the last screen: none")
    obs, *_ = env.step(call("type", text="Ann"))
    assert obs[1]["content"].endswith("\nChanges since the last screen:\nchanged [contact-name] value '' -> 'Ann'")
    env.close()


def test_live_oracle_in_a11y_with_think_answer(live_tasks):
    env = GUIEnv(split="test", tasks=live_tasks, observation="a11y", reply_format="think_answer")
    first_of_app = {}
    for tid in live_tasks.ids("test"):
        first_of_app.setdefault(live_tasks.get(tid).data["app"], tid)
    assert [play(env, live_plan, tid)[0] for tid in list(first_of_app.values())[:3]] == [1.0] * 3
    env.reset(options={"task": next(iter(first_of_app.values()))})
    obs, reward, terminated, truncated, info = env.step(call("complete"))  # a bare call: no answer, nothing done
    assert (reward, terminated, info["valid_action"]) == (0.0, False, False) and obs[0]["content"].startswith("Error: no <answer>")
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("observation", ["both", "a11y"])
def test_check_env_live(live_tasks, observation):
    results = check_multiturn(lambda: GUIEnv(split="test", tasks=live_tasks, max_turns=4, observation=observation), n_fuzz=150)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_rollout_stores_each_screenshot_once(live_tasks, tmp_path):
    """Concurrent oracle episodes through the rollout engine (env steps in worker threads, one shared
    browser); the trajectory file keeps each distinct screenshot once, as a file named by its hash."""
    import asyncio

    from agents import OraclePolicy, RolloutConfig, read_jsonl, rollout, write_jsonl
    from agents.rollout import Episode

    ids = list(live_tasks.ids("test"))[:4]
    trajs = asyncio.run(rollout(lambda: GUIEnv(split="test", tasks=live_tasks), OraclePolicy(), [Episode(task_id=t) for t in ids],
                                RolloutConfig(concurrency=2), env_id="turngym/GUI-v0"))
    assert [t.final_info["outcome"] for t in trajs] == [1.0] * 4
    path = tmp_path / "trajs.jsonl"
    write_jsonl(path, trajs)
    text = path.read_text()
    assert "data:image/png;base64" not in text
    stored = list((tmp_path / "images").iterdir())
    urls = {p["image_url"]["url"] for t in trajs for m in t.conversation() if isinstance(m["content"], list)
            for p in m["content"] if p["type"] == "image_url"}
    assert len(stored) == len(urls) > 4  # one file per distinct screen, however often it was shown
    back = list(read_jsonl(path))
    assert back[0].messages[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_step_mode_retry_after_a_bad_reply_loses_the_format_part(trace_root):
    tasks = load_trace_tasks(str(trace_root), mode="step")
    env = GUITraceEnv(split="test", tasks=tasks)
    tid = tasks.ids("test")[0]
    obs, info = env.reset(options={"task": tid})
    obs, reward, terminated, truncated, step_info = env.step(call("click", x=3))  # bad arguments: an error, one more try
    assert (reward, terminated, truncated) == (0.0, False, False) and obs[0]["content"].startswith("Error: click needs both x and y")
    assert len(obs) == 1 and step_info["reward_parts"]["reward"] == 0.0
    obs, reward, terminated, truncated, step_info = env.step(trace_plan(0, info))
    assert terminated and reward == pytest.approx(0.8) and step_info["reward_parts"]["format"] == 0.0
    env.reset(options={"task": tid})
    env.step("no call")
    _, reward, terminated, truncated, step_info = env.step("still no call")
    assert (reward, terminated, truncated, step_info["outcome"]) == (0.0, False, True, 0.0)


@pytest.mark.slow
def test_browser_death_is_an_infrastructure_fault_and_the_browser_restarts(live_tasks):
    import time

    from tools.calls import ToolInfrastructureError

    env = GUIEnv(split="test", tasks=live_tasks)
    tid = live_tasks.ids("test")[0]
    env.reset(options={"task": tid})
    service = env._lease.get()
    service.call(service.browser.close)  # Chromium goes away mid-episode
    with pytest.raises(ToolInfrastructureError, match="browser"):
        env.step(call("click", element="new-folder"))
    time.sleep(5.5)  # the service health-checks at most every 5 s, then starts a fresh browser
    obs, info = env.reset(options={"task": tid})
    assert env._lease.get() is not service and obs[1]["content"][1]["type"] == "image_url"
    assert play(env, live_plan, tid)[0] == 1.0
    env.close()
