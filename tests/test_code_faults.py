"""Who pays for a broken sandbox: damage the episode's own code does is scored (never ``failed``),
only infrastructure faults fail an episode; the harness keeps to its time budget; constructing the
env starts no container."""

import asyncio
import os
import re

import gymnasium as gym
import pytest

import turngym  # noqa: F401 - registers the envs
from agents import Episode, OraclePolicy, rollout
from agents.evaluation import summarize
from envs.code import pools
from envs.code.env import CodeEnv
from envs.tasks import ListTaskSet, Task
from sandboxes import SandboxUnavailable
from tests.test_code_env import BACKENDS, docker_reason, double_tasks
from tools import call
from tools.calls import ToolInfrastructureError

needs_docker = pytest.mark.skipif(bool(docker_reason()), reason=str(docker_reason()))
SOLUTION = "def double(x):\n    return 2 * x\n"
FLOOD = (  # empty files in every writable place: kernel memory, not tmpfs size
    "import errno, os\n"
    "for d in ('/tmp', '/dev/shm', '.'):\n"
    "    n = 0\n"
    "    try:\n"
    "        while True:\n"
    "            open(f'{d}/f{n}', 'w').close(); n += 1\n"
    "    except OSError as e:\n"
    "        print(d, errno.errorcode[e.errno])\n"
)


def our_containers() -> int:
    import docker

    return len(docker.from_env().api.containers(all=True, filters={"label": f"turngym.pid={os.getpid()}"}))


def two_tasks():
    calls = double_tasks().get("double/calls")
    return ListTaskSet([calls, Task(**{**calls.model_dump(), "id": "double/flood"})])


def flood_then_submit(turn, info):
    """The oracle on double/calls; on double/flood, a flood of empty files, then the right code."""
    if info["task_id"] == "double/flood" and turn == 0:
        return call("run_python", code=FLOOD)
    return call("submit", code=SOLUTION)


@needs_docker
def test_constructing_the_env_starts_no_container():
    pools.close_pools()
    assert our_containers() == 0
    env = gym.make("turngym/Code-v0", split="train", tasks=double_tasks())
    env.reset(options={"task": "double/calls"})
    assert our_containers() == 0  # neither make nor reset starts the pool
    env.step(call("run_python", code="print(1)"))
    assert our_containers() >= 1
    env.close()


@needs_docker
def test_a_flood_is_scored_not_failed_and_the_next_sandbox_is_clean():
    """Before the inode caps the flood got the worker OOM-killed, the step raised and the episode was
    `failed`, which left it out of the score: episodes=2 failed=1 success_rate=1.0."""
    tasks = two_tasks()
    make_env = lambda: CodeEnv(split="train", tasks=tasks, sandbox="docker", test_timeout=2.0)  # noqa: E731
    episodes = [Episode(task_id="double/calls", seed=0), Episode(task_id="double/flood", seed=1)]
    trajs = asyncio.run(rollout(make_env, OraclePolicy(plan=flood_then_submit), episodes))
    s = summarize(trajs)
    assert (s.episodes, s.failed, s.success_rate, s.mean_reward) == (2, 0, 0.5, 0.5), [t.error for t in trajs]
    flood = trajs[1]
    assert flood.turns[0].observation[0]["content"] == "exit code 0\n--- stdout ---\n/tmp ENOSPC\n/dev/shm ENOSPC\n. ENOSPC\n"
    # its own full workspace left no room for the harness: the submit could not run and scores 0
    assert flood.final_info["tests_passed"] == 0 and flood.final_info["test_status"] == ["error"] * 4
    assert re.fullmatch(r"Submitted, but the tests could not run \(the sandbox refused the call: OSError: \[Errno 28\] No space "
                        r"left on device: '/workspace/\.tg_job_[0-9a-f]{16}\.json'\): 0/4 hidden tests passed\.",
                        flood.turns[1].observation[0]["content"]), flood.turns[1].observation
    from tests.docker_sandbox import assert_clean_next_episode

    assert_clean_next_episode(pools.shared_pool("docker"))


@needs_docker
def test_a_sandbox_that_dies_while_the_engine_is_healthy_ends_the_episode_scored():
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox="docker", test_timeout=2.0)
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    env._sb.kill_container()  # as an OOM kill of the worker would look from the host
    obs, reward, terminated, truncated, info = env.step(call("run_python", code="print(2)"))
    assert (reward, terminated, truncated, info["outcome"]) == (0.0, True, False, 0.0)
    assert obs[0]["content"].startswith("Error: the sandbox stopped working while running your code (sandbox is broken: worker")
    assert obs[0]["content"].endswith("The episode ends here with score 0 (nothing was submitted).")
    assert "worker connection lost" in info["sandbox_broken"] and env._sb is None
    # the same on submit: the submit could not run, so it scores 0
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    env._sb.kill_container()
    obs, reward, terminated, _, info = env.step(call("submit", code=SOLUTION))
    assert (reward, terminated, info["tests_passed"], info["tests_total"]) == (0.0, True, 0, 4)
    assert obs[0]["content"].startswith("Submitted, but the tests could not run (the sandbox stopped working") and obs[0][
        "content"].endswith("The episode ends here): 0/4 hidden tests passed.")
    assert "worker connection lost" in info["sandbox_broken"]
    env.close()


@needs_docker
def test_a_sandbox_that_dies_with_the_engine_down_is_an_infrastructure_fault(monkeypatch):
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox="docker")
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    env._sb.kill_container()

    def engine_down():
        raise SandboxUnavailable("no Docker engine reachable (connection refused)")

    monkeypatch.setattr(env.pool.backend, "check", engine_down)
    with pytest.raises(ToolInfrastructureError, match=r"the engine is not healthy \(no Docker engine reachable"):
        env.step(call("run_python", code="print(2)"))
    assert env._sb is None
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stopped_harness_is_killed_at_its_budget(backend):
    """Code that SIGSTOPs the harness (its parent) used to hold the call to budget + 10 s."""
    env = CodeEnv(split="train", tasks=double_tasks(), sandbox=backend, test_timeout=1.0, submit_budget=3.0)
    env.reset(options={"task": "double/calls"})
    env.step(call("run_python", code="print(1)"))
    calls, real_run = [], env._sb.run

    def spy(code, timeout, **kwargs):
        calls.append((timeout, real_run(code, timeout=timeout, **kwargs)))
        return calls[-1][1]

    env._sb.run = spy
    stopper = "import os, signal\ndef double(x):\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return 2 * x\n"
    _, reward, terminated, _, info = env.step(call("submit", code=stopper))
    (timeout, result), = calls
    assert timeout == 3.0 and result.timed_out and "timed out after 3s" in result.stderr
    assert (reward, terminated, info["test_status"]) == (0.0, True, ["crash"] * 4)
    env.close()


def test_a_stopped_host_judge_is_killed_at_its_budget(monkeypatch):
    """The HumanEval judge on the host got budget + 10 s: a judge that cannot run its own timers
    (stopped here, or stuck in C code) overran a 15 s budget to 25 s."""
    import subprocess

    from envs.code import replay
    from envs.code.harness import encode

    timeouts, real_run = [], subprocess.run

    def spy(*args, **kwargs):
        timeouts.append(kwargs["timeout"])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    stop = "def __tg_test(candidate):\n    import os, signal\n    os.kill(os.getpid(), signal.SIGSTOP)\n"
    passes = "def __tg_test(candidate):\n    assert candidate(2) == 4\n"
    table = [[encode(((2,), {})), {"status": "ok", "value": encode(4)}]]  # double(2) returned 4 in the sandbox
    assert replay.judge("", "double", "", [passes], [table], timeout=1.0, budget=2.0) == [True]
    assert replay.judge("", "double", "", [passes, stop], [table, table], timeout=1.0, budget=2.0) == [False, False]
    assert timeouts == [2.0, 2.0]  # the process's whole wall time is the budget
