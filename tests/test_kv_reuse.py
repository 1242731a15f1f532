"""Cross-turn KV reuse in HFPolicy (agents/kv_reuse.py): a turn prefills only what the last turn did
not compute, and samples what a full prefill samples."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.kv_reuse import PrefixKV  # noqa: E402
from agents.policy import SamplingParams  # noqa: E402


@pytest.fixture(scope="module")
def pair(tiny_model):
    """Two policies on one model: with reuse, and without (every turn prefills the whole conversation)."""
    from agents.hf_policy import HFPolicy

    plain = HFPolicy(tiny_model, device="cpu", prefix_cache_mb=0)
    return HFPolicy(tiny_model, device="cpu", model_obj=plain.model), plain


def conversations(n: int, base: int = 20) -> list[list[int]]:
    return [[5 + (i * 7 + j) % 50 for j in range(base + 13 * i)] for i in range(n)]


def turns(pair, sampling: SamplingParams, rounds: int = 4):
    """Multi-turn: each conversation grows by its sample and an env reply; conversation 0 ends after
    round 1 and a new one joins at round 2 (a batch of continued and fresh rows)."""
    reuse, plain = pair
    convs = conversations(4)
    for r in range(rounds):
        got, want = reuse.generate_ids(convs, sampling), plain.generate_ids(convs, sampling)
        yield r, convs, got, want
        convs = [c + g.token_ids + [9, 11, 13][: 1 + i % 3] for i, (c, g) in enumerate(zip(convs, got))]
        if r == 1:
            convs = convs[1:] + conversations(1, base=41)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_reused_turns_sample_what_a_full_prefill_samples(pair, temperature):
    reuse, _ = pair
    sampling = SamplingParams(temperature=temperature, max_tokens=10, seed=3)
    hits0, reused0 = reuse.kv.hits, reuse.kv.reused_tokens
    for r, _convs, got, want in turns(pair, sampling):
        assert [g.token_ids for g in got] == [w.token_ids for w in want], r
        for g, w in zip(got, want):
            assert g.logprobs == pytest.approx(w.logprobs, abs=1e-4)
    # rounds 1..3 reuse every continued row: 4 + 3 + 4 (the row that joins at round 2 prefills in full there)
    assert reuse.kv.hits - hits0 == 11
    assert reuse.kv.reused_tokens > reused0


def test_changed_weights_are_never_reused(pair):
    reuse, plain = pair
    sampling = SamplingParams(temperature=0.0, max_tokens=8)
    convs = conversations(3)
    first = reuse.generate_ids(convs, sampling)
    assert len(reuse.kv) >= 3
    hits = reuse.kv.hits
    with torch.no_grad():  # an update in place, policy_version unchanged
        next(reuse.model.parameters()).mul_(1.5)
    later = [c + f.token_ids + [9] for c, f in zip(convs, first)]
    got, want = reuse.generate_ids(later, sampling), plain.generate_ids(later, sampling)
    assert reuse.kv.hits == hits  # nothing computed with the old weights was used
    for g, w in zip(got, want):
        assert g.token_ids == w.token_ids and g.logprobs == pytest.approx(w.logprobs, abs=1e-5)


def kv(n: int, nbytes_per_token: int = 8):
    t = torch.zeros((1, n, nbytes_per_token // 4))  # float32: 4 bytes each
    return [t], [t.clone()]


def test_prefix_store_takes_the_longest_kept_prefix_once_and_stays_in_budget():
    store = PrefixKV(max_bytes=400)
    store.at_version(1)
    store.keep([1, 2, 3], *kv(3))  # 48 bytes
    store.keep([1, 2, 3, 4, 5], *kv(5))  # 80 bytes
    assert store.take([1, 2, 3]) is None  # a prompt must extend a kept sequence by at least one token
    assert store.take([1, 2, 3, 4, 5, 6]).ids == (1, 2, 3, 4, 5)  # the longest
    assert store.take([1, 2, 3, 4, 5, 6]).ids == (1, 2, 3)  # taken entries are gone
    assert store.take([1, 2, 3, 4, 5, 6]) is None and len(store) == 0 and store.bytes == 0
    assert (store.hits, store.misses, store.reused_tokens) == (2, 2, 8)
    for i in range(6):  # 6 x 80 bytes > 400: the oldest go first
        store.keep([i, 0, 0, 0, 0], *kv(5))
    assert len(store) == 5 and store.bytes == 400 and store.take([0, 0, 0, 0, 0, 1]) is None
    assert store.take([5, 0, 0, 0, 0, 1]) is not None
    store.keep(list(range(30)), *kv(30))  # 480 bytes: never kept
    assert store.take(list(range(31))) is None
    store.at_version(1)
    assert len(store) == 4
    store.at_version(2)  # other weights: everything goes
    assert len(store) == 0 and store.bytes == 0
