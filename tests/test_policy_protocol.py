"""The TokenPolicy protocol and the weights version each turn records (on tests/arith_env.py).

A character-level chat renderer stands in for a tokenizer, so the rollout's token path runs
without transformers; the real tokenizers are covered in test_tokens.py.
"""

import pytest

from agents import OraclePolicy, RolloutConfig, Trajectory, read_jsonl, write_jsonl
from agents.policy import Completion, Policy, TokenPolicy
from agents.scripted import oracle_action
from agents.tokens import ChatRenderer, TokenConversation
from tests.arith_env import episodes, run

EOS = 3


class CharTokenizer:
    """One id per character (ord + 10); ids < 10 are specials, EOS closes a turn."""

    chat_template = "role tool"
    eos_token_id = EOS

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        text = "".join(f"[{m['role']}]{m['content']}\x03" for m in messages)
        return text + ("[assistant]" if add_generation_prompt else "")

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [EOS if ch == "\x03" else ord(ch) + 10 for ch in text]}

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=False):
        return "".join("\x03" if i == EOS else chr(i - 10) for i in ids)


class ScriptedTokenPolicy:
    """Plays the arith oracle token by token; ``bump_after`` simulates a weight sync after that many calls."""

    name = "scripted-tokens"

    def __init__(self, bump_after: int | None = None):
        self.renderer = ChatRenderer(CharTokenizer())
        self.policy_version = 0
        self.calls = 0
        self.bump_after = bump_after
        self.info: dict = {}

    def start_conversation(self, messages):
        return TokenConversation(self.renderer, messages)

    async def generate_tokens(self, convs, sampling):
        out = []
        for conv in convs:
            text = oracle_action(len(conv.turns), self.info)
            ids = self.renderer.encode(text) + [EOS]
            out.append(Completion(text=text, token_ids=ids, logprobs=[-0.5] * len(ids), policy_version=self.policy_version))
        self.calls += 1
        if self.bump_after is not None and self.calls == self.bump_after:
            self.policy_version += 1  # what the trainer does after pushing new weights
        return out

    async def generate(self, requests, sampling):
        raise AssertionError("a token policy is driven through generate_tokens")

    async def score_answers(self, prefixes, answers):
        return [0.0 for _ in answers]


class NoVersion(ScriptedTokenPolicy):
    def __getattribute__(self, name):
        if name == "policy_version":
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_token_policy_protocol_is_checked_by_isinstance():
    assert isinstance(ScriptedTokenPolicy(), TokenPolicy) and isinstance(ScriptedTokenPolicy(), Policy)
    assert not isinstance(OraclePolicy(), TokenPolicy) and isinstance(OraclePolicy(), Policy)
    assert not isinstance(NoVersion(), TokenPolicy)  # a token policy must carry its weights version


def _play(policy, bump_after=None):
    # The arith oracle reads the reset info; a token policy gets none, so it is given the answer here.
    policy.info = {"family": "arith", "answer": "110"}
    return run(policy, episodes(["train0"]), RolloutConfig(retry_backoff=0, concurrency=1))[0]


def test_each_turn_records_the_version_that_sampled_it(tmp_path):
    traj = _play(ScriptedTokenPolicy(bump_after=1))
    assert not traj.failed and traj.success and traj.has_tokens
    assert [t.policy_version for t in traj.turns] == [0, 1]  # the sync landed between the two turns
    assert traj.policy_versions == [0, 1]
    assert traj.loss_mask().count(1) == sum(len(t.token_ids) for t in traj.turns)
    write_jsonl(tmp_path / "t.jsonl", [traj])
    (back,) = read_jsonl(tmp_path / "t.jsonl")
    assert [t.policy_version for t in back.turns] == [0, 1]


class UnstampedPolicy(ScriptedTokenPolicy):
    async def generate_tokens(self, convs, sampling):
        return [c.model_copy(update={"policy_version": None}) for c in await super().generate_tokens(convs, sampling)]


def test_an_unstamped_completion_gets_the_policy_attribute_read_before_the_call():
    policy = UnstampedPolicy()
    policy.policy_version = 7
    traj = _play(policy)
    assert [t.policy_version for t in traj.turns] == [7, 7]


def test_text_policies_leave_the_version_unset():
    traj = run(OraclePolicy(), episodes(["train0"]))[0]
    assert [t.policy_version for t in traj.turns] == [None, None] and traj.policy_versions == []
    assert Trajectory.model_validate_json(traj.model_dump_json()).turns[0].policy_version is None


@pytest.mark.parametrize("cls", ["agents.vllm_policy.VLLMPolicy", "agents.hf_policy.HFPolicy"])
def test_shipped_token_policies_declare_every_protocol_method(cls):
    import importlib

    module, name = cls.rsplit(".", 1)
    try:
        policy_cls = getattr(importlib.import_module(module), name)
    except ImportError as e:
        pytest.skip(f"{cls} needs an optional dependency: {e}")
    for member in ("start_conversation", "generate_tokens", "score_answers", "generate"):
        assert callable(getattr(policy_cls, member)), member


# ----- content parts in token conversations ------------------------------------------------------
def test_text_parts_render_like_the_joined_string():
    from tools.content import text_part

    renderer = ChatRenderer(CharTokenizer())
    as_parts = TokenConversation(renderer, [{"role": "user", "content": [text_part("What is "), text_part("2 + 2?")]}])
    as_text = TokenConversation(renderer, [{"role": "user", "content": "What is 2 + 2?"}])
    assert as_parts.prompt_ids == as_text.prompt_ids and as_parts.images == []


def test_a_text_only_template_refuses_an_image_with_a_clear_error():
    from agents.tokens import ImagesNotSupported
    from tools.content import image_part, text_part

    renderer = ChatRenderer(CharTokenizer())
    expected = "the chat template of CharTokenizer renders text only, but a message holds an image"
    with pytest.raises(ImagesNotSupported, match=expected):
        TokenConversation(renderer, [{"role": "user", "content": [text_part("Colour?"), image_part(b"png")]}])


class ImageTemplateTokenizer(CharTokenizer):
    chat_template = "role tool image"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        flat = [{**m, "content": "".join("<img>" if p["type"] == "image" else p["text"] for p in m["content"])}
                if isinstance(m["content"], list) else m for m in messages]
        return super().apply_chat_template(flat, tokenize, add_generation_prompt)


def test_an_image_template_gets_placeholders_and_the_conversation_keeps_the_urls_in_order():
    from tools.content import image_part, text_part

    first, second = image_part(b"one"), image_part(b"two")
    conv = TokenConversation(ChatRenderer(ImageTemplateTokenizer()), [{"role": "user", "content": [text_part("A"), first]}])
    assert conv.text() == "[user]A<img>\x03[assistant]"
    conv.add_completion(conv.renderer.encode("look") + [EOS], None, "stop")
    conv.add_observation([{"role": "tool", "name": "look", "content": [second]}])
    assert conv.images == [first["image_url"]["url"], second["image_url"]["url"]]
    assert conv.text().endswith("[tool]<img>\x03[assistant]")


def test_a_token_rollout_on_an_image_env_fails_with_the_reason():
    from tests.image_env import ImageEnv

    class LookingPolicy(ScriptedTokenPolicy):
        async def generate_tokens(self, convs, sampling):
            ids = self.renderer.encode('<tool_call>{"name": "look", "arguments": {}}</tool_call>') + [EOS]
            return [Completion(text="", token_ids=ids, logprobs=[0.0] * len(ids), policy_version=0) for _ in convs]

    traj = run(LookingPolicy(), episodes(["train-red"]), make_env=ImageEnv)[0]
    assert traj.failed and traj.error.startswith("token bookkeeping failed: ImagesNotSupported: the chat template")
