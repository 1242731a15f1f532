"""Attacks on the Code env's scoring: HumanEval verdicts are made on the host and expected values
never enter the sandbox; workspace modules never run in the harness parent; odd values never crash
the host side; sandboxes go back to the pool as soon as an episode ends."""

import gc
import json

import pytest

from agents.scripted import call
from envs.code.data import check_data, record_check
from envs.code.env import CodeEnv
from envs.code.harness import encode
from envs.code.values import matches, same, show
from envs.tasks import ListTaskSet, Task
from tests.test_code_env import BACKENDS, double_tasks

PROMPT = 'def bump(x):\n    return x + 1\n\n\ndef shout(s: str) -> str:\n    """Upper-case s and add two bangs."""\n'
ANSWER = PROMPT + "    return s.upper() + '!!'\n"
CHECK = (
    "def check(candidate):\n    assert candidate('quiet') == 'QUIET!!'\n    assert candidate('zebra') == 'ZEBRA!!'\n"
    "    assert abs(len(candidate('ab')) - 4) < 1e-6\n    assert len(candidate('abc')) == bump(4)\n"
)
SECRETS = ["QUIET!!", "ZEBRA!!"]


def shout_tasks():
    data = check_data(PROMPT, CHECK, "shout", record_check(PROMPT, ANSWER, CHECK, "shout"))
    return ListTaskSet([Task(id="shout", split="test", prompt="Write shout(s).", answer=ANSWER, data={**data, "visible": []})])


def make(backend):
    env = CodeEnv(split="test", tasks=shout_tasks(), sandbox=backend, test_timeout=2.0)
    env.reset(options={"task": "shout"})
    return env


def submit(env, code):
    _, reward, terminated, _, info = env.step(call("submit", code=code))
    assert terminated
    return reward, info


ATTACKS = {
    # (a) write a passing result into every inherited fd (the result pipe among them), then leave
    "pipe": "import os, json\ndef shout(s):\n    for fd in range(3, 64):\n        try:\n"
            "            os.write(fd, json.dumps({'status': 'ok'}).encode())\n        except OSError:\n            pass\n"
            "    os._exit(0)\n",
    # (b) disarm the harness's checks and return an object equal to everything
    "guard": "import __main__\n__main__.guard = lambda fn: fn\n__main__.encode = lambda v, depth=0: v\n"
             "__main__.plain = lambda v: v\nclass Any(str):\n    def __eq__(self, other):\n        return True\n"
             "    def __ne__(self, other):\n        return False\n    def __len__(self):\n        return 5\n"
             "def shout(s):\n    return Any('x')\n",
    # (c) shadow names the tests use: a builtin and a prompt helper
    "shadow": "abs = lambda x: 0\nlen = lambda x: 5\nbump = lambda x: 5\ndef shout(s):\n    return 'x'\n",
    # (d) read the hidden tests from the harness's frames and answer from them
    "frames": "import sys, re\ndef shout(s):\n    f, seen = sys._getframe(1), []\n    while f is not None:\n"
              "        seen.append(repr(f.f_locals.get('job', '')))\n        f = f.f_back\n"
              "    found = re.findall(r\"'([A-Z]+!!)'\", ' '.join(seen))\n"
              "    return next((x for x in found if x.lower().startswith(s.upper().lower())), 'nothing')\n",
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_reference_scores_full_and_every_attack_scores_zero(backend):
    env = make(backend)
    reward, info = submit(env, ANSWER)
    assert reward == 1.0 and info["tests_total"] == 4
    for name, code in ATTACKS.items():
        env.reset(options={"task": "shout"})
        reward, info = submit(env, code)
        assert reward == 0.0, (name, info["test_status"])
    env.close()


def test_hidden_expected_values_never_enter_the_sandbox(monkeypatch):
    env = make("local")
    sent = []
    real_run = env._run

    def spy(code, timeout, **kwargs):
        sent.append(code + json.dumps(kwargs.get("files", {})))
        return real_run(code, timeout, **kwargs)

    monkeypatch.setattr(env, "_run", spy)
    reward, _ = submit(env, ANSWER)
    assert reward == 1.0 and sent
    for secret in SECRETS + ["assert ", "bump(4)"]:
        assert not any(secret in text for text in sent), secret
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_workspace_modules_never_run_in_the_harness(backend):
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox=backend, test_timeout=2.0)
    env.reset(options={"task": "double/calls"})
    names = ["hashlib", "select", "signal", "traceback", "json", "math", "time", "ctypes", "_ctypes", "struct"]
    plant = "".join(f"open({n + '.py'!r}, 'w').write(\"open('pwned_{n}', 'w').write('x')\\n\")\n" for n in names)
    env.step(call("run_python", code=plant))
    obs, *_ = env.step(call("run_tests", code="def double(x):\n    return 2 * x\n"))
    assert obs[0]["content"].startswith("3/3 examples passed.")
    obs, *_ = env.step(call("run_python", code="import os\nprint(sorted(f for f in os.listdir('.') if f.startswith('pwned')))"))
    assert "[]" in obs[0]["content"], obs[0]["content"]
    _, reward, *_ = env.step(call("submit", code="def double(x):\n    return 2 * x\n"))
    assert reward == 1.0
    env.close()


def test_odd_values_never_crash_the_host_side():
    assert not matches(encode(0.5), {"status": "ok", "value": 10 ** 400})
    assert not matches(encode(0.5), {"status": "ok", "value": {"zz": 1}})
    assert not matches(encode([1]), {"status": "ok", "value": {"d": [[{"l": []}, 1]]}})
    assert show({"zz": 1}) == "(unprintable value)" and show(encode([1, 2])) == "[1, 2]"
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox="local", test_timeout=2.0)
    env.reset(options={"task": "double/calls"})
    obs, *_ = env.step(call("run_tests", code="def double(x):\n    return 10 ** 400 if x else 0.5\n"))
    assert obs[0]["content"].startswith("0/3 examples passed.")
    env.close()


def test_bools_never_equal_numbers_inside_sets_and_keys():
    assert not same({True}, {1}) and not same({1: "a"}, {True: "a"}) and not same(frozenset({(1, False)}), frozenset({(1, 0)}))
    assert same({1}, {1.0}) and same({(1, "a"): [True]}, {(1, "a"): [True]}) and same({True, 2}, {2, True})


def test_sandboxes_go_back_when_an_episode_ends():
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox="local", test_timeout=2.0, max_turns=2)
    pool = env.pool
    active = lambda: pool.stats()["active"]  # noqa: E731
    base = active()
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    assert active() == base + 1
    env.step(call("submit", code="def double(x):\n    return 2 * x\n"))
    assert active() == base and env._sb is None
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    *_, truncated, _ = env.step(call("run_python", code="print(2)"))
    assert truncated and active() == base
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    assert active() == base + 1
    del env
    gc.collect()
    assert active() == base
