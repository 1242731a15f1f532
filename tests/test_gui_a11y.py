"""GUI observation settings (screenshot / a11y / both), the screen diff, GUI-R1's think/answer reply
format and GUITrace-v0's near-miss teacher, on a hand-written trace: no browser needed."""

import hashlib
import io
import json

import pytest

from envs.checker import check_multiturn
from envs.gui.live_env import GUIEnv
from envs.gui.miniwob_env import MiniWoBEnv
from envs.gui.oracle import trace_plan
from envs.gui.page import a11y_text
from envs.gui.replies import NO_ANSWER, unwrap
from envs.gui.screens import screen_diff
from envs.gui.teacher import NearMiss, plausible_wrong
from envs.gui.trace_env import GUITraceEnv
from envs.gui.traces import load_trace_tasks, write_trace_tasks
from tools import call

ADD = {"id": "add-note", "role": "button", "name": "Add note", "box": [10, 10, 80, 30], "clickable": True, "value": None}
CLEAR = {"id": "clear", "role": "button", "name": "Clear", "box": [100, 10, 60, 30], "clickable": True, "value": None}
MILK = {"id": "note-1", "role": "listitem", "name": "Milk", "box": [10, 50, 200, 30], "clickable": False, "value": None}
TITLE = {"id": "note-title", "role": "textbox", "name": "Title", "box": [10, 100, 200, 30], "clickable": True, "value": ""}
SAVE = {"id": "save-note", "role": "button", "name": "Save", "box": [10, 140, 80, 30], "clickable": True, "value": None}
# (elements, scroll, gold action, instruction) of each screen: add a note "Eggs", the list scrolls as the form opens
SCREENS = [
    ([ADD, CLEAR, MILK], [0, 0], {"type": "click", "element": "add-note", "box": ADD["box"], "point": [50.0, 25.0]}, "Click 'Add note'"),
    ([ADD, CLEAR, MILK, TITLE], [0, 0], {"type": "click", "element": "note-title", "box": TITLE["box"], "point": [110.0, 115.0]},
     "Click the title field"),
    ([ADD, CLEAR, MILK, TITLE], [0, 0], {"type": "type", "text": "Eggs", "element": "note-title"}, "Type 'Eggs'"),
    ([ADD, CLEAR, {**TITLE, "value": "Eggs"}, SAVE], [0, 120], {"type": "click", "element": "save-note", "box": SAVE["box"], "point": [50.0, 155.0]},
     "Click 'Save'"),
    ([ADD, CLEAR, {**MILK, "name": "Milk, Eggs"}], [0, 0], {"type": "complete"}, "The goal is reached: report completion"),
]
N_ELEMENTS = [3, 4, 4, 4, 3]


def png(shade: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (shade, shade, shade)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("trace")
    (root / "images").mkdir()
    records = []
    for split, goal in (("train", "Add a note Eggs"), ("val", "Add the note Eggs"), ("test", "Note down Eggs")):
        steps = []
        for i, (elements, scroll, action, instruction) in enumerate(SCREENS):
            data = png(40 * i)
            name = f"images/{hashlib.sha256(data).hexdigest()[:24]}.png"
            (root / name).write_bytes(data)
            steps.append({"index": i, "instruction": instruction, "history": [s[3] for s in SCREENS[:i]], "image": name, "width": 800,
                          "height": 600, "elements": elements, "a11y": a11y_text(elements, scroll), "focused": None, "scroll": scroll,
                          "action": action})
        records.append({"id": f"gui-notes-{split}", "split": split, "goal": goal, "app": "notes", "theme": "paper", "template": 0,
                        "kind": "add", "success": True, "steps": steps})
    write_trace_tasks(root, records)
    return str(root)


def trace_env(root, mode="step", **kw):
    return GUITraceEnv(split="test", tasks=load_trace_tasks(root, mode=mode), mode=mode, **kw)


def test_a11y_observation_is_text_with_every_element_id_and_box(root):
    env = trace_env(root, observation="a11y")
    obs, _ = env.reset(options={"task": "gui-notes-test/1"})
    assert obs[1]["content"] == (
        "Goal: Note down Eggs\nPrevious actions:\n1. Click 'Add note'\nThe screen is 800x600 pixels. What is the next action?\n"
        "Screen elements (id, role, name, box = x,y,w,h):\n"
        "- [add-note] button 'Add note' box=10,10,80,30\n- [clear] button 'Clear' box=100,10,60,30\n"
        "- [note-1] listitem 'Milk' box=10,50,200,30\n- [note-title] textbox 'Title' box=10,100,200,30")
    assert "screenshot" not in obs[0]["content"].split("You have these tools")[0]  # the intro describes a text screen
    for mode, kinds in (("screenshot", ["text", "image_url"]), ("both", ["text", "image_url", "text"])):
        obs, _ = trace_env(root, observation=mode).reset(options={"task": "gui-notes-test/1"})
        assert [p["type"] for p in obs[1]["content"]] == kinds
    assert obs[1]["content"][2]["text"] == a11y_text(SCREENS[1][0], [0, 0])  # both: the same element list


def test_trace_mode_screens_say_exactly_what_changed(root):
    env = trace_env(root, mode="trace", observation="a11y")
    obs, info = env.reset(options={"task": "gui-notes-test"})
    screens = [obs[1]["content"]]
    for turn in range(len(SCREENS) - 1):
        obs, *_ = env.step(trace_plan(turn, info))
        screens.append(obs[-1]["content"])
    assert all(isinstance(s, str) for s in screens) and "Changes since" not in screens[0]
    diffs = [s.split("Changes since the last screen:")[1] for s in screens[1:]]
    assert diffs == [
        "\nadded [note-title] textbox 'Title' box=10,100,200,30",
        " none",
        "\npage scrolled from 0,0 to 0,120\nadded [save-note] button 'Save' box=10,140,80,30\nremoved [note-1] listitem 'Milk'\n"
        "changed [note-title] value '' -> 'Eggs'",
        "\npage scrolled from 0,120 to 0,0\nadded [note-1] listitem 'Milk, Eggs' box=10,50,200,30\nremoved [note-title] textbox 'Title'\n"
        "removed [save-note] button 'Save'",
    ]
    for screen, (elements, *_), n in zip(screens, SCREENS, N_ELEMENTS, strict=True):  # and each lists the whole screen
        assert screen.split("\nChanges since")[0].count("\n- [") == n
        assert all(f"[{e['id']}] {e['role']} {e['name']!r}" in screen and f"box={','.join(map(str, e['box']))}" in screen for e in elements)


def test_screen_diff_orders_and_names_changes():
    before = [ADD, {**TITLE, "value": "a"}, MILK]
    after = [SAVE, {**TITLE, "value": "ab", "name": "Heading"}, ADD]
    assert screen_diff(before, after) == ("Changes since the last screen:\nadded [save-note] button 'Save' box=10,140,80,30\n"
                                          "removed [note-1] listitem 'Milk'\nchanged [note-title] value 'a' -> 'ab'\n"
                                          "changed [note-title] name 'Title' -> 'Heading'")
    assert screen_diff(before, [{**e, "box": [0, 0, 1, 1]} for e in before], [0, 5], [0, 5]) == "Changes since the last screen: none"


@pytest.mark.parametrize("make", [lambda **kw: GUITraceEnv(tasks=[], **kw), lambda **kw: GUIEnv(tasks=[], **kw),
                                  lambda **kw: MiniWoBEnv(tasks=[], **kw)])
def test_bad_settings_name_the_field(make):
    with pytest.raises(ValueError, match=r"^observation must be one of 'screenshot', 'a11y', 'both', got 'text'$"):
        make(observation="text")
    with pytest.raises(ValueError, match=r"^reply_format must be one of 'tool_call', 'think_answer', got 'xml'$"):
        make(reply_format="xml")
    with pytest.raises(ValueError, match=r"^observation='a11y' and the deprecated a11y=True are both given"):
        make(observation="a11y", a11y=True)


def test_a11y_flag_is_a_deprecated_alias(root):
    with pytest.warns(DeprecationWarning, match="observation='both'"):
        env = trace_env(root, a11y=True)
    assert env.observation == "both"
    with pytest.warns(DeprecationWarning):
        assert trace_env(root, a11y=False).observation == "screenshot"
    assert trace_env(root).observation == "screenshot"  # GUITrace-v0's default is unchanged


@pytest.mark.parametrize("mode", ["step", "trace"])
@pytest.mark.parametrize("kw", [{"observation": "a11y"}, {"observation": "a11y", "reply_format": "think_answer"}])
def test_oracle_and_checker_pass_in_a11y_and_think_answer(root, mode, kw):
    tasks = load_trace_tasks(root, mode=mode)
    env = trace_env(root, mode=mode, **kw)
    for tid in tasks.ids("test"):
        obs, info = env.reset(options={"task": tid})
        turn = 0
        while True:
            _, reward, terminated, truncated, step_info = env.step(trace_plan(turn, info))
            turn += 1
            if terminated or truncated:
                break
        assert (reward, step_info["success"]) == (1.0, True)
    results = check_multiturn(lambda: trace_env(root, mode=mode, **kw), n_fuzz=150)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_oracle_clicks_by_id_on_a_text_screen_and_by_point_on_a_screenshot(root):
    for observation, expected in (("a11y", call("click", element="note-title")), ("both", call("click", x=110, y=115))):
        _, info = trace_env(root, observation=observation).reset(options={"task": "gui-notes-test/1"})
        assert trace_plan(0, info) == expected
    _, info = trace_env(root, observation="a11y", reply_format="think_answer").reset(options={"task": "gui-notes-test/1"})
    assert trace_plan(0, info) == f"<think>The goal needs this action next.</think><answer>{call('click', element='note-title')}</answer>"


RIGHT = call("click", element="add-note")  # step 0's gold
WRONG = call("click", element="clear")


@pytest.mark.parametrize(("reply", "reward", "parts", "valid"), [
    (f"<think>Add a note first.</think><answer>{RIGHT}</answer>", 1.0, (1.0, 1.0), True),  # format and action right
    (f"\n<think>x</think>\n<answer>\n{RIGHT}\n</answer>\n", 1.0, (1.0, 1.0), True),  # whitespace around the blocks is fine
    (f"<think>Clear it.</think><answer>{WRONG}</answer>", 0.2, (1.0, 0.0), True),  # format right, action wrong
    (f"<answer>{RIGHT}</answer>", 0.8, (0.0, 1.0), True),  # missing think: accuracy only
    (f"<think>x<answer>{RIGHT}</answer>", 0.8, (0.0, 1.0), True),  # think never closed
    (f"<think>x</think><answer>{RIGHT}</answer> and more", 0.8, (0.0, 1.0), True),  # text after the answer
    (f"<think>x</think>{RIGHT}", 0.0, (0.0, 0.0), False),  # the action outside the answer: no action
    (RIGHT, 0.0, (0.0, 0.0), False),  # a bare call (tool_call format) is no answer either
    ("<think>x</think><answer>click add-note</answer>", 0.0, (0.0, 0.0), False),  # the answer holds no call
    ("<think>x</think><answer>" + RIGHT, 0.0, (0.0, 0.0), False),  # answer never closed
])
def test_think_answer_rewards(root, reply, reward, parts, valid):
    env = trace_env(root, reply_format="think_answer", retries=0)
    env.reset(options={"task": "gui-notes-test/0"})
    obs, r, terminated, truncated, info = env.step(reply)
    assert (r, info["reward_parts"]["format"], info["reward_parts"]["accuracy"], info["valid_action"]) == (reward, *parts, valid)
    assert (terminated, truncated) == (valid, not valid) and env._transcript[2] == {"role": "assistant", "content": reply}
    if "</answer>" not in reply:
        assert obs == [{"role": "user", "content": NO_ANSWER}]


def test_think_answer_in_the_system_prompt_and_a_structured_call():
    assert unwrap({"name": "wait", "arguments": {}}) == ({"name": "wait", "arguments": {}}, False, None)
    env = GUITraceEnv(tasks=[], reply_format="think_answer")
    assert "<think>your reasoning</think><answer>the tool call</answer>" in env.system_prompt()
    assert "<answer>" not in GUITraceEnv(tasks=[]).system_prompt()


def test_near_miss_teacher(root):
    tasks = load_trace_tasks(root, mode="trace")
    step = tasks.get("gui-notes-test").data["steps"][0]
    assert plausible_wrong(step)["id"] == "clear"  # the nearest other button, not the (unclickable) list item
    assert plausible_wrong(tasks.get("gui-notes-test").data["steps"][1])["id"] == "clear"  # no other textbox: the nearest clickable one
    for observation, clicks in (("a11y", call("click", element="add-note")), ("screenshot", call("click", x=50, y=25))):
        env = trace_env(root, mode="trace", observation=observation)
        for miss_rate, right in ((0.0, 5), (1.0, 2)):  # miss_rate 1: every click wrong (3 of the 5 steps are clicks)
            teacher = NearMiss(miss_rate=miss_rate, data_root=root)
            obs, _ = env.reset(options={"task": "gui-notes-test"})
            conv, replies = list(obs), []
            while True:
                replies.append(teacher.act(conv, []))
                conv.append({"role": "assistant", "content": replies[-1]})
                obs, reward, terminated, truncated, info = env.step(replies[-1])
                conv += obs
                if terminated or truncated:
                    break
            assert reward == pytest.approx((right + (5 - right) * 0.2) / 5)  # a wrong click keeps its format part
            if miss_rate == 0.0:
                assert replies[0] == clicks and replies[2] == call("type", text="Eggs") and replies[4] == call("complete")
    env = trace_env(root, reply_format="think_answer")
    obs, _ = env.reset(options={"task": "gui-notes-test/3"})
    assert NearMiss(0.0, root).act(obs, []) == f"<think>Click 'Save'</think><answer>{call('click', x=50, y=155)}</answer>"
    with pytest.raises(ValueError, match="miss_rate must lie in"):
        NearMiss(1.5)


@pytest.mark.parametrize("observation", ["a11y", "screenshot", "both"])
def test_teacher_tells_steps_with_the_same_goal_and_history_apart_by_the_screen(root, observation):
    teacher = NearMiss(0.0, root)
    index = teacher.index()
    assert sum(len(v) for v in index.values()) == 15 and all(len(v) == 1 for v in index.values())
    (key, [(sid, step)]), other = next(iter(index.items())), json.loads(json.dumps(list(index.values())[3][0][1]))
    index[key] = [("decoy", {**other, "history": step["history"]}), (sid, step)]  # a decoy step: same text head, other screen
    env = trace_env(root, observation=observation, images="file" if observation == "both" else "data_url")
    obs, _ = env.reset(options={"task": "gui-notes-train/0"})
    assert key in obs[1]["content"] if observation == "a11y" else key in obs[1]["content"][0]["text"]
    assert teacher.find(obs)[0] == sid == "gui-notes-train/0"
    assert teacher.find([{"role": "user", "content": "no screen"}]) is None
    assert teacher.act([{"role": "user", "content": "no screen"}], []) == call("complete")
