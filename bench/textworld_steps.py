"""TextWorld-v0: game build time, and the env's steps/s against TextWorld's own ``env.step`` on the same games.

Builds ``--games`` fresh games per difficulty into a temporary data home (the first build of a
process also loads TextWorld's knowledge base, reported apart), then plays the same command
sequence on each game twice: through ``TextWorld-v0``'s ``step`` (tool-call parsing, validation,
text cleaning, admissible listing, state key, caps) and straight on ``textworld.start(...).step``
with the same requested infos.  The ratio is the wrapper's cost per step (goal: <= 1.2x).

    python bench/textworld_steps.py [--games 4] [--steps 40] [--difficulties coin-1,treasure-1,cooking-1]

(Not named ``textworld.py``: a script's folder comes first on ``sys.path``, so that name would shadow the
``textworld`` package for every script under ``bench/``.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it measures: keep its folder off the import path, or
# `import textworld` would import this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from envs.textworld.games import textworld_unavailable  # noqa: E402

WANDER = ["look", "inventory", "go east", "go west", "go north", "go south", "examine table", "open door"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def commands_for(walkthrough: list[str], steps: int) -> list[str]:
    """``steps`` commands that wander (no taking, so no early win), then the walkthrough from where it is."""
    return [WANDER[i % len(WANDER)] for i in range(steps)] + walkthrough


def play_env(env, task_id: str, commands: list[str], times: list[float], call) -> float:
    """Play ``commands`` through the env's step (tool-call text in), timing each step; returns the reset's seconds."""
    t0 = time.perf_counter()
    env.reset(options={"task": task_id})
    reset = time.perf_counter() - t0
    for command in commands:
        action = call("command", text=command)
        t0 = time.perf_counter()
        *_, terminated, truncated, _ = env.step(action)
        times.append(time.perf_counter() - t0)
        if terminated or truncated:
            break
    return reset


def play_bare(textworld, path, infos, commands: list[str], times: list[float]) -> None:
    """Play ``commands`` straight on TextWorld's env with the same requested infos, timing each ``step``."""
    game = textworld.start(str(path), request_infos=infos)
    game.reset()
    for command in commands:
        t0 = time.perf_counter()
        _, _, done = game.step(command)
        times.append(time.perf_counter() - t0)
        if done:
            break
    game.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40, help="wandering commands per game before the walkthrough")
    parser.add_argument("--difficulties", default="coin-1,treasure-1,cooking-1")
    args = parser.parse_args()
    if textworld_unavailable():
        raise SystemExit(textworld_unavailable())
    os.environ["TURNGYM_HOME"] = tempfile.mkdtemp(prefix="tw-bench-")

    import textworld

    from envs.tasks import ListTaskSet
    from envs.textworld.data import load_textworld_tasks
    from envs.textworld.env import TextWorldEnv
    from envs.textworld.games import GameSpec, ensure_game, game_dir
    from tools import call

    print(f"{'difficulty':<11} {'build s (first)':>15} {'build s (mean rest)':>19} {'env steps/s':>11} {'bare steps/s':>12} "
          f"{'ratio':>6} {'env p50 ms':>10} {'bare p50 ms':>11} {'env reset ms':>12}")
    for name in args.difficulties.split(","):
        full = load_textworld_tasks(name)
        tasks = ListTaskSet([full.get(i) for i in full.ids("test")[: args.games]])
        builds = []
        for task in tasks.iter("test"):
            t0 = time.perf_counter()
            ensure_game(GameSpec(**task.data["game"]))
            builds.append(time.perf_counter() - t0)
        env = TextWorldEnv(split="test", tasks=tasks, max_turns=10_000)
        infos = textworld.EnvInfos(admissible_commands=True, score=True, max_score=True, won=True, lost=True,
                                   facts=True, location=True, extras=["walkthrough"])
        wrapped, bare, resets = [], [], []
        for task in tasks.iter("test"):
            path = game_dir(GameSpec(**task.data["game"])) / "game.z8"
            walkthrough = env.reset(options={"task": task.id})[1]["walkthrough"]
            commands = commands_for(walkthrough, args.steps)
            # ABBA order: TextWorld memoizes rule matching per game, so whichever side plays a state first pays more
            for side in ("env", "bare", "bare", "env"):
                if side == "env":
                    resets.append(play_env(env, task.id, commands, wrapped, call))
                else:
                    play_bare(textworld, path, infos, commands, bare)
        env.close()
        rest = statistics.mean(builds[1:]) if len(builds) > 1 else float("nan")
        env_rate, bare_rate = len(wrapped) / sum(wrapped), len(bare) / sum(bare)
        print(f"{name:<11} {builds[0]:>15.2f} {rest:>19.2f} {env_rate:>11.0f} {bare_rate:>12.0f} {bare_rate / env_rate:>5.2f}x "
              f"{pct(wrapped, 0.5) * 1e3:>10.2f} {pct(bare, 0.5) * 1e3:>11.2f} {statistics.mean(resets) * 1e3:>12.0f}")


if __name__ == "__main__":
    main()
