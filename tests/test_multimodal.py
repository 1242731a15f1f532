"""Image observations end to end: spaces, check-env, a rollout with a scripted policy, JSONL stored once."""

import asyncio
import json

from agents import Episode, RolloutConfig, read_jsonl, rollout, write_jsonl
from agents.policy import Completion
from envs.checker import check_multiturn
from envs.spaces import MessagesSpace
from tests.image_env import ImageEnv, png
from tools.content import content_hash, decode_image_url, image_part, text_part


def call(tool_name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': tool_name, 'arguments': arguments})}</tool_call>"


class LookThenAnswer:
    """Looks once, then answers with the colour read off the screenshot's first pixel."""

    name = "look-then-answer"

    async def generate(self, requests, sampling):
        out = []
        for r in requests:
            last = r.messages[-1]
            if last["role"] != "tool":
                out.append(Completion(text=call("look")))
                continue
            (url,) = [p["image_url"]["url"] for p in last["content"] if p["type"] == "image_url"]
            _, data = decode_image_url(url)
            colour = {b"\xff\x00\x00": "red", b"\x00\xa0\x00": "green", b"\x00\x00\xff": "blue"}[_first_pixel(data)]
            out.append(Completion(text=call("answer", colour=colour)))
        return out


def _first_pixel(data: bytes) -> bytes:
    import zlib

    idat = data[data.index(b"IDAT") + 4:]
    return zlib.decompressobj().decompress(idat)[1:4]


def test_messages_space_accepts_content_parts_and_rejects_bad_ones():
    space = MessagesSpace()
    good = [{"role": "tool", "name": "look", "content": [text_part("x"), image_part(b"abc")]}]
    assert space.contains(good)
    assert space.contains([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///tmp/a.png"}}]}])
    assert not space.contains([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/a.png"}}]}])
    assert not space.contains([{"role": "user", "content": [{"type": "audio", "data": "..."}]}])
    assert not space.contains([{"role": "user", "content": [text_part("x"), "loose string"]}])


def test_image_env_passes_check_env():
    results = check_multiturn(ImageEnv, n_fuzz=200)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert [r.name for r in results] == [
        "gymnasium", "determinism", "malformed_actions", "hostile_actions", "episodes_end", "info_keys",
    ]


def test_rollout_and_jsonl_store_each_image_once(tmp_path):
    episodes = [Episode(task_id=t, seed=i, sample=i) for i, t in enumerate(["train-red", "train-red", "train-green"])]
    trajs = asyncio.run(rollout(ImageEnv, LookThenAnswer(), episodes, RolloutConfig(retry_backoff=0), env_id="image"))
    assert [(t.failed, t.outcome) for t in trajs] == [(False, 1.0)] * 3
    observation = trajs[0].turns[0].observation[0]["content"]
    assert observation[0] == text_part("The screen:")
    assert observation[1] == image_part(png(4, 3, (255, 0, 0)), "image/png")

    out = tmp_path / "run" / "trajectories.jsonl"
    out.parent.mkdir()
    assert write_jsonl(out, trajs) == 3
    stored = sorted(p.name for p in (out.parent / "images").iterdir())
    red, green = (content_hash(png(4, 3, c)) for c in [(255, 0, 0), (0, 160, 0)])
    assert stored == sorted([f"{red}.png", f"{green}.png"])  # red twice in the episodes, one file
    text = out.read_text()
    assert "base64" not in text and text.count(f'"images/{red}.png"') == 2

    assert list(read_jsonl(out)) == trajs  # references restored to the same data URLs
    as_files = list(read_jsonl(out, images="file"))
    url = as_files[0].turns[0].observation[0]["content"][1]["image_url"]["url"]
    assert url == (out.parent / "images" / f"{red}.png").resolve().as_uri()
    assert decode_image_url(url)[1] == png(4, 3, (255, 0, 0))
    refs = list(read_jsonl(out, images="ref"))
    assert refs[2].turns[0].observation[0]["content"][1]["image_url"]["url"] == f"images/{green}.png"

    again = tmp_path / "run" / "copy.jsonl"  # references written again stay references: still one file per image
    write_jsonl(again, refs)
    assert list(read_jsonl(again)) == trajs and len(list((out.parent / "images").iterdir())) == 2


def test_text_only_trajectories_are_written_exactly_as_before(tmp_path):
    from agents import Trajectory, Turn

    traj = Trajectory(env_id="e", task_id="t", split="train", messages=[{"role": "user", "content": "hi"}],
                      turns=[Turn(action="a", observation=[{"role": "tool", "name": "x", "content": "y"}], reward=0.0)])
    write_jsonl(tmp_path / "t.jsonl", [traj])
    assert (tmp_path / "t.jsonl").read_text() == traj.model_dump_json() + "\n"
    assert not (tmp_path / "images").exists()
