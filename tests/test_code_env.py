"""The Code env through the local sandbox backend (runs everywhere) and, where an engine and the
image exist, through Docker: tools, reward, forgery, fresh sandboxes, conformance, the oracle."""

import asyncio
import random
import warnings

import gymnasium as gym
import pytest

import turngym  # noqa: F401
from agents import Episode, OraclePolicy, rollout
from agents.evaluation import summarize
from agents.scripted import call
from envs.checker import check_multiturn, fuzz_actions
from envs.code import pools
from envs.code.data import check_data, load_code_tasks, record_check
from envs.code.env import CodeEnv
from envs.code.harness import encode
from envs.tasks import ListTaskSet, Task
from sandboxes import SandboxUnavailable
from tools.calls import ToolInfrastructureError

warnings.filterwarnings("ignore", message=".*LOCAL sandbox backend.*")

DOUBLE_CHECK = (
    "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(2) == 4\n"
    "    assert candidate(3) == 6\n    for i in range(4, 8):\n        assert candidate(i) == 2 * i\n"
)


def double_tasks():
    cases = lambda xs: [{"call": f"double({x})", "expected": encode(2 * x)} for x in xs]  # noqa: E731
    prompt = 'def double(x: int) -> int:\n    """Twice x."""\n'
    answer = prompt + "    return 2 * x\n"
    he_data = check_data(prompt, DOUBLE_CHECK, "double", record_check(prompt, answer, DOUBLE_CHECK, "double"))
    return ListTaskSet([
        Task(id="double/calls", split="train", prompt="Write double(x).", answer="def double(x):\n    return 2 * x\n",
             data={"entry_point": "double", "visible": cases([0, 5, -1]), "hidden": cases([1, 2, 3, 4])}),
        Task(id="double/asserts", split="test", prompt="Write double(x).", answer=answer, data={**he_data, "visible": []}),
    ])


def docker_reason():
    """Why Docker tests cannot run here (same check as tests/test_sandbox_docker.py), or None."""
    try:
        import docker

        from sandboxes.image import IMAGE, image_exists

        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as e:  # noqa: BLE001
        return f"no Docker engine reachable ({e}); run scripts/setup.d/20-docker.sh"
    if not image_exists(client, IMAGE):
        return f"sandbox image {IMAGE} missing; run `turngym sandbox build --offline`"
    return None


BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.skipif(bool(docker_reason()), reason=str(docker_reason())))]


@pytest.fixture(scope="module")
def tasks():
    return load_code_tasks()


def make(backend="local", task="double/calls", **kw):
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox=backend, test_timeout=kw.pop("test_timeout", 2.0), **kw)
    env.reset(options={"task": task})
    return env


def submit(env, code):
    obs, reward, terminated, truncated, info = env.step(call("submit", code=code))
    assert terminated and not truncated
    return obs[0]["content"], reward, info


@pytest.mark.parametrize("backend", BACKENDS)
def test_reward_is_the_fraction_of_hidden_tests_passed(backend):
    env = make(backend)
    text, reward, info = submit(env, "def double(x):\n    return 2 * x if x < 3 else 0\n")
    assert (reward, info["tests_passed"], info["tests_total"], info["success"]) == (0.5, 2, 4, False)
    assert text == "Submitted: 2/4 hidden tests passed." and "double(3)" not in text
    env.reset(options={"task": "double/calls"})
    text, reward, info = submit(env, "def double(x):\n    return x + x\n")
    assert (reward, info["success"]) == (1.0, True)
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_crashing_or_hanging_test_costs_only_itself(backend):
    env = make(backend, test_timeout=1.0)
    code = "import os\ndef double(x):\n    if x == 2:\n        os._exit(3)\n    if x == 3:\n        while True: pass\n    if x == 4:\n        raise ValueError('no')\n    return 2 * x\n"
    _, reward, info = submit(env, code)
    assert reward == 0.25 and info["test_status"] == ["pass", "crash", "timeout", "error"]
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_humaneval_style_checks_count_one_test_per_assert(backend):
    env = make(backend, task="double/asserts")
    _, reward, info = submit(env, "def double(x):\n    return 2 * x if x != 2 else 5\n")
    assert (info["tests_passed"], info["tests_total"], reward) == (3, 4, 0.75)
    env.reset(options={"task": "double/asserts"})
    _, reward, info = submit(env, "def double(x):\n    return 2 * x if x < 6 else -1\n")
    assert (info["tests_passed"], reward) == (3, 0.75)  # the loop of asserts is one test
    env.reset(options={"task": "double/asserts"})
    _, reward, info = submit(env, "x = 1\n")  # the prompt's stub (returns None) is not the user's function
    assert reward == 0.0 and info["test_status"] == ["error"] * 4
    env.close()


FORGERIES = [
    # prints result lines that look like the harness's, for every case, then leaves
    "import os, json\nfor i in range(20):\n    print('0' * 32, json.dumps({'status': 'ok', 'value': 0, 'job': 0, 'case': i}))\n"
    "    print(json.dumps({'status': 'ok', 'job': 0, 'case': i}))\nos._exit(0)\n",
    # an object equal to everything
    "class Any:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n        return False\n"
    "def double(x):\n    return Any()\n",
    # an int subclass that claims equality
    "class Int(int):\n    def __eq__(self, other):\n        return True\ndef double(x):\n    return Int(0)\n",
    # exits cleanly before anything is checked
    "import sys\nsys.exit(0)\n",
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", ["double/calls", "double/asserts"])
def test_forged_results_do_not_score(backend, task):
    env = make(backend, task=task)
    for code in FORGERIES:
        _, reward, info = submit(env, code)
        assert reward == 0.0, (code, info["test_status"])
        env.reset(options={"task": task})
    env.close()


def test_run_tests_reports_each_example():
    env = make()
    obs, *_ = env.step(call("run_tests", code="def double(x):\n    if x < 0:\n        return 1 // 0\n    return x * 3\n"))
    lines = obs[0]["content"].splitlines()
    assert lines[0] == "1/3 examples passed."
    assert lines[1] == "PASS double(0) == 0"
    assert lines[2] == "FAIL double(5): expected 10, got 15"
    assert lines[3].startswith("ERROR double(-1): expected -2; ZeroDivisionError: integer division or modulo by zero (line 3: return 1 // 0)")
    obs, *_, info = env.step(call("run_tests", code="def double(x):\n    return 2 * x\n"))
    assert obs[0]["content"].startswith("3/3 examples passed.") and info["visible_passed"] == 3
    obs, *_ = env.step(call("run_tests", code="def oops(:\n"))
    assert "does not compile: SyntaxError" in obs[0]["content"]
    env.reset(options={"task": "double/asserts"})
    obs, *_, info = env.step(call("run_tests", code="x = 1"))
    assert "no visible examples" in obs[0]["content"] and info["tool_errors"] == 1
    env.close()


def test_run_python_shows_output_errors_timeouts_and_truncation():
    env = make(run_timeout=1.0, max_output_chars=200)
    obs, *_ = env.step(call("run_python", code="import sys\nprint('hi')\nprint('bad', file=sys.stderr)\nsys.exit(3)"))
    assert obs[0]["content"] == "exit code 3\n--- stdout ---\nhi\n\n--- stderr ---\nbad\n"
    obs, *_ = env.step(call("run_python", code="print('x' * 1000)\n1/0"))
    text = obs[0]["content"]
    assert text.startswith("exit code 1") and "[stdout truncated]" in text and text.rstrip().endswith("ZeroDivisionError: division by zero")
    obs, *_ = env.step(call("run_python", code="while True: pass"))
    assert obs[0]["content"].startswith("timed out after 1s")
    obs, *_ = env.step(call("run_python", code="x = 1"))
    assert obs[0]["content"] == "exit code 0\n(no output)"
    env.close()


def test_every_episode_gets_a_fresh_sandbox():
    env = make()
    env.step(call("run_python", code="open('left.txt', 'w').write('x')"))
    obs, *_ = env.step(call("run_python", code="import os; print(sorted(os.listdir('.')))"))
    assert "left.txt" in obs[0]["content"]
    first = env._sb
    env.reset(options={"task": "double/calls"})
    obs, *_ = env.step(call("run_python", code="import os; print(sorted(os.listdir('.')))"))
    assert "left.txt" not in obs[0]["content"] and env._sb is not first and first.closed is not None
    env.close()
    assert env._sb is None


def test_a_missing_docker_engine_names_the_fix(monkeypatch):
    def unavailable(*args, **kwargs):
        raise SandboxUnavailable("no Docker engine reachable (connection refused)")

    monkeypatch.setattr(pools, "service_key", lambda backend: f"test-no-engine:{backend}")  # a fresh, unstarted service
    monkeypatch.setattr(pools, "make_pool", unavailable)
    env = CodeEnv(tasks=double_tasks(), sandbox="docker")  # lazy: nothing is checked or started yet
    env.reset(options={"task": "double/calls"})
    with pytest.raises(ToolInfrastructureError) as err:  # the rollout marks such an episode failed
        env.step(call("run_python", code="print(1)"))
    assert "turngym sandbox build --offline" in str(err.value) and "20-docker.sh" in str(err.value)
    assert "connection refused" in str(err.value)
    env.close()
    with pytest.raises(ValueError, match="sandbox must be one of"):
        CodeEnv(tasks=double_tasks(), sandbox="chroot")


def test_check_multiturn_and_fuzzing_never_crash(tasks):
    results = check_multiturn(lambda: gym.make("turngym/Code-v0", split="val", tasks=tasks, sandbox="local"), n_fuzz=150)
    assert all(r.ok for r in results), results
    env = CodeEnv(split="train", tasks=tasks, sandbox="local", run_timeout=2.0, test_timeout=1.0, submit_budget=5.0)
    env.reset(seed=3)
    fuzz = fuzz_actions(random.Random(5), env.toolbox.names)
    for _ in range(150):
        obs, reward, terminated, truncated, info = env.step(next(fuzz))
        assert obs and all(m["content"].strip() for m in obs) and 0.0 <= reward <= 1.0
        if terminated or truncated:
            env.reset()
    env.close()


def oracle(tasks, split, ids, backend):
    episodes = [Episode(task_id=t, seed=i) for i, t in enumerate(ids)]
    make_env = lambda: CodeEnv(split=split, tasks=tasks, sandbox=backend)  # noqa: E731
    trajs = asyncio.run(rollout(make_env, OraclePolicy(), episodes))
    failures = [(t.task_id, t.error or t.final_info.get("test_status")) for t in trajs if not t.success]
    assert not failures, failures[:5]
    assert summarize(trajs).invalid_action_rate == 0.0


def test_oracle_solves_generated_tasks_locally(tasks):
    oracle(tasks, "train", list(tasks.ids("train"))[::6], "local")
    oracle(tasks, "val", list(tasks.ids("val"))[::4], "local")


@pytest.mark.parametrize("backend", BACKENDS)
def test_oracle_solves_a_humaneval_slice(tasks, backend):
    oracle(tasks, "test", list(tasks.ids("test"))[:10], backend)


@pytest.mark.slow
@pytest.mark.skipif(bool(docker_reason()), reason=str(docker_reason()))
def test_oracle_scores_164_of_164_on_humaneval_in_docker(tasks):
    oracle(tasks, "test", list(tasks.ids("test")), "docker")
