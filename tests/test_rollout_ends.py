"""Episodes cut short: an infrastructure fault is ``failed`` (left out of training); an end the
policy caused (a full context, a conversation the template cannot render) keeps its turns and the
reward it earned (agents/failures.py, agents/rollout.py).  On tests/arith_env.py."""

import asyncio

import httpx
import pytest

from agents import RolloutConfig
from agents.failures import end_reason, is_infrastructure_error
from agents.tokens import ContextExhausted, ImagesNotSupported, TemplateError, TokenConversation
from agents.vllm_policy import VLLMError
from tests.arith_env import ArithEnv, episodes, run
from tests.test_policy_protocol import ScriptedTokenPolicy
from tools.calls import ToolInfrastructureError

CONFIG = RolloutConfig(retries=2, retry_backoff=0, concurrency=1)


# ----- the classification -------------------------------------------------------------------------
def _jinja_errors():
    jinja2 = pytest.importorskip("jinja2")
    refusal = jinja2.exceptions.TemplateError("Conversation roles must alternate")  # what raise_exception raises
    broken = jinja2.exceptions.TemplateSyntaxError("unexpected '}'", lineno=1)
    return refusal, broken


def test_infrastructure_faults_and_policy_caused_ends_are_told_apart():
    refusal, broken = _jinja_errors()
    infrastructure = [
        ToolInfrastructureError("the sandbox engine is gone"), ConnectionError("refused"), TimeoutError(),
        httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("disconnected"),
        VLLMError("vLLM answered 503", status=503), ImagesNotSupported("text-only template"),
        broken,  # a template that does not parse is a set-up fault
        RuntimeError("something unforeseen"),  # unknown kinds fail loudly rather than train on a bug
    ]
    policy_caused = [ContextExhausted("full"), TemplateError("re-rendered differently"), refusal]
    assert [is_infrastructure_error(e) for e in infrastructure] == [True] * len(infrastructure)
    assert [is_infrastructure_error(e) for e in policy_caused] == [False] * len(policy_caused)
    assert [end_reason(e) for e in policy_caused] == ["length", "unrenderable", "unrenderable"]


# ----- a conversation the template cannot render ------------------------------------------------
class RefusingConversation(TokenConversation):
    """The template refuses the observation after completion number ``refuse_at`` (0-based)."""

    refuse_at = 0

    def add_observation(self, messages, final=False):
        if len(self.turns) - 1 == self.refuse_at:
            raise TemplateError("the chat template renders earlier turns differently once new messages follow")
        return super().add_observation(messages, final)


class RefusedPolicy(ScriptedTokenPolicy):
    def __init__(self, refuse_at):
        super().__init__()
        self.refuse_at = refuse_at
        self.info = {"family": "arith", "answer": "110"}  # the arith oracle's plan, played as tokens

    def start_conversation(self, messages):
        conv = RefusingConversation(self.renderer, messages)
        conv.refuse_at = self.refuse_at
        return conv


class ShapedArithEnv(ArithEnv):
    """Pays 0.25 for the first step, so an episode cut after it has earned something."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward + (0.25 if self.turn == 1 else 0.0), terminated, truncated, info


def test_an_unrenderable_observation_ends_the_episode_with_the_reward_earned_and_the_turn_kept():
    (traj,) = run(RefusedPolicy(refuse_at=0), episodes(["train0"]), CONFIG, make_env=ShapedArithEnv)
    assert not traj.failed and traj.finish_reason == "unrenderable"
    assert traj.error.startswith("the observation could not be rendered: TemplateError: the chat template")
    assert len(traj.turns) == 1 and traj.total_reward == 0.25  # the turn was sampled and stepped: it counts
    turn = traj.turns[0]
    assert turn.token_ids and len(turn.logprobs) == len(turn.token_ids) and turn.observation_ids == []
    assert traj.has_tokens  # so the trainer can use it: the sampled ids are the sequence's last tokens
    assert traj.token_ids() == traj.prompt_ids + turn.token_ids
    assert traj.loss_mask() == [0] * len(traj.prompt_ids) + [1] * len(turn.token_ids)
    assert traj.turn_spans() == [(len(traj.prompt_ids), len(traj.token_ids()))]


def test_an_unrenderable_final_observation_keeps_the_env_s_own_end():
    (traj,) = run(RefusedPolicy(refuse_at=1), episodes(["train0"]), CONFIG)
    assert not traj.failed and traj.finish_reason == "stop" and traj.error.startswith("the observation could not")
    assert len(traj.turns) == 2 and traj.outcome == 1.0 and traj.success
    assert traj.turns[1].observation_ids == [] and traj.has_tokens
    assert traj.loss_mask().count(1) == sum(len(t.token_ids) for t in traj.turns)


# ----- a policy server that stays down -----------------------------------------------------------
class UnreachablePolicy(ScriptedTokenPolicy):
    async def generate_tokens(self, convs, sampling):
        self.calls += 1
        raise httpx.ConnectError("[Errno 111] Connection refused")


def test_a_server_unreachable_on_every_try_fails_the_episode_with_the_reason():
    policy = UnreachablePolicy()
    (traj,) = run(policy, episodes(["train0"]), CONFIG)
    assert traj.failed and traj.finish_reason == "error" and traj.turns == []
    assert traj.error == "policy failed after 2 tries: ConnectError: [Errno 111] Connection refused"
    assert policy.calls == 2  # retried before giving up


class FullContextPolicy(ScriptedTokenPolicy):
    requests = 0

    async def generate_tokens(self, convs, sampling):
        self.requests += 1
        if self.requests > 1:
            raise ContextExhausted("412 tokens fill the 412-token context")
        return await super().generate_tokens(convs, sampling)


def test_a_full_context_is_not_retried_and_ends_with_length():
    policy = FullContextPolicy()
    policy.info = {"family": "arith", "answer": "110"}
    (traj,) = run(policy, episodes(["train0"]), CONFIG)
    assert not traj.failed and traj.finish_reason == "length" and len(traj.turns) == 1
    assert traj.error == "generation stopped: ContextExhausted: 412 tokens fill the 412-token context"
    assert policy.requests == 2  # one turn, then one refused call: not retried


# ----- vLLM's answers, through a mock transport ----------------------------------------------------
TOO_LONG = ("This model's maximum context length is 2048 tokens. However, you requested 2100 tokens "
            "(2060 in the messages, 40 in the completion). Please reduce the length of the messages or completion.")


def _vllm(tiny_model, answers):
    """A VLLMPolicy whose server answers each /v1/completions request with the next (status, json)."""
    from agents.vllm_policy import VLLMPolicy

    policy = VLLMPolicy(tiny_model, "http://vllm.test", served_name="tiny", max_model_len=4096)
    seen = []

    def handle(request):
        seen.append(request)
        status, body = answers[min(len(seen), len(answers)) - 1]
        return httpx.Response(status, json=body)

    client = httpx.AsyncClient(base_url=policy.base_url, transport=httpx.MockTransport(handle))
    policy._client = lambda: client
    return policy, seen


def _completion(policy, text):
    im_end = policy.renderer.tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = policy.renderer.encode(text) + [im_end]
    return 200, {"choices": [{"token_ids": ids, "logprobs": {"token_logprobs": [-0.5] * len(ids)}, "finish_reason": "stop"}]}


def test_vllm_refusing_a_prompt_as_too_long_ends_the_episode_with_length(tiny_model):
    answers = []
    policy, seen = _vllm(tiny_model, answers)
    answers += [_completion(policy, "thinking"), (400, {"error": {"message": TOO_LONG, "code": 400}})]
    (traj,) = run(policy, episodes(["train0"]), CONFIG)
    assert not traj.failed and traj.finish_reason == "length"
    assert len(traj.turns) == 1 and traj.turns[0].observation_ids  # the first turn stays, tokens and all
    assert "ContextExhausted" in traj.error and "maximum context length is 2048" in traj.error
    assert len(seen) == 2  # refused once, not retried


def test_vllm_server_errors_are_retried_then_fail_the_episode(tiny_model):
    policy, seen = _vllm(tiny_model, [(503, {"error": "overloaded"})])
    (traj,) = run(policy, episodes(["train0"]), CONFIG)
    assert traj.failed and traj.finish_reason == "error" and len(seen) == 2
    assert traj.error.startswith("policy failed after 2 tries: VLLMError: vLLM answered 503")
    with pytest.raises(VLLMError) as err:
        asyncio.run(policy.generate_tokens([policy.start_conversation([{"role": "user", "content": "hi"}])],
                                           RolloutConfig().sampling))
    assert err.value.status == 503


def test_vllm_answer_probes_refuse_a_temperature_the_server_cannot_score(tiny_model):
    policy, seen = _vllm(tiny_model, [])
    with pytest.raises(NotImplementedError, match="temperature 1, not 0.6"):
        asyncio.run(policy.score_answers([[1, 2, 3]], ["42"], temperature=0.6))
    assert seen == []
