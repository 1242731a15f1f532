"""A policy-gradient step of a vision-language model (tiny-vl) on GUITrace-v0 episodes with screenshots:
each turn's screenshot is re-loaded from the trajectory file's content-hash images, the learner's
forward gets every turn's pixels, the loss mask covers only the sampled tokens, and the step moves the
sampled tokens' logprobs the way the advantage points."""

import asyncio

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):
    from agents.models import write_tiny_vl

    return write_tiny_vl(tmp_path_factory.mktemp("models") / "tiny-vl")


@pytest.fixture(scope="module")
def episodes(tiny_vl, one_torch_thread, tmp_path_factory):
    """Two 3-step GUITrace-v0 trace episodes sampled by HFPolicy, written to JSONL and read back with
    ``file://`` references to the stored screenshots."""
    from agents import Episode, RolloutConfig, SamplingParams, read_jsonl, rollout, write_jsonl
    from agents.hf_policy import HFPolicy
    from envs import make
    from envs.gui.traces import load_trace_tasks

    tasks = load_trace_tasks(mode="trace")
    task = next(t for t in tasks.ids("train") if len(tasks.get(t).data["steps"]) == 3)
    make_env = lambda: make("GUITrace-v0", mode="trace", tasks=tasks, split="train")  # noqa: E731  (screenshots)
    policy = HFPolicy(tiny_vl, device="cpu")
    config = RolloutConfig(concurrency=2, retry_backoff=0, sampling=SamplingParams(temperature=1.0, max_tokens=8, seed=11))
    trajs = asyncio.run(rollout(make_env, policy, [Episode(task_id=task, seed=k, sample=k) for k in range(2)], config,
                                env_id="GUITrace-v0"))
    assert [(t.failed, len(t.turns)) for t in trajs] == [(False, 3), (False, 3)], [t.error for t in trajs]
    out = tmp_path_factory.mktemp("run") / "trajectories.jsonl"
    write_jsonl(out, trajs)
    return trajs, list(read_jsonl(out, images="file")), out.parent / "images"


def test_a_step_on_screenshots_moves_the_sampled_logprobs_with_the_advantage(tiny_vl, episodes):
    from agents.vision import conversation_images
    from trainers.batch import build_batch
    from trainers.config import LossConfig, OptimConfig
    from trainers.learner import Learner

    trajs, stored, images_dir = episodes
    urls = [conversation_images(t.messages, [turn.observation for turn in t.turns]) for t in stored]
    assert [len(u) for u in urls] == [3, 3]  # the first screen and the two next screens; the final one has no image
    assert all(u.startswith("file://") and u.removeprefix("file://").startswith(str(images_dir)) for row in urls for u in row)
    assert len(list(images_dir.iterdir())) == 3  # both episodes saw the same three screens: stored once each

    learner = Learner(tiny_vl, device="cpu")
    assert learner.vision is not None
    batch = build_batch(stored, [[1.0] * 3, [-1.0] * 3], learner.pad_id, learner.vision)
    in_memory = build_batch(trajs, [[1.0] * 3, [-1.0] * 3], learner.pad_id, learner.vision)  # data URLs: the same pixels
    assert all(torch.equal(a, b) for a, b in zip(batch.pixel_values, in_memory.pixel_values))
    assert torch.equal(batch.input_ids, in_memory.input_ids)

    pad = learner.vision.image_token_id
    for row, traj in enumerate(stored):
        grid = batch.image_grid_thw[row]
        assert grid.tolist() == [[1, 6, 8]] * 3  # 800 x 600 screens: 6 x 8 patches, 12 tokens each
        assert batch.pixel_values[row].shape == (3 * 48, 1176)
        ids = batch.input_ids[row, : int(batch.attention_mask[row].sum())].tolist()
        assert ids.count(pad) == 3 * 12 and len(ids) == len(traj.token_ids()) + 3 * 11
        assert int(batch.loss_mask[row].sum()) == sum(len(t.token_ids) for t in traj.turns)  # only the sampled tokens
        assert batch.loss_mask[row][batch.input_ids[row, 1:] == pad].sum() == 0
        sampled = [i - 1 for i in range(1, len(ids)) if batch.loss_mask[row, i - 1] > 0]
        assert [ids[i + 1] for i in sampled] == [tok for t in traj.turns for tok in t.token_ids]

    before = learner.token_logprobs(batch, sampled_only=True)[0]
    assert float((before - batch.rollout_logprobs).abs().max()) < 1e-4  # both leave the vision tokens out
    mask = batch.loss_mask
    for sign in (1.0, -1.0):  # from the same weights: a positive advantage raises every episode's sampled tokens, a negative lowers
        learner = Learner(tiny_vl, device="cpu", optim=OptimConfig(lr=1e-5))  # 1e-3 overshoots: every sampled logprob falls
        signed = build_batch(stored, [[sign] * 3, [sign] * 3], learner.pad_id, learner.vision)
        metrics = learner.step(signed, LossConfig(tis_cap=None), micro_batch=1)
        assert metrics["tokens"] == float(batch.num_sampled)
        after = learner.token_logprobs(batch, sampled_only=True)[0]
        moved = ((after - before) * mask).sum(dim=1) / mask.sum(dim=1)  # mean change per episode, nats
        assert (sign * moved > 0).all(), (sign, moved.tolist())


def test_a_batch_with_images_needs_the_vision_processor(episodes):
    from agents.tokens import ImagesNotSupported
    from trainers.batch import build_batch

    with pytest.raises(ImagesNotSupported, match="holds images: build the batch with the policy's vision processor"):
        build_batch(episodes[0], [[1.0] * 3, [1.0] * 3], pad_id=0)
