"""Packed answer probes (trainers.signals.packed_probe_scores) on real rollouts of the tiny model.

Each trajectory runs once with every turn's answer chunk appended under a 4-D attention mask; the
scores must equal scoring each ``prefix + answer`` from scratch (``HFPolicy.score_answers``), for
trajectories of different lengths and turn counts (one turn included) packed into one pass.
"""

from __future__ import annotations

import asyncio

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.hf_policy import HFPolicy  # noqa: E402
from agents.policy import SamplingParams  # noqa: E402
from agents.rollout import Episode, RolloutConfig, rollout  # noqa: E402
from envs import make  # noqa: E402
from tests.credit_trajs import counting_score_answers  # noqa: E402
from trainers.signals import _probe_row, answer_probes, compute_signals_many  # noqa: E402

ENV = "turngym/Lookup-v0"


@pytest.fixture(scope="module")
def policy(tiny_model, one_torch_thread):
    return HFPolicy(tiny_model, device="cpu", max_batch=16)


@pytest.fixture(scope="module")
def groups(policy):
    """Real Lookup-v0 episodes of the tiny model, capped at 1, 2 and 3 turns: one group per cap."""
    tasks = make(ENV).tasks.ids("train")
    config = RolloutConfig(retry_backoff=0, sampling=SamplingParams(temperature=1.0, max_tokens=24))
    out = []
    for turns, task in zip((1, 2, 3), tasks):
        episodes = [Episode(task_id=task, seed=turns * 10 + s, sample=s) for s in range(2)]
        out.append(asyncio.run(rollout(lambda turns=turns: make(ENV, max_turns=turns), policy, episodes, config, env_id=ENV)))
    return out


def scores(groups, policy, method, template="{answer}", **kwargs):
    return asyncio.run(answer_probes(groups, policy, template, method=method, **kwargs))


def test_a_packed_row_is_the_prefix_then_each_turns_chunk_from_the_token_before_it():
    ids = list(range(100, 110))  # turns start at 3 and 7
    tokens, positions, chunks = _probe_row(ids, [3, 7], [90, 91])
    assert tokens == [100, 101, 102, 103, 104, 105, 102, 90, 91, 106, 90, 91]
    assert positions == [0, 1, 2, 3, 4, 5, 2, 3, 4, 6, 7, 8]
    assert chunks == [(6, 2), (9, 6)]  # (first column, prefix columns it sees)
    tokens, positions, chunks = _probe_row([7, 8], [1], [90])  # one turn after a one-token prompt: no prefix at all
    assert (tokens, positions, chunks) == ([7, 90], [0, 1], [(0, 0)])


def test_packed_probes_equal_scoring_each_probe_from_scratch_on_real_rollouts(groups, policy):
    trajs = [t for g in groups for t in g]
    assert sorted({len(t.turns) for t in trajs}) == [1, 2, 3]  # the env's cap holds for the random model
    assert len({len(t.token_ids()) for t in trajs}) == 3  # three lengths in one pass: left padding is exercised
    calls = []
    forward = policy.model.forward

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    for template in ("{answer}", "Answer: {answer}."):
        scratch = scores(groups, policy, "scratch", template)
        policy.model.forward = counting
        try:
            packed = scores(groups, policy, "packed", template)
        finally:
            del policy.model.forward
        assert calls == [len(trajs)]  # every probe of every group in one forward pass
        calls.clear()
        assert [[len(r) for r in g] for g in packed] == [[1, 1], [2, 2], [3, 3]]
        for g_packed, g_scratch in zip(packed, scratch):
            for row_packed, row_scratch in zip(g_packed, g_scratch):
                assert row_packed == pytest.approx(row_scratch, abs=1e-4)
        assert all(s < 0 for g in packed for r in g for s in r)


def test_small_token_budgets_split_the_rows_into_passes_with_the_same_scores(groups, policy):
    whole = scores(groups, policy, "packed")
    split = scores(groups, policy, "packed", token_budget=1)  # one trajectory per pass
    kv = scores(groups, policy, "kv_cache")
    for a, b, c in zip(whole, split, kv):
        for ra, rb, rc in zip(a, b, c):
            assert ra == pytest.approx(rb, abs=1e-5) and ra == pytest.approx(rc, abs=1e-4)


def test_probe_methods_are_named_and_scratch_scores_every_probe_through_the_policy(groups, policy):
    with pytest.raises(ValueError, match="probe method must be one of"):
        scores(groups, policy, "fast")
    with counting_score_answers(policy) as calls:
        compute_signals_many({"answer_probe"}, groups, policy=policy, probe_method="scratch")
        assert calls == [12]  # 2 x (1 + 2 + 3) probes in one score_answers call
        compute_signals_many({"answer_probe"}, groups, policy=policy)
        assert calls == [12]  # the default (packed) never goes through score_answers


def test_probes_score_the_sampling_temperature(groups, policy):
    """IGPO's p_t is the sampling policy's: at T = 0.6 every in-process path scores log softmax(z / 0.6),
    and the scratch path (a server's prompt logprobs at T = 1) refuses rather than mixing temperatures."""
    from agents.tokens import answer_probe_ids
    from trainers.signals import probe_requests

    expected = []
    for group in groups:
        rows = []
        for traj in group:
            probes = [answer_probe_ids(policy.renderer, *request) for request in probe_requests([traj], policy.renderer)]
            row = []
            for ids, start in probes:
                with torch.no_grad():
                    logits = policy.model(input_ids=torch.tensor([ids])).logits[0, :-1] / 0.6
                lp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
                row.append(float(lp[start - 1:].mean()))
            rows.append(row)
        expected.append(rows)
    for method in ("packed", "kv_cache"):
        got = scores(groups, policy, method, temperature=0.6)
        for g_got, g_exp in zip(got, expected):
            for r_got, r_exp in zip(g_got, g_exp):
                assert r_got == pytest.approx(r_exp, abs=1e-4)
    at_one = scores(groups, policy, "packed")
    assert at_one[2][0] != pytest.approx(expected[2][0], abs=1e-3)  # the temperature changes the scores
    with pytest.raises(ValueError, match="temperature"):
        scores(groups, policy, "scratch", temperature=0.6)
