"""Env step speed under the oracle policy: steps/s and p50/p99 latency per env and per tool.

Baseline in the same run: for SQL, the same gold queries executed straight on sqlite3, so the
printed ratio is the env's overhead (parsing, validation, read-only guard, formatting) per query.
For Search, the same queries sent straight to the BM25 index; plus the time to build the default
worlds and to load a world's index, for the default world and for a 10,000-document world.

    python bench/env_step.py [--episodes 200]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import turngym  # noqa: F401  (registers envs)
from agents.scripted import oracle_action
from envs import make, registered


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def bench_env(env_id: str, episodes: int) -> dict:
    env = make(env_id, split="test")
    ids = list(env.tasks.ids("test"))
    ids = (ids * (episodes // max(1, len(ids)) + 1))[:episodes]
    lat: list[float] = []
    by_tool: dict[str, list[float]] = defaultdict(list)
    solved = 0
    start = time.perf_counter()
    for i, task_id in enumerate(ids):
        _, info = env.reset(seed=i, options={"task": task_id})
        reset_info, done, turn = info, False, 0
        while not done:
            action = oracle_action(turn, reset_info)
            t0 = time.perf_counter()
            _, reward, term, trunc, info = env.step(action)
            dt = time.perf_counter() - t0
            lat.append(dt)
            by_tool[json.loads(action.split("<tool_call>")[1].split("</tool_call>")[0])["name"]].append(dt)
            done, turn = term or trunc, turn + 1
        solved += reward == 1.0
    wall = time.perf_counter() - start
    env.close()
    return {"env": env_id, "episodes": len(ids), "steps": len(lat), "solved": solved, "wall": wall,
            "steps_per_s": len(lat) / wall, "p50_ms": pct(lat, 0.5) * 1e3, "p99_ms": pct(lat, 0.99) * 1e3,
            "tools": {k: pct(v, 0.5) * 1e3 for k, v in by_tool.items()}, "ids": ids}


def sql_baseline(ids: list[str]) -> float:
    """p50 ms of the gold queries on a plain sqlite3 connection (no env)."""
    env = make("SQL-v0", split="test")
    conns: dict[str, sqlite3.Connection] = {}
    lat = []
    for task_id in ids:
        task = env.tasks.get(task_id)
        db = task.data["db_id"]
        conn = conns.setdefault(db, sqlite3.connect(env.tasks.db_path(db)))
        t0 = time.perf_counter()
        conn.execute(task.data["gold_sql"]).fetchall()
        lat.append(time.perf_counter() - t0)
    return statistics.median(lat) * 1e3


def search_baseline(ids: list[str]) -> float:
    """p50 ms of the oracle's queries on the shared BM25 index directly (no env)."""
    env = make("Search-v0", split="test")
    lat = []
    for task_id in ids:
        task = env.tasks.get(task_id)
        index = env.tasks.world(task.data["world"])
        for title in task.data["support_titles"]:
            t0 = time.perf_counter()
            index.search(title, 5)
            lat.append(time.perf_counter() - t0)
    return statistics.median(lat) * 1e3


def search_index_times(big_people: int = 2800) -> None:
    """Build and load times of search worlds (fresh folders, fresh loads)."""
    from envs.search.data import TRAINVAL_WORLD, build_search_data, build_world_dir
    from envs.search.index import WorldIndex

    with tempfile.TemporaryDirectory() as tmp:
        build_s = build_search_data(Path(tmp) / "search")
        t0 = time.perf_counter()
        index = WorldIndex(Path(tmp) / "search" / TRAINVAL_WORLD.name)
        load_s = time.perf_counter() - t0
        print(f"    index: default data (2 worlds, {len(index)} docs in the train world) built in {build_s:.2f} s; "
              f"one world loaded in {load_s:.2f} s")
        t0 = time.perf_counter()
        build_world_dir(Path(tmp) / "big", 31, big_people)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        big = WorldIndex(Path(tmp) / "big")
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for doc in big.docs[:200]:
            big.search(doc.title, 5)
        query_ms = (time.perf_counter() - t0) / 200 * 1e3
        print(f"    index: {len(big)}-doc world built in {build_s:.2f} s, loaded in {load_s:.2f} s, "
              f"search {query_ms:.2f} ms/query")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    for env_id in sorted(registered()):
        r = bench_env(env_id, args.episodes)
        print(f"{env_id}: {r['episodes']} episodes, {r['steps']} steps, solved {r['solved']}/{r['episodes']}, "
              f"{r['steps_per_s']:.0f} steps/s, step p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms")
        for tool, ms in sorted(r["tools"].items()):
            print(f"    {tool:>16}: p50 {ms:.2f} ms")
        if env_id == "turngym/SQL-v0":
            base = sql_baseline(r["ids"])
            env_ms = r["tools"]["execute_sql"]
            print(f"    baseline: raw sqlite3 gold query p50 {base:.2f} ms; env execute_sql / raw = {env_ms / base:.1f}x")
        if env_id == "turngym/Search-v0":
            base = search_baseline(r["ids"])
            env_ms = r["tools"]["search"]
            print(f"    baseline: raw BM25 index query p50 {base:.2f} ms; env search / raw = {env_ms / base:.1f}x")
            search_index_times()


if __name__ == "__main__":
    main()
