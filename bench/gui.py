"""GUI family figures: live and trace step speed, screenshot sizes, oracle and random success.

* GUI-v0 (live Chromium): steps/s and p50/p90 step latency under the oracle on the test split;
  baseline in the same run: the bare Playwright work one step needs (a click, the element scan and
  a PNG screenshot on the same page), so the ratio is the env's overhead on top of the browser;
* GUITrace-v0 (offline): steps/s under the oracle, with screenshots and as text only
  (``observation="a11y"``), and the ratio to live steps/s; the near-miss teacher's step accuracy;
* screenshot sizes (live PNGs, and the stored trace images);
* success on test: oracle and a seeded random clicker for GUI-v0, GUITrace-v0 (step and trace
  mode) and, with ``--miniwob``, the oracle per MiniWoB-v0 task (train tasks and held-out ones).

    python bench/gui.py [--episodes 30] [--miniwob]

Timings share the machine's CPUs with whatever else runs: read them as rough figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from envs.gui import page as P
from envs.gui.apps import render_app
from envs.gui.live_env import GUIEnv
from envs.gui.oracle import live_plan, miniwob_plan, trace_plan
from envs.gui.trace_env import GUITraceEnv
from envs.gui.traces import load_trace_tasks, traces_root
from tools import call


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def play(env, plan, task_id, lat=None):
    _, info = env.reset(options={"task": task_id})
    turn = 0
    while True:
        t = time.perf_counter()
        _, reward, terminated, truncated, step_info = env.step(plan(turn, info))
        if lat is not None:
            lat.append(time.perf_counter() - t)
        turn += 1
        if terminated or truncated:
            return reward, step_info


def random_plan(seed: int):
    rng = random.Random(seed)

    def plan(turn, info):
        kind = rng.choice(["click", "click", "type", "scroll", "press", "complete"])
        if kind == "click":
            return call("click", x=rng.randrange(800), y=rng.randrange(600))
        if kind == "type":
            return call("type", text=rng.choice(["hello", "Work", "notes"]))
        if kind == "scroll":
            return call("scroll", direction=rng.choice(["up", "down"]))
        if kind == "press":
            return call("press", key="Enter")
        return call("complete")

    return plan


def bench_live(episodes: int) -> float:
    env = GUIEnv(split="test")
    ids = list(env.tasks.ids("test"))[:episodes]
    lat: list[float] = []
    start = time.perf_counter()
    oracle = [play(env, live_plan, t, lat)[0] for t in ids]
    wall = time.perf_counter() - start
    print(f"GUI-v0 oracle on test: success {sum(oracle)}/{len(ids)} = {sum(oracle) / len(ids):.3f}; "
          f"{len(lat)} steps in {wall:.1f} s (with resets): {len(lat) / wall:.1f} steps/s; "
          f"step p50 {1000 * pct(lat, 0.5):.0f} ms, p90 {1000 * pct(lat, 0.9):.0f} ms")
    env.max_turns = 15
    rand = [play(env, random_plan(i), t)[0] for i, t in enumerate(ids)]
    print(f"GUI-v0 random clicker on test: success {sum(rand)}/{len(ids)} = {sum(rand) / len(ids):.3f}")

    # baseline: the bare browser work of one step (click + element scan + PNG) on the same page
    browser, page = env._browser(), None
    page = browser.page(env._session)
    html = render_app("mail", 0, "paper")[0].html()
    browser.call(P.load, page, html)
    sizes, bare = [], []
    for i in range(20):
        t = time.perf_counter()
        browser.call(P.click_point, page, 5.0, 5.0 + i)
        obs = browser.call(P.observe, page)
        bare.append(time.perf_counter() - t)
        sizes.append(len(obs["png"]))
    print(f"baseline, bare Playwright click + element scan + PNG: p50 {1000 * pct(bare, 0.5):.0f} ms; "
          f"env step p50 / bare p50 = {pct(lat, 0.5) / pct(bare, 0.5):.2f}x")
    print(f"live screenshot (800x600 PNG): median {statistics.median(sizes) / 1024:.1f} KiB")
    env.close()
    return len(lat) / wall


def bench_traces(live_steps_per_s: float | None) -> None:
    for mode, observation in (("step", "screenshot"), ("step", "a11y"), ("trace", "screenshot"), ("trace", "a11y")):
        tasks = load_trace_tasks(mode=mode)
        env = GUITraceEnv(split="test", tasks=tasks, mode=mode, observation=observation)
        ids = list(tasks.ids("test"))
        lat: list[float] = []
        start = time.perf_counter()
        oracle = [play(env, trace_plan, t, lat)[0] for t in ids]
        wall = time.perf_counter() - start
        rand_runs = [play(env, random_plan(i), t) for i, t in enumerate(ids)]
        rand = [r for r, _ in rand_runs]
        rand_acc = [info.get("trace_parts", info["reward_parts"])["accuracy"] for _, info in rand_runs]
        ratio = f"; {len(lat) / wall / live_steps_per_s:.0f}x live steps/s" if live_steps_per_s and mode == "step" else ""
        work = "PNG read + base64" if observation == "screenshot" else "text only"
        print(f"GUITrace-v0 {mode} mode, {observation}, test ({len(ids)} tasks): oracle mean reward {sum(oracle) / len(ids):.3f}, "
              f"random mean reward {sum(rand) / len(ids):.3f} (accuracy {sum(rand_acc) / len(ids):.3f}); "
              f"{len(lat) / wall:.0f} steps/s incl. resets ({work}){ratio}")
    bench_teacher()
    images = list((traces_root() / "images").iterdir())
    sizes = [p.stat().st_size for p in images]
    print(f"trace images: {len(images)} distinct PNGs, median {statistics.median(sizes) / 1024:.1f} KiB, total {sum(sizes) / 2**20:.1f} MiB")


def bench_teacher() -> None:
    """The near-miss teacher (GUITrace-v0's weak SFT teacher) in step mode, as text: its accuracy per split."""
    from envs.gui.teacher import NearMiss

    tasks, teacher = load_trace_tasks(mode="step"), NearMiss()
    for split in ("train", "test"):
        env = GUITraceEnv(split=split, tasks=tasks, observation="a11y")
        acc = []
        for t in tasks.ids(split):
            obs, _ = env.reset(options={"task": t})
            acc.append(env.step(teacher.act(obs, []))[4]["reward_parts"]["accuracy"])
        print(f"near-miss teacher (miss_rate {teacher.miss_rate}), {split}: step accuracy {sum(acc) / len(acc):.3f} ({sum(acc):.0f}/{len(acc)})")


def bench_miniwob(seeds: int) -> None:
    from envs.gui.miniwob_env import TEST_TASKS, TRAIN_TASKS, MiniWoBEnv
    from envs.tasks import ListTaskSet, Task

    for names, split in ((TRAIN_TASKS, "train"), (TEST_TASKS, "test")):
        for name in names:
            tasks = ListTaskSet([Task(id=f"mw-{name}-{s}", split="test", prompt="", data={"name": name, "seed": 3000 + s}) for s in range(seeds)])
            env = MiniWoBEnv(split="test", tasks=tasks, max_open=1)
            lat: list[float] = []
            wins = sum(play(env, miniwob_plan, t, lat)[0] for t in tasks.ids("test"))
            env.close()
            print(f"MiniWoB-v0 {split:5s} {name:22s} oracle {wins:.0f}/{seeds}; step p50 {1000 * pct(lat, 0.5):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=30, help="GUI-v0 test episodes")
    parser.add_argument("--miniwob", action="store_true", help="also run the MiniWoB oracle on every task")
    parser.add_argument("--miniwob-seeds", type=int, default=5)
    args = parser.parse_args()
    live = bench_live(args.episodes)
    bench_traces(live)
    if args.miniwob:
        bench_miniwob(args.miniwob_seeds)


if __name__ == "__main__":
    main()
