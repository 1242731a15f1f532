"""The Code task set, built once into ``<cache>/code-v2/{train,val,test}.jsonl``.

* ``train``/``val``: the project's own problem families (:mod:`envs.code.families`), three or more
  variants each; ``val`` holds whole families (about 15 %, spread over the categories), so it is
  not a near-copy of ``train``.
* ``test``: the 164 HumanEval problems (:mod:`envs.code.humaneval`), held out by construction.

The build runs every reference solution through the same harness the sandbox runs
(:mod:`envs.code.harness`), in a host subprocess, since all of it is the project's or HumanEval's
own code: expected values of the generated tests are the reference's outputs; the build refuses
a family whose reference disagrees with a hand-computed check, errors on any input, or gives every
test the same answer. HumanEval: the inputs each split test gives ``candidate`` are recorded with
the canonical solution (:mod:`envs.code.replay`), the canonical solution is run on them in the
harness, and every test must pass when replayed on the host with those values (else the problem
keeps ``check`` whole); the canonical solution also decides which docstring examples are kept.
Deterministic.
"""

from __future__ import annotations

import json
import random
import secrets
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

from envs.code import harness, humaneval, replay
from envs.code.families import CATEGORIES, Family, all_families
from envs.code.values import encode, matches
from envs.tasks import JsonlTaskSet, Task, build_atomically, cache_root, load_built

DATA_VERSION = "code-v2"
VAL_FRACTION = 0.15
N_VISIBLE = 3
MIN_HIDDEN = 8
N_CASES = 12  # test inputs drawn per variant: N_VISIBLE shown, the rest hidden


def load_code_tasks(root: Path | None = None) -> JsonlTaskSet:
    """The built-in Code task set, building it first if the cache lacks it (shared per folder)."""
    return load_built(Path(root) if root else cache_root() / DATA_VERSION, JsonlTaskSet, build_code_data)


def call_expr(fn: str, args: tuple) -> str:
    return f"{fn}({', '.join(repr(a) for a in args)})"


def run_harness(jobs: list[dict[str, Any]], timeout: float = 600.0) -> list[list[dict[str, Any]]]:
    """Run trusted jobs through the harness in a host subprocess; results per job, per case."""
    with tempfile.TemporaryDirectory(prefix="turngym-code-build-") as tmp:
        path = Path(tmp) / harness.JOB_FILE
        path.write_text(json.dumps({"jobs": jobs}))
        nonce = secrets.token_hex(8)
        done = subprocess.run([sys.executable, "-I", harness.__file__, str(path)], input=nonce, capture_output=True,
                              text=True, cwd=tmp, timeout=timeout)
    results: list[list[dict[str, Any]]] = [[] for _ in jobs]
    finished = False
    for line in done.stdout.splitlines():
        head, _, body = line.partition(" ")
        if head == nonce:
            record = json.loads(body)
            if "done" in record:
                finished = True
            else:
                results[record["job"]].append(record)
    if not finished:
        raise RuntimeError(f"the code harness did not finish (exit {done.returncode}): {done.stderr[-2000:]}")
    return results


# ----- generated train/val tasks -----------------------------------------------------------------
def val_families(families: list[Family]) -> set[str]:
    """About VAL_FRACTION of the families, taken round-robin over the categories in a fixed order."""
    n_val = max(1, round(len(families) * VAL_FRACTION))
    queues = {c: sorted((f.name for f in families if f.category == c), key=lambda n: zlib.crc32(n.encode())) for c in CATEGORIES}
    chosen: list[str] = []
    while len(chosen) < n_val and any(queues.values()):
        for c in CATEGORIES:
            if queues[c] and len(chosen) < n_val:
                chosen.append(queues[c].pop(0))
    return set(chosen)


def _variant_cases(family: Family, index: int, variant: dict) -> tuple[dict[str, str], list[str], list[tuple[str, Any]]]:
    rendered = family.render(variant)
    rng = random.Random(zlib.crc32(f"{family.name}/{index}".encode()))
    calls: list[str] = []
    for _ in range(20):  # draw again until there are enough distinct inputs
        for args in family.gen(rng, variant):
            expr = call_expr(variant["fn"], args)
            if expr not in calls and len(calls) < N_CASES:
                calls.append(expr)
        if len(calls) >= N_CASES:
            break
    checks = [(call_expr(variant["fn"], args), expected) for args, expected in family.checks] if index == 0 else []
    return rendered, calls, checks


def generated_tasks() -> list[Task]:
    families = all_families()
    val = val_families(families)
    specs, jobs = [], []
    for family in families:
        for index, variant in enumerate(family.variants):
            rendered, calls, checks = _variant_cases(family, index, variant)
            specs.append((family, index, variant, rendered, calls, checks))
            cases = [{"kind": "call", "expr": e} for e in calls + [c for c, _ in checks]]
            jobs.append({"code": rendered["code"], "entry_point": variant["fn"], "cases": cases, "timeout": 10.0, "budget": 120.0})
    tasks, problems = [], []
    for job, (family, index, variant, rendered, calls, checks), results in zip(jobs, specs, run_harness(jobs)):
        where = f"family {family.name!r} variant {index}"
        bad = [(c["expr"], r) for c, r in zip(job["cases"], results) if r.get("status") != "ok" or "value" not in r]
        if bad:
            problems.append(f"{where}: the reference failed on {bad[:3]}")
            continue
        for (expr, expected), result in zip(checks, results[len(calls):]):
            if not matches(encode(expected), result):
                problems.append(f"{where}: reference gives {result.get('value')!r} for {expr}, the hand-computed answer is {expected!r}")
        cases = [{"call": expr, "expected": r["value"]} for expr, r in zip(calls, results)]
        visible, hidden = cases[:N_VISIBLE], cases[N_VISIBLE:]
        if len(hidden) < MIN_HIDDEN:
            problems.append(f"{where}: only {len(cases)} distinct test inputs")
        if len({json.dumps(c["expected"], sort_keys=True) for c in hidden}) < 2:
            problems.append(f"{where}: every hidden test has the same answer, so a constant function would pass")
        tasks.append(Task(
            id=f"{family.name}/{index}",
            split="val" if family.name in val else "train",
            prompt=generated_prompt(variant["fn"], rendered, visible),
            answer=rendered["code"],
            data={"entry_point": variant["fn"], "signature": rendered["sig"], "visible": visible, "hidden": hidden,
                  "family": family.name, "category": family.category},
            meta={"source": "turngym"},
        ))
    if problems:
        raise ValueError("the generated code tasks failed verification:\n" + "\n".join(problems))
    return tasks


def generated_prompt(fn: str, rendered: dict[str, str], visible: list[dict[str, Any]]) -> str:
    from envs.code.values import show

    examples = "\n".join(f">>> {c['call']}\n{show(c['expected'], 500)}" for c in visible)
    return (f"Write the Python function `{fn}`.\n\n    def {rendered['sig']}\n\n{' '.join(rendered['doc'].split())}\n\n"
            f"Examples:\n{examples}\n\nSubmit complete code: the function with any imports and helpers it needs.")


# ----- HumanEval test tasks ----------------------------------------------------------------------
def check_data(prompt: str, test_src: str, entry_point: str, recorded: dict[str, Any], split_ok: bool = True) -> dict[str, Any]:
    """The hidden-test part of a HumanEval-style task's data: the test statements, their prelude and
    the trusted prompt helpers stay on the host; only ``hidden_calls`` (inputs) go to the sandbox."""
    prelude, tests, whole = humaneval.split_check(test_src)
    stmts = tests if split_ok else [whole]
    calls = recorded["calls"][:len(tests)] if split_ok else recorded["calls"][-1:]
    return {"entry_point": entry_point, "setup": [prompt], "helpers": prompt, "hidden_stmts": stmts,
            "hidden_calls": calls, "test_prelude": prelude, "split_check": split_ok}


def record_check(prompt: str, answer: str, test_src: str, entry_point: str) -> dict[str, Any]:
    """Record the inputs of every split test (then of the whole ``check``) with the trusted ``answer``."""
    prelude, tests, whole = humaneval.split_check(test_src)
    (recorded,) = replay.record([{"code": answer, "entry_point": entry_point, "prelude": prelude, "stmts": tests + [whole]}])
    return recorded


def humaneval_tasks() -> list[Task]:
    problems = humaneval.load_problems()
    layout = []
    for p in problems:
        prelude, tests, whole = humaneval.split_check(p["test"])
        examples = []
        for expr, value in humaneval.docstring_examples(p["prompt"], p["entry_point"]):
            try:
                examples.append((expr, encode(value)))
            except TypeError:
                continue
        layout.append((p, prelude, tests + [whole], examples))
    recorded = replay.record([{"code": p["prompt"] + p["canonical_solution"], "entry_point": p["entry_point"],
                               "prelude": prelude, "stmts": stmts} for p, prelude, stmts, _ in layout])
    jobs = []
    for (p, _prelude, _stmts, examples), rec in zip(layout, recorded):
        cases = [{"kind": "calls", "calls": c} for c in rec["calls"]] + [{"kind": "call", "expr": e} for e, _ in examples]
        jobs.append({"setup": [p["prompt"]], "code": p["prompt"] + p["canonical_solution"], "entry_point": p["entry_point"],
                     "cases": cases, "timeout": 20.0, "budget": 300.0})
    results = run_harness(jobs)
    verdicts = replay.judge_many([{"helpers": p["prompt"], "entry_point": p["entry_point"], "prelude": prelude, "stmts": stmts,
                                   "tables": replay.tables(rec["calls"], res[:len(stmts)])}
                                  for (p, prelude, stmts, _), rec, res in zip(layout, recorded, results)])
    tasks = []
    for (p, _prelude, stmts, examples), rec, res, ok in zip(layout, recorded, results, verdicts):
        good = [v and e is None for v, e in zip(ok, rec["errors"])]
        if not good[-1]:
            raise ValueError(f"{p['task_id']}: the canonical solution fails check() when replayed: {rec['errors'][-1]}")
        split_ok = len(stmts) > 1 and all(good[:-1])
        call_results = res[len(stmts):]
        visible = [{"call": e, "expected": enc} for (e, enc), r in zip(examples, call_results) if matches(enc, r)][:5]
        data = check_data(p["prompt"], p["test"], p["entry_point"], rec, split_ok)
        tasks.append(Task(
            id=p["task_id"],
            split="test",
            prompt=humaneval.problem_prompt(p),
            answer=p["prompt"] + p["canonical_solution"],
            data={**data, "visible": visible},
            meta={"source": "humaneval"},
        ))
    return tasks


def build_code_data(root: Path) -> float:
    """Build every task file into ``root`` atomically; returns seconds taken."""
    return build_atomically(root, lambda folder: JsonlTaskSet.write(folder, generated_tasks() + humaneval_tasks()))
