"""trainers.signals: answer probes through HFPolicy.score_answers, turn entropies from the learner.

A tiny random Llama (written in seconds) and hand-built token trajectories; each signal is
checked against a direct forward pass of the same model.
"""

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.hf_policy import HFPolicy
from agents.models import write_tiny
from agents.trajectory import Trajectory, Turn
from tests.credit_trajs import counting_score_answers
from trainers.credit import get_credit
from trainers.signals import compute_signals, compute_signals_many, probe_requests


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    return HFPolicy(write_tiny(tmp_path_factory.mktemp("models") / "tiny"), max_batch=8)


def token_traj(turns: list[list[int]], outcome: float, answer: str = "417", sample: int = 0) -> Trajectory:
    out = [Turn(action="a", observation=[], reward=0.0, token_ids=ids, logprobs=[-1.0] * len(ids), observation_ids=[40, 41, 42],
                info={"outcome": outcome} if k == len(turns) - 1 else {}) for k, ids in enumerate(turns)]
    return Trajectory(env_id="turngym/Test-v0", task_id="t", split="train", sample=sample, messages=[], prompt_ids=[50, 51, 52, 53],
                      turns=out, reset_info={"answer": answer})


def direct_mean_logprob(model, prefix: list[int], answer: list[int]) -> float:
    ids = torch.tensor([prefix + answer])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    return sum(float(logp[len(prefix) - 1 + j, a]) for j, a in enumerate(answer)) / len(answer)


def test_probe_prefixes_are_the_ids_before_each_turn_with_the_template_lead(hf):
    traj = token_traj([[60, 61], [62]], 1.0)
    reqs = probe_requests([traj], hf.renderer, "Answer: {answer}.")
    lead = hf.renderer.encode("Answer: ")
    assert reqs == [([50, 51, 52, 53] + lead, "417", "."), ([50, 51, 52, 53, 60, 61, 40, 41, 42] + lead, "417", ".")]
    with pytest.raises(ValueError, match="states no answer"):
        probe_requests([token_traj([[60]], 1.0, answer="")], hf.renderer)


def test_answer_probes_equal_a_direct_forward_pass_and_batch_all_groups_in_one_call(hf):
    a, b = token_traj([[60, 61], [62]], 1.0), token_traj([[63]], 0.0, answer="none", sample=1)
    c = token_traj([[64, 65, 66]], 1.0)
    with counting_score_answers(hf) as calls:
        signals = compute_signals_many({"answer_probe"}, [[a, b], [c]], policy=hf, probe_method="scratch")
    assert calls == [4]  # 2 + 1 probes of the first group, 1 of the second: one call
    enc = hf.renderer.encode
    assert signals[0].answer_logprobs[0] == pytest.approx([
        direct_mean_logprob(hf.model, [50, 51, 52, 53], enc("417")),
        direct_mean_logprob(hf.model, [50, 51, 52, 53, 60, 61, 40, 41, 42], enc("417")),
    ], abs=1e-4)
    assert signals[0].answer_logprobs[1] == pytest.approx([direct_mean_logprob(hf.model, [50, 51, 52, 53], enc("none"))], abs=1e-4)
    assert len(signals[1].answer_logprobs[0]) == 1
    # IGPO consumes them as they come
    adv = get_credit("igpo").assign([a, b], signals[0])
    assert [len(x) for x in adv] == [2, 1]


@pytest.mark.parametrize("method", ["packed", "kv_cache"])
def test_in_process_probes_equal_scoring_each_probe_from_scratch(hf, method):
    group = [token_traj([[60, 61], [62], [63, 64, 65]], 1.0), token_traj([[66]], 0.0, answer="none", sample=1)]
    for template in ("{answer}", "Answer: {answer}."):
        fast = compute_signals({"answer_probe"}, group, policy=hf, probe_template=template, probe_method=method).answer_logprobs
        scratch = compute_signals({"answer_probe"}, group, policy=hf, probe_template=template, probe_method="scratch").answer_logprobs
        assert [len(r) for r in fast] == [3, 1]
        for row_f, row_s in zip(fast, scratch):
            assert row_f == pytest.approx(row_s, abs=1e-4)


def test_turn_entropies_are_means_over_each_turns_sampled_tokens(hf):
    from trainers.learner import Learner

    learner = Learner(hf.model_dir, device="cpu")
    traj = token_traj([[60, 61], [62]], 1.0)
    sig = compute_signals({"entropy"}, [traj], learner=learner)
    ids = torch.tensor([traj.token_ids()])
    with torch.no_grad():
        logp = torch.log_softmax(learner.model(input_ids=ids).logits[0].float(), dim=-1)
    ent = [-(logp[j].exp() * logp[j]).sum().item() for j in range(ids.shape[1])]
    # turn 1's tokens sit at positions 4, 5 (predicted from 3, 4); turn 2's at 9 (from 8)
    assert sig.entropy[0] == pytest.approx([(ent[3] + ent[4]) / 2, ent[8]], abs=1e-4)
    assert all(0 < h <= math.log(learner.model.config.vocab_size) + 1e-4 for h in sig.entropy[0])


def test_a_policy_without_tails_still_scores_templates_without_a_tail(hf):
    """Policies written before score_answers took tails= get none when the template has no tail; a
    template with a tail needs tails= (the tail must not be scored)."""

    class OldPolicy:
        renderer, policy_version = hf.renderer, 0

        async def score_answers(self, prefixes, answers):
            return [-2.0] * len(answers)

    traj = token_traj([[60, 61], [62]], 1.0)
    sig = compute_signals({"answer_probe"}, [traj], policy=OldPolicy(), probe_method="scratch")
    assert sig.answer_logprobs == [[-2.0, -2.0]]
    with pytest.raises(TypeError, match="tails"):
        compute_signals({"answer_probe"}, [traj], policy=OldPolicy(), probe_method="scratch", probe_template="{answer}.")


def test_missing_inputs_fail_fast_naming_what_is_missing():
    traj = token_traj([[60]], 1.0)
    with pytest.raises(ValueError, match="score_answers"):
        compute_signals({"answer_probe"}, [traj])
    with pytest.raises(ValueError, match="learner"):
        compute_signals({"entropy"}, [traj])
    with pytest.raises(ValueError, match="progress estimator"):
        compute_signals({"progress"}, [traj])
    with pytest.raises(ValueError, match="unknown signals"):
        compute_signals({"vibes"}, [traj])
    assert compute_signals(set(), [traj]).answer_logprobs is None


def test_probe_answer_prefers_the_envs_probe_text():
    from trainers.signals import probe_answer

    traj = token_traj([[60]], 1.0)
    assert probe_answer(traj) == "417"
    traj.reset_info["probe_answer"] = "Apartment | 519"  # e.g. SQL: the gold result, while answer is the gold query
    assert probe_answer(traj) == "Apartment | 519"
