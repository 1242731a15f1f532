"""trainers.checkpoint: atomic step folders, verified resume, fallbacks past broken steps."""

import json
import random

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

import numpy as np  # noqa: E402

from agents.trajectory import Trajectory, Turn  # noqa: E402
from trainers.batch import build_batch  # noqa: E402
from trainers.checkpoint import complete_steps, load_latest, save_checkpoint, verify  # noqa: E402
from trainers.config import LossConfig, OptimConfig  # noqa: E402
from trainers.learner import Learner  # noqa: E402

TRAJ = Trajectory(env_id="x", task_id="t", split="train", messages=[], prompt_ids=[5, 6, 7],
                  turns=[Turn(action="", observation=[], reward=1.0, token_ids=[40, 41, 42], observation_ids=[9],
                              logprobs=[-5.0] * 3)])


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return tiny_model  # built once per session (tests/conftest.py)


def learner(tiny):
    return Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-2, warmup_steps=5))


def train(lrn, steps=1):
    for _ in range(steps):
        lrn.step(build_batch([TRAJ], [[1.0]], lrn.pad_id), LossConfig(tis_cap=None), micro_batch=1)


def params(lrn):
    return [p.detach().clone() for p in lrn.model.parameters()]


def test_save_then_load_restores_weights_optimizer_rng_and_extra(tiny, tmp_path):
    a = learner(tiny)
    train(a, 2)
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    folder = save_checkpoint(tmp_path, 2, a, {"cursor": 16, "policy_version": 2, "metrics": [{"step": 1, "reward": 0.5}]})
    draws = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    assert folder.name == "step_2" and (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_2"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.pt", "optimizer.pt", "rng.pt", "extra.json"} and manifest["step"] == 2
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))

    b = learner(tiny)
    state = load_latest(tmp_path, b)
    assert state["cursor"] == 16 and state["policy_version"] == 2 and state["step"] == 2
    assert state["metrics"] == [{"step": 1, "reward": 0.5}] and state["checkpoint"] == str(folder)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == draws
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(b)))
    assert b.lr == a.lr and b.steps_done == 2
    train(a)
    train(b)  # same optimizer moments and schedule: the next step is identical
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(b)))


def test_no_checkpoint_gives_none(tiny, tmp_path):
    assert load_latest(tmp_path, learner(tiny)) is None


def test_half_written_tmp_folder_is_ignored_and_cleaned(tiny, tmp_path):
    a = learner(tiny)
    save_checkpoint(tmp_path, 1, a, {"cursor": 8})
    weights_1 = params(a)
    train(a)
    root = tmp_path / "checkpoints"
    # a SIGKILL mid-save: the tmp folder has some files and no manifest
    tmp = root / ".tmp-step_2-99999"
    tmp.mkdir()
    torch.save({"junk": torch.zeros(1)}, tmp / "model.pt")
    # and a step folder without manifest (not renamed by us, but must never be trusted)
    (root / "step_3").mkdir()
    (root / "step_3" / "extra.json").write_text("{}")
    b = learner(tiny)
    state = load_latest(tmp_path, b)
    assert state["step"] == 1 and state["cursor"] == 8
    assert all(torch.equal(p, q) for p, q in zip(weights_1, params(b)))
    save_checkpoint(tmp_path, 2, a, {"cursor": 16})
    assert not tmp.exists()


def test_corrupted_newest_step_falls_back_to_the_previous_one(tiny, tmp_path):
    a = learner(tiny)
    save_checkpoint(tmp_path, 1, a, {"cursor": 8})
    weights_1 = params(a)
    train(a)
    newest = save_checkpoint(tmp_path, 2, a, {"cursor": 16})
    data = bytearray((newest / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, different sha256
    (newest / "model.pt").write_bytes(bytes(data))
    assert verify(newest) is None
    assert [p.name for p in complete_steps(tmp_path)] == ["step_1"]
    b = learner(tiny)
    assert load_latest(tmp_path, b)["cursor"] == 8
    assert all(torch.equal(p, q) for p, q in zip(weights_1, params(b)))
    (newest / "model.pt").unlink()  # a missing file: also not complete
    assert load_latest(tmp_path, learner(tiny))["step"] == 1


def test_latest_pointer_wins_and_old_steps_are_pruned(tiny, tmp_path):
    a = learner(tiny)
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, step, a, {"cursor": step}, keep=2)
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["step_3", "step_4"]
    (root / "latest").write_text("step_3\n")  # e.g. a resumed run that re-saved step 3 last
    assert load_latest(tmp_path, learner(tiny))["cursor"] == 3
    save_checkpoint(tmp_path, 3, a, {"cursor": 33}, keep=2)  # re-saving a step replaces it atomically
    assert load_latest(tmp_path, learner(tiny))["cursor"] == 33


def test_lora_checkpoint_holds_the_adapter_and_restores_it(tiny, tmp_path):
    from trainers.config import LoraConfig

    def lora_learner():
        return Learner(tiny, device="cpu", lora=LoraConfig(r=4, alpha=8), optim=OptimConfig(lr=1e-2))

    a = lora_learner()
    train(a, 2)
    folder = save_checkpoint(tmp_path, 2, a, {})
    saved = torch.load(folder / "model.pt", weights_only=True)
    assert saved and all("lora_" in k for k in saved)  # the adapter only, not the base weights
    b = lora_learner()
    assert load_latest(tmp_path, b)["step"] == 2
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(b)))
    train(a)
    train(b)
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(b)))
