"""The Code env's task set: the generated train/val families, the HumanEval test split, the
splitting of HumanEval's checks, the docstring examples and the value comparison."""

import json
from collections import Counter

import pytest

from envs.code import humaneval
from envs.code.data import _variant_cases, load_code_tasks, run_harness, val_families
from envs.code.families import CATEGORIES, all_families
from envs.code.harness import Unsupported, encode
from envs.code.values import decode, matches, same


@pytest.fixture(scope="module")
def tasks():
    return load_code_tasks()


@pytest.fixture(scope="module")
def problems():
    return humaneval.load_problems()


def test_sizes_and_splits(tasks):
    sizes = tasks.sizes()
    assert sizes["test"] == 164
    assert sizes["train"] + sizes["val"] >= 150
    assert 0.10 <= sizes["val"] / (sizes["train"] + sizes["val"]) <= 0.25
    fams = {s: {tasks.get(t).data["family"] for t in tasks.ids(s)} for s in ("train", "val")}
    assert not fams["train"] & fams["val"], "val holds whole families"
    assert len(fams["val"]) >= 5 and len({tasks.get(t).data["category"] for t in tasks.ids("val")}) >= 4


def test_families_cover_every_category_with_three_variants():
    families = all_families()
    assert len(families) >= 50
    per_cat = Counter(f.category for f in families)
    assert set(per_cat) == set(CATEGORIES) and min(per_cat.values()) >= 8
    for f in families:
        assert len(f.variants) >= 3, f.name
        names = [v["fn"] for v in f.variants]
        assert len(set(names)) == len(names), f.name
        assert len({f.render(v)["code"] for v in f.variants}) == len(f.variants), f"{f.name}: variants must differ"
    assert val_families(families) == val_families(list(reversed(families)))


def test_generated_tasks_have_examples_and_non_degenerate_hidden_tests(tasks):
    for split in ("train", "val"):
        for task_id in tasks.ids(split):
            data = tasks.get(task_id).data
            assert len(data["visible"]) == 3 and len(data["hidden"]) >= 8, task_id
            assert len({json.dumps(c["expected"], sort_keys=True) for c in data["hidden"]}) >= 2, task_id
            calls = [c["call"] for c in data["visible"] + data["hidden"]]
            assert len(set(calls)) == len(calls), task_id
            prompt = tasks.get(task_id).prompt
            assert all(c["call"] in prompt for c in data["visible"])
            assert not any(c["call"] in prompt for c in data["hidden"]), f"{task_id} shows a hidden test"


def test_generation_is_deterministic():
    for family in all_families()[::7]:
        assert _variant_cases(family, 1, family.variants[1]) == _variant_cases(family, 1, family.variants[1])


def test_no_generated_task_copies_humaneval(tasks, problems):
    he_entries = {p["entry_point"] for p in problems}
    he_prompts = {p["prompt"].strip() for p in problems}
    for split in ("train", "val"):
        for task_id in tasks.ids(split):
            task = tasks.get(task_id)
            assert task.data["entry_point"] not in he_entries, task_id
            assert task.prompt.strip() not in he_prompts and task.answer.strip() not in {p["prompt"] + p["canonical_solution"] for p in problems}


def test_every_reference_passes_its_hidden_tests_and_wrong_code_does_not(tasks):
    ids = list(tasks.ids("train")) + list(tasks.ids("val"))
    jobs = []
    for task_id in ids:
        task = tasks.get(task_id)
        cases = [{"kind": "call", "expr": c["call"]} for c in task.data["hidden"]]
        jobs.append({"code": task.answer, "entry_point": task.data["entry_point"], "cases": cases, "timeout": 10})
        stub = f"def {task.data['entry_point']}(*args):\n    return None\n"
        jobs.append({"code": stub, "entry_point": task.data["entry_point"], "cases": cases, "timeout": 10})
    results = run_harness(jobs)
    for n, task_id in enumerate(ids):
        hidden = tasks.get(task_id).data["hidden"]
        good = [matches(c["expected"], r) for c, r in zip(hidden, results[2 * n])]
        stub = [matches(c["expected"], r) for c, r in zip(hidden, results[2 * n + 1])]
        assert all(good), (task_id, results[2 * n])
        assert not all(stub), f"{task_id}: a function returning None passes every hidden test"


def test_humaneval_tests_are_split_per_assert(tasks, problems):
    total = 0
    for p in problems:
        data = tasks.get(p["task_id"]).data
        assert data["split_check"] and data["hidden_stmts"], p["task_id"]
        total += len(data["hidden_stmts"])
        assert p["entry_point"] == data["entry_point"]
    assert total > 1000  # HumanEval has ~7 asserts per problem
    assert sum(bool(tasks.get(p["task_id"]).data["visible"]) for p in problems) >= 120


def test_split_check_keeps_setup_and_skips_constant_asserts():
    src = (
        "import math\nMETA = 1\n\ndef check(candidate):\n    x = 3\n    assert candidate(x) == 6\n"
        "    assert True, 'noise'\n    for i in range(3):\n        assert candidate(i) == 2 * i\n    y = x + 1\n"
        "    assert candidate(y) == 8\n"
    )
    prelude, tests, whole = humaneval.split_check(src)
    assert "import math" in prelude and "META = 1" in prelude and "def check" not in prelude
    assert len(tests) == 3
    assert "x = 3" in tests[0] and "candidate(x) == 6" in tests[0]
    assert "for i in range(3)" in tests[1] and "candidate(x) == 6" not in tests[1] and "assert True" in tests[1]
    assert "y = x + 1" in tests[2] and "x = 3" in tests[2]
    assert whole.count("assert ") == 4
    ns = {}
    exec(tests[2], ns)
    ns["__tg_test"](lambda v: 2 * v)
    with pytest.raises(AssertionError):
        ns["__tg_test"](lambda v: v)


def test_docstring_examples_are_parsed():
    prompt = (
        "def f(xs, k):\n    \"\"\"Doc.\n    >>> f([1, 2], 3)\n    [4, 5]\n    f('a', 1) ==> 'b'\n"
        "    f(2, 2) should return 4.\n    g(1) ==> 2\n    f(x) ==> 1\n    \"\"\"\n"
    )
    assert humaneval.docstring_examples(prompt, "f") == [("f([1, 2], 3)", [4, 5]), ("f('a', 1)", "b"), ("f(2, 2)", 4)]


def test_value_comparison_rules():
    assert same(1, 1.0) and same(0.1 + 0.2, 0.3) and same([1, (2, "a")], [1, (2, "a")])
    assert not same(True, 1) and not same(1, True) and not same([1], (1,)) and not same({1: 2}, {1: 3})
    assert not same(1.0, 1.1) and not same("1", 1)
    for value in [None, True, 3, -2.5, float("inf"), "x", [1, [2]], (1,), {"a": (1, 2)}, {3, 1}, frozenset({2})]:
        assert same(value, decode(json.loads(json.dumps(encode(value))))), value


def test_encode_refuses_lookalike_types():
    class Always:
        def __eq__(self, other):
            return True

    class MyInt(int):
        pass

    for bad in [Always(), MyInt(3), [1, Always()], {1: MyInt(2)}, object(), range(3)]:
        with pytest.raises(Unsupported):
            encode(bad)
    deep = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(Unsupported):
        encode(deep)
