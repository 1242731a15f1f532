"""LoRA weight sync into a vLLM server (``trainers.sync.VLLMLoraSync``): after each push the server's
logprobs under the adapter's name equal the trainer's peft forward pass (fp32, |Δ| <= 1e-3) and differ
from before; the second push (unload + load) and a third one with ``load_inplace`` replace the adapter; ``check`` passes
after a push and raises :class:`SyncMismatch` between an update and its push."""

from __future__ import annotations

import asyncio
import shutil
import sys

import httpx
import pytest

from trainers.sync import (
    SyncError, SyncMismatch, TrainingVLLMServer, VLLMLoraSync, check_ids, model_logprobs, training_server, vllm_lora_rank,
)


def test_lora_rank_rounds_up_to_a_rank_vllm_accepts():
    assert [vllm_lora_rank(r) for r in (1, 2, 8, 9, 16, 17, 300, 320, 321, 512)] == [1, 8, 8, 16, 16, 32, 320, 320, 512, 512]
    with pytest.raises(ValueError, match="lora.r = 513"):
        vllm_lora_rank(513)


def test_training_server_enables_runtime_lora_loading(tmp_path):
    server = TrainingVLLMServer(tmp_path, python=sys.executable, device="cpu", lora_rank=4)
    cmd = server.command()
    assert cmd[cmd.index("--max-lora-rank") + 1] == "8" and "--enable-lora" in cmd  # r = 4 is served under max rank 8
    env = server.environment()
    assert (env["VLLM_SERVER_DEV_MODE"], env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"]) == ("1", "True")
    full = TrainingVLLMServer(tmp_path, python=sys.executable, device="cpu")
    assert "--enable-lora" not in full.command() and "VLLM_ALLOW_RUNTIME_LORA_UPDATING" not in full.environment()


def test_lora_sync_refuses_a_model_without_an_adapter():
    class Policy:
        policy_version = 3

    policy = Policy()
    sync = VLLMLoraSync("http://127.0.0.1:9/v1", policy)  # never reached: the check comes first
    try:
        with pytest.raises(SyncError, match="not a PeftModel"):
            sync.push(object())
    finally:
        sync.close()
    assert policy.policy_version == 3 and not sync.root.exists()


@pytest.mark.slow
def test_vllm_serves_each_pushed_adapter(tiny_model, tmp_path, one_torch_thread):
    pytest.importorskip("peft", reason="peft not installed: install the [train] extra")
    from agents.policy import SamplingParams
    from agents.trajectory import Trajectory, Turn
    from agents.vllm_policy import VLLMPolicy
    from agents.vllm_server import VLLMUnavailable
    from trainers.batch import build_sft_batch
    from trainers.config import LoraConfig, OptimConfig
    from trainers.learner import Learner

    try:  # r = 4 also checks the rounding to vLLM's max rank 8 end to end
        server = training_server(tiny_model, max_model_len=512, lora_rank=4, log_path=tmp_path / "vllm.log")
    except VLLMUnavailable as e:
        pytest.skip(f"no vLLM here: {e}")
    learner = Learner(tiny_model, device="cpu", lora=LoraConfig(r=4, alpha=8), optim=OptimConfig(lr=2e-2), seed=0)

    with server:
        policy = VLLMPolicy(tiny_model, server.url)
        conv = policy.start_conversation([{"role": "system", "content": "Use lookup(key)."}, {"role": "user", "content": 'Code of "bazo"?'}])
        call = policy.renderer.encode('<tool_call>{"name": "lookup", "arguments": {"key": "bazo"}}</tool_call>')
        ids = list(conv.ids) + call

        def batch_of(target: list[int], prompt: list[int] | None = None):  # `target`: the sampled (trained) tokens
            traj = Trajectory(env_id="turngym/X-v0", task_id="t", split="train", messages=[], prompt_ids=prompt or list(conv.ids),
                              turns=[Turn(action="", observation=[], reward=0.0, token_ids=target, observation_ids=[])])
            return build_sft_batch([traj], learner.pad_id)

        def trainer_logprobs() -> list[float]:  # the learner's own forward pass of the peft model
            return learner.token_logprobs(batch_of(call))[0][0, : len(ids) - 1].tolist()

        def server_logprobs() -> list[float]:
            async def go() -> list[float]:
                try:
                    return await policy.token_logprobs(ids)
                finally:
                    await policy.aclose()
            return asyncio.run(go())

        def sample(prompt: list[int]) -> tuple[list[int], list[float]]:  # greedy decoding: reads the prefix cache
            body = {"model": policy.served_name, "prompt": prompt, "max_tokens": 4, "temperature": 0.0, "logprobs": 0,
                    "return_token_ids": True, "skip_special_tokens": False}
            resp = httpx.post(f"{server.url}/v1/completions", json=body, timeout=300)
            resp.raise_for_status()
            choice = resp.json()["choices"][0]
            return choice["token_ids"], choice["logprobs"]["token_logprobs"]

        def gap(a: list[float], b: list[float]) -> float:
            assert len(a) == len(b) == len(ids) - 1
            return max(abs(x - y) for x, y in zip(a, b))

        def update(steps: int, target: list[int]) -> list[float]:
            for _ in range(steps):
                learner.sft_step(batch_of(target), micro_batch=1)
            return trainer_logprobs()

        base_name = server.served_name
        before = server_logprobs()  # the base model (a fresh LoRA has B = 0); prompt-logprob requests skip the prefix cache
        assert gap(before, trainer_logprobs()) <= 1e-3

        sync = VLLMLoraSync(server.url, policy)
        try:
            # update 1: SFT steps on the tool call; push 1 loads the adapter
            expected = update(3, call)
            sync.push(learner.model)
            assert (policy.served_name, policy.name, policy.policy_version) == ("turngym-policy", "vllm:turngym-policy", 1)
            first = server_logprobs()
            assert gap(first, expected) <= 1e-3 and gap(first, before) > 0.05
            sampled = asyncio.run(policy.generate_tokens([conv], SamplingParams(max_tokens=4, temperature=1.0, seed=1)))
            assert sampled[0].policy_version == 1  # the rollout stamps this on the Turn
            policy.served_name = base_name  # the base model is still served unchanged beside the adapter
            assert gap(server_logprobs(), before) <= 1e-3
            policy.served_name = sync.lora_name

            # update 2: train on other tokens; push 2 unloads and reloads the adapter under the same name
            expected = update(3, call[::-1])
            seconds = sync.push(learner.model)
            second = server_logprobs()
            assert policy.policy_version == 2 and seconds > 0
            assert gap(second, expected) <= 1e-3 and gap(second, first) > 0.05
            fixed = check_ids(policy.renderer)  # the loop's check after a push: the adapter's name, T = 1
            assert sync.check(model_logprobs(learner.model, fixed), fixed, 1e-3) <= 1e-3

            # update 3: load_inplace keeps the adapter's id; a prompt cached under it must not keep the previous
            # adapter's KV (decoding reads the prefix cache; vLLM keys blocks by adapter name and path, so the
            # fresh folder per push and the cache reset each keep stale blocks out)
            long_prompt = ids * 3  # more than one 128-token KV block (vLLM's CPU block size)
            sample(long_prompt)  # caches its first block under the adapter
            sync.load_inplace = True
            expected = update(3, call)
            with pytest.raises(SyncMismatch, match="server .*, learner"):  # updated, not yet pushed
                sync.check(model_logprobs(learner.model, fixed), fixed, 1e-3)
            sync.push(learner.model)
            third = server_logprobs()
            assert policy.policy_version == 3
            assert gap(third, expected) <= 1e-3 and gap(third, second) > 0.05
            greedy, greedy_lps = sample(long_prompt)
            batch = batch_of(greedy, long_prompt)
            ours = learner.token_logprobs(batch)[0][batch.loss_mask > 0].tolist()
            assert len(greedy) == len(ours) >= 1 and max(abs(x - y) for x, y in zip(greedy_lps, ours)) <= 1e-3
            assert sorted(p.name for p in sync.root.iterdir()) == ["v3"]  # earlier pushes' folders are gone
        finally:
            sync.close()
        assert sync.reread and sync.folder.exists()  # vLLM 0.32 re-reads an in-place-loaded adapter every step

        # the loop on the same server: a LoRA run pushes through VLLMLoraSync and samples from the pushed adapter
        loop_rolls_out_from_the_pushed_adapter(tiny_model, tmp_path, server.url, learner)
    shutil.rmtree(sync.root, ignore_errors=True)


def loop_rolls_out_from_the_pushed_adapter(tiny_model, tmp_path, url, trained) -> None:
    import torch

    from trainers.batch import build_batch
    from trainers.config import load_config
    from trainers.loop import Trainer

    cfg = load_config(preset="demo", overrides=[
        f"model={tiny_model}", f"out_dir={tmp_path / 'run'}", "rollout=vllm", f"vllm_url={url}", "lora.r=4", "lora.alpha=8",
        "sft=null", "steps=2", "tasks_per_step=2", "group_size=2", "max_turns=2", "sampling.max_tokens=12", "eval_every=0"])
    trainer = Trainer(cfg)
    try:
        assert isinstance(trainer.sync, VLLMLoraSync) and trainer.backend.server is None
        trainer.learner.load_state_dict(trained.state_dict())  # a clearly non-zero adapter, as after SFT
        row = trainer.step(1)  # rolls out from the base model, updates, pushes (the server already holds the name)
        assert row["policy_version"] == 1 and trainer.policy.served_name == "turngym-policy"
        assert trainer.last_sync_diff is not None and trainer.last_sync_diff <= 1e-3  # the loop checked its push
        got = trainer.collect(2)
        groups, _ = got.groups, got.stats
        trajs = [t for g in groups for t in g]
        assert trajs and {tk.policy_version for t in trajs for tk in t.turns} == {1}
        batch = build_batch(trajs, [[0.0] * len(t.turns) for t in trajs], trainer.learner.pad_id)
        mask = batch.loss_mask > 0
        ours = trainer.learner.token_logprobs(batch)[0][mask]
        with trainer.learner.model.disable_adapter():
            base = trainer.learner.token_logprobs(batch)[0][mask]
        sampled = batch.rollout_logprobs[mask]  # vLLM's logprobs of the tokens it sampled at T = 1
        assert float((sampled - ours).abs().max()) <= 1e-3
        assert float((sampled - base).abs().max()) > 0.05 and torch.isfinite(sampled).all()
    finally:
        trainer.close()
