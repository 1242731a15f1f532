"""tiny-base's corpus: every value a call needs is in the episode to copy, splits differ in format and
values, no entity word comes from an env's test split, and episodes render as SFT renders them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from agents.copybase.corpus import HELD_OUT_FORMATS, HELD_OUT_REQUESTS, TRAIN_FORMATS, TRAIN_REQUESTS, Entities, corpus
from tools import parse_action

sys.path.insert(0, str(Path(__file__).parent))


def _calls(episode):
    return [parse_action(m["content"]).calls[0] for m in episode if m["role"] == "assistant"]


def test_the_corpus_is_a_pure_function_of_its_seed():
    assert corpus(3, 50) == corpus(3, 50)
    assert corpus(3, 50) != corpus(4, 50)
    assert corpus(3, 50) != corpus(3, 50, held_out=True)


def test_every_call_copies_values_that_are_already_in_the_episode():
    for episode in corpus(0, 400) + corpus(0, 100, held_out=True):
        assert [m["role"] for m in episode[:2]] == ["system", "user"]
        tools_listed = episode[0]["content"]
        for i, msg in enumerate(episode):
            if msg["role"] != "assistant":
                continue
            parsed = parse_action(msg["content"])
            assert parsed.error is None and len(parsed.calls) == 1
            call = parsed.calls[0]
            assert call.name in tools_listed
            seen = " ".join(str(m["content"]) for m in episode[1:i])
            for key, value in call.arguments.items():
                assert key in tools_listed
                assert value == "none" or str(value) in seen, (value, seen)
        assert episode[-1]["role"] == "assistant"  # the answer call ends it


def test_chains_have_one_to_four_hops_with_detours():
    episodes = corpus(0, 2000)
    hops = {len({c.name for c in _calls(e)[:-1]}) for e in episodes}
    assert {1, 2, 3, 4} <= hops
    results = [str(m["content"]) for e in episodes for m in e if m["role"] == "tool"]
    assert any("Did you mean" in r for r in results)
    assert any("busy" in r for r in results)
    assert any(_calls(e)[-1].arguments and list(_calls(e)[-1].arguments.values())[0] == "none" for e in episodes)
    assert any(len(_calls(e)[0].arguments) == 2 for e in episodes)  # a second argument, copied from the request


def test_held_out_formats_and_requests_are_never_trained_on():
    fmt_ids = {f.__code__.co_consts for f in TRAIN_FORMATS}
    assert not fmt_ids & {f.__code__.co_consts for f in HELD_OUT_FORMATS}
    assert not set(TRAIN_REQUESTS) & set(HELD_OUT_REQUESTS)
    train_users = {m["content"] for e in corpus(0, 300) for m in e if m["role"] == "user"}
    assert not any(r.split("{")[0] and r.startswith("Which") for r in TRAIN_REQUESTS)
    assert not any(u.startswith("Which ") or "Tell me, for" in u for u in train_users)


def test_entities_avoid_excluded_words_and_distractors_differ_by_one_edit():
    import random

    words = frozenset(Entities(random.Random(1)).word() for _ in range(200))
    drawn = {Entities(random.Random(1), exclude=words).word() for _ in range(200)}
    assert not drawn & words
    ents = Entities(random.Random(2))
    for value in ["Amara Eklund", "4B-17", "123456", "zamo kettri"]:
        other = ents.similar(value)
        assert other != value and len(other) == len(value)
        assert sum(a != b for a, b in zip(other, value)) == 1


def test_no_corpus_entity_is_a_word_of_a_test_split():
    import multihop_envs  # noqa: F401  (registers Directory-v0 and Shipment-v0)
    from agents.copybase.build import held_out_words
    from agents.copybase.probe import shape

    excluded = held_out_words()
    from envs.registry import task_set

    for env in ("Directory-v0", "Shipment-v0", "Lookup-v0"):  # the test envs' and Lookup-v0's test words are excluded
        assert {w for t in task_set(env).iter("test") for w in re.findall(r"[a-z]{3,}", t.prompt.lower())} <= excluded
    values = [str(v) for e in corpus(0, 500, excluded) for c in _calls(e) for v in c.arguments.values()]
    worded = [v for v in values if shape(v) in ("name", "word", "phrase") and v != "none"]
    assert len(worded) > 300
    assert not {w for v in worded for w in v.lower().split()} & excluded


def test_episodes_render_as_sft_renders_them_with_loss_on_assistant_tokens_only():
    pytest.importorskip("transformers")
    from agents.copybase.render import encode_episode
    from agents.models import resolve_model
    from agents.tokens import load_renderer

    renderer = load_renderer(resolve_model("tiny"))
    stop = next(iter(renderer.stop_ids))
    episode = corpus(0, 1)[0]
    ids, mask = encode_episode(renderer, episode, stop)
    assert renderer.decode(ids) == renderer.render(episode, False)
    sampled = [renderer.decode([i for i, m in zip(ids, mask) if m])]
    calls = "".join(m["content"] + "<|im_end|>" for m in episode if m["role"] == "assistant")
    assert sampled == [calls]


def test_drills_ask_for_exactly_the_values_the_request_holds():
    import random

    from agents.copybase.corpus import drill

    rng = random.Random(0)
    for _ in range(200):
        system, user, assistant = drill(rng)
        (call,) = parse_action(assistant["content"]).calls
        (value,) = call.arguments.values()
        assert call.name in system["content"] and user["content"].endswith(value)
        assert 2 <= len(value.split(", ")) <= 8


def test_easy_episodes_are_short_chains_without_detours():
    episodes = corpus(0, 300, easy=True)
    assert {len(_calls(e)) for e in episodes} == {2, 3}  # 1-2 hops, then the answer
    assert not any("Error" in str(m["content"]) for e in episodes for m in e)
    assert not any('"type": "function"' in e[0]["content"] for e in episodes)  # a short system prompt
