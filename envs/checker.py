"""Conformance checks for turngym envs: gymnasium's ``check_env`` plus the multi-turn contract.

* ``gymnasium``: ``gymnasium.utils.env_checker.check_env`` on an env made through the registry;
* ``determinism``: the same seed gives the same task, and the same actions the same transcript;
* ``malformed_actions``: fuzzed bad actions never raise, each gets an explanatory message and
  ``valid_action=False``; every message is a valid chat message (string or content parts);
* ``hostile_actions``: deeply nested and self-referencing objects, an object whose attributes
  raise, 1 MB names and arguments, and text no wire can carry or a parser should choke on (lone
  surrogates, raw and JSON-escaped; surrogate-escaped bytes; NUL characters; invalid JSON escapes;
  1 MB of astral and combining unicode) in every string argument of every tool never raise (not even
  :class:`tools.ToolInfrastructureError`: the text is the policy's), and each answer, like the
  reset's task message, stays within the env's ``max_observation_chars`` and encodes as UTF-8;
* ``episodes_end``: an episode of bad actions is truncated exactly at ``max_turns``, reward 0;
* ``info_keys``: reset and step info carry what credit assignment needs.
"""

from __future__ import annotations

import json
import random
import string
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
from gymnasium.utils.env_checker import check_env
from pydantic import BaseModel

from envs.spaces import message_problem
from tools.content import content_text
from tools.text import printable

STEP_KEYS = ("task_id", "turn", "valid_action", "invalid_actions", "tool_calls", "tool_errors", "state_key")
END_KEYS = ("outcome", "success", "answer")


class CheckResult(BaseModel):
    name: str
    ok: bool
    detail: str = ""


def fuzz_actions(rng: random.Random, tool_names: list[str]) -> Iterator[Any]:
    """An endless stream of malformed actions of every kind the parser must survive."""
    names = tool_names + ["", "nope", "DROP", "list tables", "a" * 300]
    junk = lambda n: "".join(rng.choice(string.printable) for _ in range(rng.randint(0, n)))  # noqa: E731
    odd_arguments, odd_values = [None, 3, "x", [], {"zz": 1}], [1, None, [1], {"a": 1}]
    makers: list[Callable[[], Any]] = [
        lambda: junk(80),
        lambda: "<tool_call>" + junk(40),
        lambda: f"<tool_call>{junk(40)}</tool_call>",
        lambda: f'<tool_call>{{"name": "{rng.choice(names)}", "arguments": {junk(10)}}}</tool_call>',
        lambda: f'<tool_call>{json.dumps({"name": rng.choice(names), "arguments": rng.choice(odd_arguments)})}</tool_call>',
        lambda: json.dumps({"name": rng.choice(tool_names or ["x"]), "arguments": {"query": rng.choice(odd_values)}}),
        lambda: json.dumps({"name": rng.choice(names), "arguments": {junk(5): junk(5)}}),
        lambda: "<tool_call>{}</tool_call>" * rng.randint(2, 4),
        lambda: rng.choice([None, 0, 3.5, b"bytes", [], [1, 2], {}, {"role": "assistant"}, {"tool_calls": [1]}]),
        lambda: [{"type": "function", "function": {"name": rng.choice(names), "arguments": junk(20)}}],
        lambda: "\x00" * rng.randint(1, 50) + "{",
        lambda: "```json\n{" + junk(30) + "\n```",
    ]
    while True:
        yield rng.choice(makers)()


def check_multiturn(make_env: Callable[[], gym.Env], n_fuzz: int = 1000, seed: int = 0) -> list[CheckResult]:
    results = [_run("gymnasium", lambda: _gymnasium(make_env))]
    results.append(_run("determinism", lambda: _determinism(make_env, seed)))
    results.append(_run("malformed_actions", lambda: _malformed(make_env, n_fuzz, seed)))
    results.append(_run("hostile_actions", lambda: _hostile(make_env, seed)))
    results.append(_run("episodes_end", lambda: _episodes_end(make_env, seed)))
    results.append(_run("info_keys", lambda: _info_keys(make_env, seed)))
    return results


def _run(name: str, fn: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name=name, ok=True, detail=fn() or "")
    except Exception as e:
        return CheckResult(name=name, ok=False, detail=f"{type(e).__name__}: {e}")


def _gymnasium(make_env: Callable[[], gym.Env]) -> str:
    env = make_env()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=env.spec is None)
    env.close()
    # Show what gymnasium warned about (first line of each, e.g. a missing render_fps), not a count.
    return "; ".join(sorted({str(w.message).split("\n")[0].replace("\x1b[33m", "").replace("\x1b[0m", "") for w in caught}))


def _determinism(make_env: Callable[[], gym.Env], seed: int) -> str:
    transcripts = []
    for _ in range(2):
        env = make_env()
        obs, info = env.reset(seed=seed)
        log = [obs, info["task_id"]]
        rng = random.Random(seed)
        for action in _mixed_actions(env, rng, 5):
            step = env.step(action)
            log.append(step[:4])
            if step[2] or step[3]:
                break
        transcripts.append(log)
        env.close()
    if transcripts[0] != transcripts[1]:
        raise AssertionError("same seed and actions gave different transcripts")
    return f"task {transcripts[0][1]}"


def _malformed(make_env: Callable[[], gym.Env], n: int, seed: int) -> str:
    env = make_env()
    rng = random.Random(seed)
    names = env.unwrapped.toolbox.names
    fuzz = fuzz_actions(rng, names)
    env.reset(seed=seed)
    explained = 0
    for _ in range(n):
        obs, reward, terminated, truncated, info = env.step(next(fuzz))
        _check_answer(obs, "a malformed action")
        explained += 1
        if terminated or truncated:
            env.reset(seed=rng.randrange(1 << 30))
    env.close()
    return f"{explained}/{n} explained"


def _check_answer(obs: Any, what: str, limit: int | None = None, explained: bool = True) -> None:
    """Each message of ``obs`` is valid, within ``limit`` and encodable; with ``explained``, there is one and it has text."""
    if not isinstance(obs, list) or (explained and not obs):
        raise AssertionError(f"{what} got no explanation: {obs!r}"[:500])
    for m in obs:
        problem = message_problem(m)
        if problem:
            raise AssertionError(f"{what} got an invalid message ({problem}): {m!r}"[:500])
        text = content_text(m["content"])
        if explained and not text.strip():
            raise AssertionError(f"{what} got no explanation: {m!r}"[:500])
        if limit is not None and len(text) > limit:
            raise AssertionError(f"{what} got {len(text):,} characters, over max_observation_chars={limit:,}")
        if printable(text) is not text:
            raise AssertionError(f"{what} got text that cannot be encoded as UTF-8: {printable(text)!r}"[:500])


# Text a sampled token sequence can decode to: nothing a server, browser or database can take as is.
ODD_TEXT = {
    "a lone surrogate": "towel \udbca pink",
    "surrogate-escaped bytes": "caf\udce9 \udcff",  # bytes that were not UTF-8, decoded with errors="surrogateescape"
    "NUL characters": "a\x00b\x00",
}
ODD_UNICODE = "\u00e9\U0001f984\u202e\u0301\u4e2d\ufeff"  # accented, astral (emoji), right-to-left override, combining, CJK, BOM


class _Hostile:
    """An action whose every attribute access raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"hostile attribute {name}")


def hostile_actions(tools: dict[str, list[str]], size: int = 1_000_000,
                    text_params: dict[str, list[str]] | None = None) -> Iterator[tuple[str, Any]]:
    """(label, action) pairs no env may raise on: absurd nesting, cycles, raising objects, huge and odd text.

    ``tools`` maps each tool name to its required parameters; each tool is called once with a
    ``size``-character string for every one of them (the echo of a bad argument must stay capped).
    ``text_params`` maps each tool to its string parameters (default: ``tools``), each given every
    kind of :data:`ODD_TEXT` at once, raw and JSON-escaped, and invalid JSON escapes.
    """
    tool_names = list(tools)
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    cyclic: dict = {"name": tool_names[0] if tool_names else "x"}
    cyclic["arguments"] = {"value": cyclic}
    big = "Z" * size
    odd = {**ODD_TEXT, "1 MB of astral and combining unicode": (ODD_UNICODE * (size // len(ODD_UNICODE) + 1))[:size]}
    yield "a list nested 10,000 deep", deep
    yield "a self-referencing dict", cyclic
    yield "an object whose attributes raise", _Hostile()
    yield "a 1 MB tool name", f'<tool_call>{{"name": "{big}", "arguments": {{}}}}</tool_call>'
    yield "1 MB of text", big
    yield "a reply with a lone surrogate", f"{ODD_TEXT['a lone surrogate']} <tool_call>{{}}</tool_call>"
    yield "1 MB of astral unicode as the reply", odd["1 MB of astral and combining unicode"]
    for name, required in tools.items():
        arguments = dict.fromkeys(required, big)
        yield f"1 MB arguments of {name}", f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"
    for name, params in (tools if text_params is None else text_params).items():
        if not params:
            continue
        for label, text in odd.items():  # as the JSON a model writes: surrogates and NUL escaped
            written = json.dumps({"name": name, "arguments": dict.fromkeys(params, text)})
            yield f"{label} in the arguments of {name}", f"<tool_call>{written}</tool_call>"
        surrogate = {"name": name, "arguments": dict.fromkeys(params, ODD_TEXT["a lone surrogate"])}
        yield f"a lone surrogate in the arguments of {name} (a parsed call)", surrogate
        yield f"a raw lone surrogate in the arguments of {name}", f"<tool_call>{json.dumps(surrogate, ensure_ascii=False)}</tool_call>"
        bad = ", ".join(f'"{p}": "bad \\x41 escape \\u12"' for p in params)  # \x is no JSON escape; \u needs 4 digits
        yield f"invalid JSON escapes in the arguments of {name}", f'<tool_call>{{"name": "{name}", "arguments": {{{bad}}}}}</tool_call>'


def _hostile(make_env: Callable[[], gym.Env], seed: int) -> str:
    env = make_env()
    base = env.unwrapped
    limit = getattr(base, "max_observation_chars", None)
    obs, _ = env.reset(seed=seed)
    _check_answer(obs[1:], "the reset's task message", limit, explained=False)
    n = 0
    params = {name: base.toolbox.definition(name).spec.parameters for name in base.toolbox.names}
    tools = {name: list(p.get("required", [])) for name, p in params.items()}
    texts = {name: [k for k, v in p.get("properties", {}).items() if _takes_text(v)] for name, p in params.items()}
    for label, action in hostile_actions(tools, text_params=texts):
        try:
            obs, _, terminated, truncated, _ = env.step(action)
        except Exception as e:  # name the action: "ToolInfrastructureError" alone does not say which text did it
            raise AssertionError(f"{label} raised {type(e).__name__}: {e}") from e
        _check_answer(obs, label, limit)
        n += 1
        if terminated or truncated:
            env.reset(seed=seed)
    env.close()
    return f"{n} hostile actions answered" + (f" within {limit:,} characters" if limit else "")


def _takes_text(schema: dict) -> bool:
    """Whether a parameter's JSON schema accepts a string (``str``, ``str | None``)."""
    return schema.get("type") == "string" or any(_takes_text(s) for s in schema.get("anyOf", []) if isinstance(s, dict))


def _episodes_end(make_env: Callable[[], gym.Env], seed: int) -> str:
    env = make_env()
    env.reset(seed=seed)
    max_turns = env.unwrapped.max_turns
    for turn in range(1, max_turns + 1):
        _, reward, terminated, truncated, info = env.step("no tool call here")
        if terminated or (truncated != (turn == max_turns)):
            raise AssertionError(f"turn {turn}/{max_turns}: terminated={terminated} truncated={truncated}")
        if reward != 0.0:
            raise AssertionError(f"an episode of invalid actions earned reward {reward}")
    if info.get("invalid_actions") != max_turns:
        raise AssertionError(f"invalid_actions={info.get('invalid_actions')} after {max_turns} bad actions")
    env.close()
    return f"truncated after {max_turns} turns"


def _info_keys(make_env: Callable[[], gym.Env], seed: int) -> str:
    env = make_env()
    _, info = env.reset(seed=seed)
    missing = [k for k in ("task_id", "answer", "state_key") if k not in info]
    _, _, _, _, info = env.step("no tool call here")
    missing += [k for k in STEP_KEYS if k not in info]
    hash(info["state_key"])
    while "outcome" not in info:
        *_, info = env.step("still no call")
    missing += [k for k in END_KEYS if k not in info]
    env.close()
    if missing:
        raise AssertionError(f"missing info keys: {missing}")
    return ""


def _mixed_actions(env: gym.Env, rng: random.Random, n: int) -> list[Any]:
    names = env.unwrapped.toolbox.names
    fuzz = fuzz_actions(rng, names)
    zero_arg = [name for name in names if not env.unwrapped.toolbox.definition(name).spec.parameters["required"]]
    actions = [f'<tool_call>{{"name": "{name}", "arguments": {{}}}}</tool_call>' for name in zero_arg]
    return (actions + [next(fuzz) for _ in range(n)])[:n]
