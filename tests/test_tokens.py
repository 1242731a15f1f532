"""Token-exact conversations (agents/tokens.py) on the tiny model, and HFPolicy rollouts.

Fast: a tiny random Llama written in seconds, transformers on CPU, no server.
"""

import asyncio

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from agents import Episode, RolloutConfig, SamplingParams, Trajectory, read_jsonl, rollout, write_jsonl  # noqa: E402
from agents.models import write_tiny  # noqa: E402
from agents.tokens import TokenConversation, check_conversation, load_renderer  # noqa: E402

SYSTEM = {"role": "system", "content": "You are an agent. Call tools."}
USER = {"role": "user", "content": "How many albums are there?"}
TOOL = {"role": "tool", "name": "run_sql", "content": "[[347]]"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def renderer(tiny):
    return load_renderer(tiny)


@pytest.fixture(scope="module")
def hf(tiny):
    from agents.hf_policy import HFPolicy

    return HFPolicy(tiny, max_batch=8)


def test_tiny_model_is_reused_and_has_head_dim_64(tiny):
    import json

    config = json.loads((tiny / "config.json").read_text())
    assert config["hidden_size"] // config["num_attention_heads"] == 64
    before = (tiny / "model.safetensors").stat().st_mtime_ns
    assert write_tiny(tiny) == tiny and (tiny / "model.safetensors").stat().st_mtime_ns == before


def test_stop_completion_is_kept_verbatim_and_closing_token_not_duplicated(renderer):
    im_end = renderer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    conv = TokenConversation(renderer, [SYSTEM, USER])
    assert renderer.decode(conv.prompt_ids) == renderer.render([SYSTEM, USER], True)
    # a deliberately non-canonical tokenization: one token per character, then the stop token
    action = '<tool_call>{"name": "run_sql", "arguments": {"query": "SELECT 1"}}</tool_call>'
    sampled = [t for piece in action for t in renderer.encode(piece)] + [im_end]
    assert sampled[:-1] != renderer.encode(action)  # re-tokenizing would change the ids
    text = conv.add_completion(sampled, [-0.5] * len(sampled), "stop")
    assert text == action
    obs_ids = conv.add_observation([TOOL])
    start = len(conv.prompt_ids)
    assert conv.ids[start:start + len(sampled)] == sampled
    assert conv.mask == [0] * start + [1] * len(sampled) + [0] * len(obs_ids)
    assert conv.logprobs[start:start + len(sampled)] == [-0.5] * len(sampled)
    assert obs_ids[0] != im_end  # the model's own <|im_end|> closes the turn
    history = [SYSTEM, USER, {"role": "assistant", "content": action}, TOOL]
    assert conv.text() == renderer.render(history, True)
    assert conv.ids.count(im_end) == renderer.render(history, True).count("<|im_end|>")
    assert check_conversation(conv) == []


def test_length_completion_gets_the_closing_tokens_as_observation(renderer):
    im_end = renderer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    conv = TokenConversation(renderer, [SYSTEM, USER])
    sampled = renderer.encode("SELECT name FROM")
    conv.add_completion(sampled, None, "length")
    obs_ids = conv.add_observation([{"role": "user", "content": "Error: no tool call found."}], final=True)
    assert obs_ids[0] == im_end  # the template closes the cut-off turn; the model did not sample it
    assert conv.mask.count(1) == len(sampled)
    history = [SYSTEM, USER, {"role": "assistant", "content": "SELECT name FROM"},
               {"role": "user", "content": "Error: no tool call found."}]
    assert conv.text() == renderer.render(history, False)
    assert conv.closed
    with pytest.raises(RuntimeError):
        conv.add_completion(sampled, None, "stop")


def test_turn_order_is_enforced(renderer):
    conv = TokenConversation(renderer, [SYSTEM, USER])
    with pytest.raises(RuntimeError):
        conv.add_observation([TOOL])
    conv.add_completion(renderer.encode("hi"), None, "length")
    with pytest.raises(RuntimeError):
        conv.add_completion(renderer.encode("again"), None, "length")


def test_tool_role_falls_back_to_user_for_templates_without_it(tiny):
    r = load_renderer(tiny, tool_role="user")
    text = r.render([SYSTEM, USER, {"role": "assistant", "content": "x"}, TOOL], True)
    assert "[run_sql result]\n[[347]]" in text and "<tool_response>" not in text
    assert load_renderer(tiny).tool_role == "keep"  # the tiny template renders tool messages itself


def test_hf_generate_logprobs_match_a_forward_pass(hf):
    conv = hf.start_conversation([SYSTEM, USER])
    (c,) = asyncio.run(hf.generate_tokens([conv], SamplingParams(temperature=1.0, max_tokens=12, seed=3)))
    assert len(c.token_ids) == len(c.logprobs) >= 1
    (lps,) = hf.forward_logprobs([conv.ids + c.token_ids])
    got = lps[len(conv.ids) - 1:]
    assert max(abs(a - b) for a, b in zip(got, c.logprobs)) < 1e-3


def test_hf_policy_is_a_token_policy_and_stamps_its_weights_version(hf, renderer):
    from agents.policy import TokenPolicy
    from agents.tokens import ImagesNotSupported
    from tools.content import image_part

    assert isinstance(hf, TokenPolicy) and hf.policy_version == 0
    sampling = SamplingParams(temperature=0.0, max_tokens=2)
    hf.policy_version = 5  # what the trainer does after a weight update
    try:
        (c,) = asyncio.run(hf.generate_tokens([hf.start_conversation([SYSTEM, USER])], sampling))
    finally:
        hf.policy_version = 0
    assert c.policy_version == 5
    with pytest.raises(ImagesNotSupported, match="renders text only"):
        hf.start_conversation([SYSTEM, {"role": "user", "content": [image_part(b"png")]}])


def test_hf_batched_greedy_equals_unbatched(hf, renderer):
    prompts = [TokenConversation(renderer, [SYSTEM, {"role": "user", "content": q}]).ids for q in ("a", "What is 2 + 2 in SQL?")]
    greedy = SamplingParams(temperature=0.0, max_tokens=10)
    batched = hf.generate_ids(prompts, greedy)
    for p, b in zip(prompts, batched):
        (alone,) = hf.generate_ids([p], greedy)
        assert alone.token_ids == b.token_ids
        assert max(abs(x - y) for x, y in zip(alone.logprobs, b.logprobs)) < 1e-3


def test_hf_one_long_prompt_does_not_cut_the_others_short(hf, renderer):
    short = TokenConversation(renderer, [SYSTEM, {"role": "user", "content": "a"}]).ids
    long = TokenConversation(renderer, [SYSTEM, {"role": "user", "content": "b " * 40}]).ids
    greedy = SamplingParams(temperature=0.0, max_tokens=12)
    saved = hf.max_model_len
    hf.max_model_len = len(long) + 3  # the long prompt has room for 3 tokens, the short one for many more
    try:
        (alone,) = hf.generate_ids([short], greedy)
        batched_short, batched_long = hf.generate_ids([short, long], greedy)
    finally:
        hf.max_model_len = saved
    assert batched_short.token_ids == alone.token_ids and len(alone.token_ids) > 3
    assert len(batched_long.token_ids) <= 3


def test_hf_rollout_on_sql_env_carries_exact_tokens(hf, sql_tasks, tmp_path):
    from envs import make

    make_env = lambda: make("SQL-v0", tasks=sql_tasks, split="train", max_turns=2)  # noqa: E731
    ids = list(sql_tasks.ids("train"))[:3]
    config = RolloutConfig(concurrency=3, sampling=SamplingParams(temperature=1.0, max_tokens=12))
    trajs = asyncio.run(rollout(make_env, hf, [Episode(task_id=i, seed=k) for k, i in enumerate(ids)], config, env_id="SQL-v0"))
    renderer = hf.renderer
    for traj in trajs:
        assert not traj.failed, traj.error
        assert traj.finish_reason in ("stop", "max_turns")
        assert traj.has_tokens and len(traj.turns) >= 1
        ids_, mask, lps, spans = traj.token_ids(), traj.loss_mask(), traj.rollout_logprobs(), traj.turn_spans()
        assert renderer.decode(ids_) == renderer.render(traj.conversation(), False)
        assert [i for i, m in enumerate(mask) if m] == [i for s, e in spans for i in range(s, e)]
        for turn, (s, e) in zip(traj.turns, spans):
            assert ids_[s:e] == turn.token_ids and lps[s:e] == turn.logprobs
            assert turn.action == renderer.completion_text(turn.token_ids, turn.finish_reason)
        assert traj.prefix_ids(0) == traj.prompt_ids
        (fwd,) = hf.forward_logprobs([ids_])
        diffs = [abs(fwd[i - 1] - lps[i]) for i in range(1, len(ids_)) if mask[i]]
        assert max(diffs) < 1e-3
    write_jsonl(tmp_path / "t.jsonl", trajs)
    back = list(read_jsonl(tmp_path / "t.jsonl"))
    assert [t.token_ids() for t in back] == [t.token_ids() for t in trajs]
    assert Trajectory(env_id="x", task_id="y", split="train", messages=[]).has_tokens is False


def test_hf_answer_scores_are_mean_answer_logprobs_and_batch_invariant(hf, renderer):
    prefixes = [TokenConversation(renderer, [SYSTEM, {"role": "user", "content": q}]).ids for q in ("Name one album.", "x")]
    answers = ["Let There Be Rock", "347"]
    scores = asyncio.run(hf.score_answers(prefixes, answers))
    for prefix, answer, score in zip(prefixes, answers, scores):
        ans = renderer.encode(answer)
        with torch.no_grad():
            logits = hf.model(torch.tensor([prefix + ans])).logits[0]
        logp = torch.log_softmax(logits, -1)
        manual = sum(logp[len(prefix) - 1 + k, t].item() for k, t in enumerate(ans)) / len(ans)
        assert abs(score - manual) < 1e-4
    single = asyncio.run(hf.score_answers(prefixes[1:], answers[1:]))
    assert abs(single[0] - scores[1]) < 1e-4


def test_answer_ids_are_the_answer_tokens_of_answer_plus_tail(renderer):
    """IGPO scores only the answer: the tail (a tool call's closing text) follows it, unscored.  A token
    that merges the answer's last character with the tail's first belongs to the answer."""
    from agents.tokens import answer_ids, answer_probe_ids

    tail = '"}}</tool_call>'
    got = answer_ids(renderer, "417", tail)
    assert renderer.encode("417" + tail)[:len(got)] == got and renderer.decode(got) == "417"
    merged = renderer.encode("ab")
    assert len(merged) == 1 and answer_ids(renderer, "a", "b") == merged  # the tokenizer writes "ab" as one token
    assert answer_ids(renderer, "417") == renderer.encode("417")
    assert answer_probe_ids(renderer, [5, 6], "417", ".") == ([5, 6, *renderer.encode("417")], 2)

    class Slow:  # a tokenizer without offsets: the shortest run of ids whose text covers the answer
        tokenizer = type("T", (), {"is_fast": False})()
        encode, decode = renderer.encode, renderer.decode

    assert answer_ids(Slow(), "Paris", '"}}') == answer_ids(renderer, "Paris", '"}}') and answer_ids(Slow(), "a", "b") == merged
    with pytest.raises(ValueError, match="no tokens"):
        answer_ids(renderer, "", ".")


def test_hf_answer_scores_leave_the_tail_out_of_the_mean(hf, renderer):
    prefix = TokenConversation(renderer, [SYSTEM, {"role": "user", "content": "x"}]).ids
    tail = '"}}</tool_call>'
    ids = prefix + renderer.encode("347" + tail)
    with torch.no_grad():
        logp = torch.log_softmax(hf.model(torch.tensor([ids])).logits[0], -1)
    per_token = [logp[len(prefix) - 1 + k, t].item() for k, t in enumerate(ids[len(prefix):])]
    got, with_tail = asyncio.run(hf.score_answers([prefix, prefix], ["347", "347" + tail], tails=[tail, ""]))
    assert got == pytest.approx(sum(per_token[:3]) / 3, abs=1e-4)  # "3", "4", "7" only
    assert with_tail == pytest.approx(sum(per_token) / len(per_token), abs=1e-4)  # the old, tail-scoring probe
    with pytest.raises(ValueError, match="one tail"):
        asyncio.run(hf.score_answers([prefix], ["347"], tails=[]))
