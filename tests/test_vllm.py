"""VLLMPolicy against a real vLLM server (CPU build in .venv-vllm) on the tiny model.

One server for the module (~1-2 min start-up on 2 cores).  Checks: token-exact trajectories
(decode gives back the rendered conversation, the mask covers exactly the sampled ids), rollout
logprobs equal to an HF forward pass on the same ids, greedy completions equal to HFPolicy's,
answer scores equal to HF's, and retries / failed episodes.
"""

import asyncio

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from agents import Completion, Episode, RolloutConfig, SamplingParams, rollout  # noqa: E402
from agents.models import write_tiny  # noqa: E402
from agents.vllm_server import VLLMServer, VLLMUnavailable, vllm_python  # noqa: E402

try:
    vllm_python()
    NO_VLLM = None
except VLLMUnavailable as e:
    NO_VLLM = str(e)

MESSAGES = [{"role": "system", "content": "You are an agent. Call tools."}, {"role": "user", "content": "How many albums?"}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def server(tiny):
    if NO_VLLM:
        pytest.skip(NO_VLLM)
    with VLLMServer(tiny, served_name="tiny", max_model_len=4096) as srv:
        yield srv


@pytest.fixture(scope="module")
def hf(tiny):
    from agents.hf_policy import HFPolicy

    return HFPolicy(tiny)


@pytest.fixture()
def policy(server, tiny):
    from agents.vllm_policy import VLLMPolicy

    return VLLMPolicy(tiny, server.url)


def _sql_rollout(policy, sql_tasks, n=8, max_turns=3, max_tokens=24, config=None):
    from envs import make

    make_env = lambda: make("SQL-v0", tasks=sql_tasks, split="train", max_turns=max_turns)  # noqa: E731
    episodes = [Episode(task_id=t, seed=k) for k, t in enumerate(list(sql_tasks.ids("train"))[:n])]
    config = config or RolloutConfig(concurrency=n, sampling=SamplingParams(temperature=1.0, max_tokens=max_tokens))
    return asyncio.run(rollout(make_env, policy, episodes, config, env_id="SQL-v0"))


def _check_exact(traj, renderer, hf):
    ids, mask, lps, spans = traj.token_ids(), traj.loss_mask(), traj.rollout_logprobs(), traj.turn_spans()
    assert renderer.decode(ids) == renderer.render(traj.conversation(), False)
    assert [i for i, m in enumerate(mask) if m] == [i for s, e in spans for i in range(s, e)]
    for turn, (s, e) in zip(traj.turns, spans):
        assert ids[s:e] == turn.token_ids and lps[s:e] == turn.logprobs and e > s
    (fwd,) = hf.forward_logprobs([ids])
    diff = max(abs(fwd[i - 1] - lps[i]) for i in range(1, len(ids)) if mask[i])
    assert diff < 1e-3, f"rollout logprobs differ from the HF forward pass by {diff}"


def test_server_is_healthy_and_reports_its_context(server, policy):
    import httpx

    assert httpx.get(f"{server.url}/health").status_code == 200
    assert asyncio.run(policy.context_length()) == 4096
    assert asyncio.run(policy.model_name()) == "tiny"


def test_rollout_tokens_are_exact_and_logprobs_match_hf(policy, hf, sql_tasks):
    # 8 seeded episodes of ~1,300-token prompts in flight: more than one prefill step's budget, which
    # crashed vLLM's CPU engine with chunked prefill on (VLLMServer turns it off on CPU)
    trajs = _sql_rollout(policy, sql_tasks)
    assert len(trajs) == 8
    for traj in trajs:
        assert not traj.failed, traj.error
        assert traj.finish_reason == "max_turns" and len(traj.turns) == 3  # a random model never submits
        assert all(t.finish_reason == "length" and len(t.token_ids) == 24 for t in traj.turns)
        _check_exact(traj, policy.renderer, hf)


def test_completions_that_stop_on_im_end_are_exact(server, tiny, hf, sql_tasks):
    from agents.vllm_policy import VLLMPolicy

    im_end = hf.renderer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    # a logit bias makes the random model stop early; logprobs stay the raw model's
    biased = VLLMPolicy(tiny, server.url, extra_body={"logit_bias": {str(im_end): 6.0}})
    trajs = _sql_rollout(biased, sql_tasks, n=4, max_tokens=48)
    stopped = [t for traj in trajs for t in traj.turns if t.finish_reason == "stop"]
    assert stopped, "no completion stopped on <|im_end|>"
    for t in stopped:
        assert t.token_ids[-1] == im_end and t.observation_ids[0] != im_end
    for traj in trajs:
        assert not traj.failed, traj.error
        _check_exact(traj, hf.renderer, hf)


def test_greedy_completion_equals_hf(policy, hf):
    conv = policy.start_conversation(MESSAGES)
    greedy = SamplingParams(temperature=0.0, max_tokens=40)
    (v,) = asyncio.run(policy.generate_tokens([conv], greedy))
    (h,) = hf.generate_ids([conv.ids], greedy)
    assert v.token_ids == h.token_ids and v.text == h.text
    assert max(abs(a - b) for a, b in zip(v.logprobs, h.logprobs)) < 1e-3


def test_answer_scores_match_hf(policy, hf, sql_tasks):
    prefixes = [policy.start_conversation(MESSAGES).ids, policy.start_conversation(MESSAGES[1:]).ids]
    answers = ["347", "There are 347 albums."]
    got = asyncio.run(policy.score_answers(prefixes, answers))
    want = asyncio.run(hf.score_answers(prefixes, answers))
    assert all(abs(a - b) < 1e-3 for a, b in zip(got, want)), (got, want)
    assert got[0] != got[1]
    tails = ['"}}</tool_call>', "\n"]  # context after the answer, not scored: the server agrees with HF
    got = asyncio.run(policy.score_answers(prefixes, answers, tails=tails))
    want = asyncio.run(hf.score_answers(prefixes, answers, tails=tails))
    assert all(abs(a - b) < 1e-3 for a, b in zip(got, want)), (got, want)


def test_context_exhaustion_ends_the_episode_with_length(server, tiny, sql_tasks):
    from agents.vllm_policy import VLLMPolicy

    small = VLLMPolicy(tiny, server.url)
    prompt_len = len(small.start_conversation(_first_obs(sql_tasks)).ids)
    small.max_model_len = prompt_len + 30  # room for one 24-token turn, then the context is full
    (traj,) = _sql_rollout(small, sql_tasks, n=1, max_turns=5)
    assert not traj.failed and traj.finish_reason == "length" and len(traj.turns) >= 1


def _first_obs(sql_tasks):
    from envs import make

    env = make("SQL-v0", tasks=sql_tasks, split="train")
    obs, _ = env.reset(options={"task": list(sql_tasks.ids("train"))[0]})
    env.close()
    return obs


class Flaky:
    """Delegates to a real policy; the first ``fail`` calls raise, or hang past the timeout."""

    def __init__(self, inner, fail: int, hang: bool = False):
        self.inner, self.fail, self.hang, self.calls = inner, fail, hang, 0
        self.name = inner.name

    @property
    def policy_version(self) -> int:
        return self.inner.policy_version

    def start_conversation(self, messages):
        return self.inner.start_conversation(messages)

    async def generate(self, requests, sampling) -> list[Completion]:
        return await self.inner.generate(requests, sampling)

    async def score_answers(self, prefixes, answers, **kwargs) -> list[float]:
        return await self.inner.score_answers(prefixes, answers, **kwargs)

    async def generate_tokens(self, convs, sampling) -> list[Completion]:
        self.calls += 1
        if self.calls <= self.fail:
            if self.hang:
                await asyncio.sleep(30)
            raise ConnectionError("injected failure")
        return await self.inner.generate_tokens(convs, sampling)


def test_failed_and_timed_out_requests_are_retried_then_marked(policy, sql_tasks, tiny):
    from agents.vllm_policy import VLLMPolicy

    sampling = SamplingParams(temperature=1.0, max_tokens=8)
    config = RolloutConfig(concurrency=1, retries=3, retry_backoff=0.01, request_timeout=2.0, sampling=sampling)
    flaky = Flaky(policy, fail=2)  # a generous timeout: a loaded CPU server may take seconds for 8 tokens
    patient = config.model_copy(update={"request_timeout": 25.0})
    (traj,) = _sql_rollout(flaky, sql_tasks, n=1, max_turns=1, config=patient)
    assert not traj.failed and len(traj.turns) == 1 and flaky.calls == 3, (traj.error, flaky.calls)
    hung = Flaky(policy, fail=3, hang=True)
    (traj,) = _sql_rollout(hung, sql_tasks, n=1, max_turns=1, config=config)
    assert traj.failed and traj.finish_reason == "error" and "TimeoutError" in traj.error and hung.calls == 3
    dead = VLLMPolicy(tiny, "http://127.0.0.1:9", served_name="tiny", max_model_len=4096, timeout=2.0)
    (traj,) = _sql_rollout(dead, sql_tasks, n=1, max_turns=1, config=config)
    assert traj.failed and traj.turns == [] and "ConnectError" in traj.error
