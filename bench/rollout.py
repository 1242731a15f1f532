"""Rollout overlap: generation time, tool/env time and wall time for N episodes in flight.

    python bench/rollout.py --serve tiny                  # starts a vLLM server (CPU here) for the run
    python bench/rollout.py --serve smollm2 --episodes 32
    python bench/rollout.py --policy vllm:smollm2@http://127.0.0.1:8000
    python bench/rollout.py --policy hf:tiny

Times are busy times on one clock: *generation* is how long at least one policy request was in
flight, *env* how long at least one env ``reset``/``step`` was running (tools included), *wall*
the whole rollout.  Run one after the other they would add up; the async engine overlaps them,
and the target is wall <= 1.2 x max(generation, env).  Sums of per-call times are printed too.
Prints figures only (no timed asserts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time

import gymnasium as gym

import turngym  # noqa: F401  (registers envs)
from agents import Episode, RolloutConfig, SamplingParams, make_policy, rollout
from agents.policy import TokenPolicy
from envs import make


class Timeline:
    """Intervals of some activity (thread-safe); ``busy`` is the length of their union."""

    def __init__(self):
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def add(self, start: float, end: float) -> None:
        with self._lock:
            self.spans.append((start, end))

    @property
    def total(self) -> float:
        return sum(e - s for s, e in self.spans)

    @property
    def busy(self) -> float:
        out, cur_s, cur_e = 0.0, None, None
        for s, e in sorted(self.spans):
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    out += cur_e - cur_s
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        return out + ((cur_e - cur_s) if cur_e is not None else 0.0)


class TimedEnv(gym.Wrapper):
    """Records each reset/step interval; ``latency`` adds that many seconds to each step (a stand-in
    for slow tools such as sandboxed code, to see the overlap when env time is not negligible)."""

    def __init__(self, env: gym.Env, timeline: Timeline, latency: float = 0.0):
        super().__init__(env)
        self.timeline = timeline
        self.latency = latency

    def reset(self, **kw):
        t = time.perf_counter()
        try:
            return self.env.reset(**kw)
        finally:
            self.timeline.add(t, time.perf_counter())

    def step(self, action):
        t = time.perf_counter()
        try:
            if self.latency:
                time.sleep(self.latency)
            return self.env.step(action)
        finally:
            self.timeline.add(t, time.perf_counter())


class TimedPolicy:
    """Wraps a policy; records each generation call's interval."""

    def __init__(self, inner, timeline: Timeline):
        self.inner, self.timeline, self.name = inner, timeline, inner.name
        if isinstance(inner, TokenPolicy):  # stay a TokenPolicy, so the rollout keeps the token path
            self.start_conversation = inner.start_conversation
            self.generate_tokens = self._timed(inner.generate_tokens)
            self.score_answers = inner.score_answers
        self.generate = self._timed(inner.generate)

    @property
    def policy_version(self) -> int:
        return getattr(self.inner, "policy_version", 0)

    def _timed(self, fn):
        async def call(*args, **kw):
            t = time.perf_counter()
            try:
                return await fn(*args, **kw)
            finally:
                self.timeline.add(t, time.perf_counter())

        return call


def run(policy, args) -> dict:
    gen, env_t = Timeline(), Timeline()
    probe = make(args.env, split=args.split)
    tasks = probe.tasks
    ids = list(tasks.ids(args.split))
    probe.close()
    episodes = [Episode(task_id=ids[i % len(ids)], seed=i) for i in range(args.episodes)]
    config = RolloutConfig(
        concurrency=args.concurrency, sampling=SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens)
    )
    timed = TimedPolicy(policy, gen)
    make_env = lambda: TimedEnv(  # noqa: E731
        make(args.env, tasks=tasks, split=args.split, max_turns=args.max_turns), env_t, args.tool_latency
    )
    t = time.perf_counter()
    trajs = asyncio.run(rollout(make_env, timed, episodes, config, env_id=args.env))
    wall = time.perf_counter() - t
    bound = max(gen.busy, env_t.busy)
    sampled = sum(len(turn.token_ids or []) for tr in trajs for turn in tr.turns)
    return {
        "policy": policy.name, "env": args.env, "tool_latency_s": args.tool_latency, "episodes": len(trajs), "concurrency": args.concurrency,
        "turns": sum(len(tr.turns) for tr in trajs), "failed": sum(tr.failed for tr in trajs),
        "finish": {r: sum(tr.finish_reason == r for tr in trajs) for r in ("stop", "max_turns", "length", "error")},
        "sampled_tokens": sampled, "tokens_per_s": round(sampled / wall, 1) if wall else 0.0,
        "generation_s": round(gen.busy, 2), "env_s": round(env_t.busy, 2), "wall_s": round(wall, 2),
        "generation_calls_sum_s": round(gen.total, 2), "env_calls_sum_s": round(env_t.total, 2),
        "serial_s": round(gen.busy + env_t.busy, 2), "wall_over_max": round(wall / bound, 3) if bound else None,
        "target_wall_over_max": 1.2,
        "first_error": next((tr.error for tr in trajs if tr.failed), None),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", help="a make_policy spec: vllm:MODEL@URL, hf:MODEL, openai:..., random")
    ap.add_argument("--serve", help="start a vLLM server for this model (folder, tiny or smollm2) for the run")
    ap.add_argument("--env", default="SQL-v0")
    ap.add_argument("--split", default="train")
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-turns", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--tool-latency", type=float, default=0.0, help="extra seconds per env step (simulated slow tool)")
    args = ap.parse_args()
    if bool(args.policy) == bool(args.serve):
        ap.error("give exactly one of --policy or --serve")
    if args.serve:
        from agents.vllm_policy import VLLMPolicy
        from agents.vllm_server import VLLMServer

        with VLLMServer(args.serve, max_model_len=args.max_model_len) as server:
            print(f"vLLM up in {server.startup_seconds:.0f} s ({server.device}) at {server.url}", flush=True)
            result = run(VLLMPolicy(server.model_dir, server.url), args)
            result["server_startup_s"] = round(server.startup_seconds, 1)
    else:
        result = run(make_policy(args.policy), args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
