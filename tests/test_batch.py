"""trainers.batch: hand-made token trajectories to exact masks, advantages and micro-batches."""

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")

from agents.trajectory import Trajectory, Turn
from trainers.batch import build_batch, build_sft_batch

PAD = 0


def traj(prompt, turns, logprobs=True):
    """turns: list of (sampled ids, observation ids); logprob of sampled id k is -k/10."""
    return Trajectory(
        env_id="turngym/X-v0", task_id="t", split="train", messages=[], prompt_ids=list(prompt),
        turns=[Turn(action="", observation=[], reward=0.0, token_ids=list(s), observation_ids=list(o),
                    logprobs=[-k / 10 for k in s] if logprobs else None) for s, o in turns],
    )


# sequence A: prompt [1 2 3] | turn0 [10 11] | obs [4 5] | turn1 [12] | obs []
A = traj([1, 2, 3], [([10, 11], [4, 5]), ([12], [])])
# sequence B: prompt [1 2] | turn0 [20] | obs [6]
B = traj([1, 2], [([20], [6])])


def test_targets_masks_and_turn_advantages_are_exact():
    batch = build_batch([A, B], [[0.5, -2.0], [3.0]], PAD)
    assert batch.input_ids.tolist() == [[1, 2, 3, 10, 11, 4, 5, 12], [1, 2, 20, 6, 0, 0, 0, 0]]
    assert batch.attention_mask.tolist() == [[1] * 8, [1, 1, 1, 1, 0, 0, 0, 0]]
    # column j is target token j + 1
    assert batch.loss_mask.tolist() == [[0, 0, 1, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0]]
    assert batch.advantages.tolist() == [[0, 0, 0.5, 0.5, 0, 0, -2.0], [0, 3.0, 0, 0, 0, 0, 0]]
    expected = torch.tensor([[0, 0, -1.0, -1.1, 0, 0, -1.2], [0, -2.0, 0, 0, 0, 0, 0]])
    assert torch.allclose(batch.rollout_logprobs, expected)
    assert batch.old_logprobs is None
    assert batch.num_sampled == 4 and batch.num_tokens == 12


def test_wrong_advantage_counts_and_token_less_trajectories_fail_clearly():
    with pytest.raises(ValueError, match="2 turns but 1 advantages"):
        build_batch([A], [[1.0]], PAD)
    with pytest.raises(ValueError, match="2 trajectories but 1"):
        build_batch([A, B], [[1.0, 1.0]], PAD)
    text_only = Trajectory(env_id="x", task_id="t", split="train", messages=[], turns=[Turn(action="a", observation=[], reward=0)])
    with pytest.raises(ValueError, match="no token data"):
        build_batch([text_only], [[1.0]], PAD)


def test_missing_rollout_logprobs_disable_them_for_the_batch():
    batch = build_batch([A, traj([1], [([7], [])], logprobs=False)], [[1.0, 1.0], [1.0]], PAD)
    assert batch.rollout_logprobs is None


def test_sft_batch_puts_advantage_one_on_assistant_tokens():
    batch = build_sft_batch([A, B], PAD)
    assert batch.advantages.tolist() == batch.loss_mask.tolist()
    assert batch.rollout_logprobs is None


def test_micro_batches_keep_rows_and_trim_padding():
    C = traj([1], [([30, 31, 32], [])])
    batch = build_batch([B, A, C], [[1.0], [1.0, 2.0], [3.0]], PAD)
    micro = batch.micro_batches(2)
    assert [mb.rows.tolist() for mb in micro] == [[0, 1], [2]]
    assert micro[1].input_ids.tolist() == [[1, 30, 31, 32]]  # trimmed to its own length
    assert micro[1].advantages.tolist() == [[3.0, 3.0, 3.0]]
    by_len = batch.micro_batches(2, by_length=True)
    assert [mb.rows.tolist() for mb in by_len] == [[1, 0], [2]]  # lengths 8, 4, 4: longest first, ties in order
    assert by_len[0].input_ids.shape == (2, 8)
    assert by_len[0].loss_mask.tolist() == [[0, 0, 1, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0]]
    with pytest.raises(ValueError):
        batch.micro_batches(0)
