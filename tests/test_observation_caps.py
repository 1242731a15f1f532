"""Observations stay within their caps: a 1 MB argument to a family's tools comes back capped, with a visible cut
marker (SQL and Search); the reset's task message is capped too, and images by pixels and bytes."""

import io
import json
import os
import sys

import pytest

from envs.search.env import SearchEnv
from envs.sql.env import SQLEnv
from tests.arith_env import ArithEnv
from tests.image_env import ImageEnv
from tools.content import decode_image_url, image_file_part, image_part, text_part
from tools.images import fit_image_part, image_size

try:
    from PIL import Image
except ImportError:  # the image tests make and read images with Pillow; the caps' header reading needs none
    Image = None
needs_pillow = pytest.mark.skipif(Image is None, reason="Pillow is not installed (pip install 'turngym[gui]')")

MEGABYTE = "q" * 1_000_000


def call(tool_name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': tool_name, 'arguments': arguments})}</tool_call>"


def _only_message(env, action):
    (message,), reward, terminated, truncated, info = env.step(action)
    return message, reward, terminated


def _assert_capped(message, limit, head):
    content = message["content"]
    assert content.startswith(head), content[:200]
    assert len(content) == limit and content.endswith(" more characters]")
    n_cut = int(content.rsplit("[cut: ", 1)[1].split(" ")[0])
    return n_cut


def test_sql_submit_of_a_megabyte_query_is_capped(sql_tasks):
    env = SQLEnv(tasks=sql_tasks, split="train")
    env.reset(seed=0)
    message, reward, terminated = _only_message(env, call("submit_sql", query=MEGABYTE))
    head = "Submitted, but the query failed: SQL error: "
    n_cut = _assert_capped(message, env.max_observation_chars, head)
    assert env.max_observation_chars == 8_000 and n_cut > 990_000  # the whole query was echoed before the cap
    assert terminated and reward == 0.0
    env.close()


def test_sql_query_tool_and_a_smaller_per_env_cap(sql_tasks):
    env = SQLEnv(tasks=sql_tasks, split="train", max_observation_chars=500)
    env.reset(seed=0)
    message, _, terminated = _only_message(env, call("execute_sql", query=f"SELECT '{MEGABYTE}'"))
    _assert_capped(message, 500, "")
    assert not terminated
    env.close()


@pytest.fixture(scope="module")
def search_tasks():
    from envs.search.data import load_search_tasks

    return load_search_tasks()


def test_search_open_of_a_megabyte_id_is_capped(search_tasks):
    env = SearchEnv(tasks=search_tasks, split="train")
    env.reset(seed=0)
    message, _, terminated = _only_message(env, call("open", doc_id=MEGABYTE))
    n_cut = _assert_capped(message, 8_000, "Error: no article with id ")
    assert n_cut > 990_000 and not terminated
    env.close()


def test_search_answer_and_search_with_a_megabyte_argument_stay_within_the_cap(search_tasks):
    env = SearchEnv(tasks=search_tasks, split="train", max_observation_chars=1_000)
    env.reset(seed=0)
    message, _, _ = _only_message(env, call("search", query=MEGABYTE))
    assert len(message["content"]) <= 1_000
    message, reward, terminated = _only_message(env, call("answer", text=MEGABYTE))
    assert len(message["content"]) <= 1_000 and terminated and reward == 0.0
    env.close()


# ----- what the env itself produces: the reset's task message and images ---------------------------
class LongTaskEnv(ArithEnv):
    def task_prompt(self, task):
        return "Read this first. " + "w" * 50_000


def test_a_task_prompt_longer_than_the_cap_is_cut_at_reset_and_the_system_prompt_is_not():
    env = LongTaskEnv(max_observation_chars=500)
    (system, user), _ = env.reset(seed=0)
    assert user["content"].startswith("Read this first. www") and user["content"].endswith(" more characters]")
    assert len(user["content"]) == 500  # before: all 50,017 characters
    assert system["content"] == env.system_prompt() and len(system["content"]) > 500  # tool specs are never cut
    assert env._transcript[1] == user


def _png(size, noise=False):
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noise else Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _image_of(part):
    mime, data = decode_image_url(part["image_url"]["url"])
    return mime, data, Image.open(io.BytesIO(data)).size


class ScreenEnv(ImageEnv):
    """Its screenshot (and, at reset, the task message's) is 400x300: four times the pixel cap a side."""

    max_image_pixels = 100 * 100
    noise = False

    def screenshot(self):
        return _png((400, 300), self.noise)

    def task_prompt(self, task):
        return [text_part(task.prompt), image_part(self.screenshot())]


@needs_pillow
def test_a_screenshot_over_the_pixel_cap_is_scaled_down_with_a_note_at_reset_and_step():
    env = ScreenEnv()
    (_, user), _ = env.reset(seed=0)
    for content in (user["content"], env.step(call("look"))[0][0]["content"]):
        text, image, note = content[0], content[1], content[2]  # before: the 400x300 image, as is
        mime, data, size = _image_of(image)
        assert mime == "image/png" and size == (115, 86) and 115 * 86 <= 100 * 100  # aspect 4:3 kept
        assert note == text_part(f"[scaled: an image of 400x300 pixels and {len(_png((400, 300))):,} bytes, over the cap of "
                                 "10,000 pixels and 4,194,304 bytes, is shown at 115x86 pixels; scale its coordinates by 3.478]")
        assert text["type"] == "text"


@needs_pillow
def test_a_screenshot_over_the_byte_cap_is_scaled_until_it_fits():
    class NoisyScreen(ScreenEnv):
        max_image_pixels, max_image_bytes, noise = 4_000_000, 40_000, True

    env = NoisyScreen()
    env.reset(seed=0)
    (message,), *_ = env.step(call("look"))
    _, data, (w, h) = _image_of(message["content"][1])
    assert len(data) <= 40_000 and w < 400 and abs(w / h - 4 / 3) < 0.05  # noise does not compress: 360,000 bytes before
    assert message["content"][2]["text"].startswith("[scaled: an image of 400x300 pixels and 36")


@needs_pillow
def test_image_caps_keep_what_fits_and_mark_what_cannot_be_read_or_scaled(tmp_path, monkeypatch):
    small = image_part(_png((40, 30)))
    assert fit_image_part(small, 10_000, 1 << 20) == [small]
    path = tmp_path / "shot.png"
    path.write_bytes(_png((40, 30)))
    assert fit_image_part(image_file_part(path), 10_000, 1 << 20) == [image_file_part(path)]  # a fitting reference stays one
    (missing,) = fit_image_part(image_file_part(tmp_path / "gone.png"), 10_000, 1 << 20)
    assert missing["text"].startswith("[cut: an image that cannot be read ([Errno 2] No such file or directory")
    assert fit_image_part(image_part(b"\x89PNG fake bytes"), 10_000, 1 << 20) == [
        text_part("[cut: an image that cannot be read (15 bytes of image/png, not a PNG, JPEG, GIF or WebP image)]")]
    jpeg = io.BytesIO()
    Image.new("RGB", (400, 300), (1, 2, 3)).save(jpeg, format="JPEG")
    scaled, _note = fit_image_part(image_part(jpeg.getvalue(), "image/jpeg"), 10_000, 1 << 20)
    assert _image_of(scaled)[0] == "image/jpeg"  # a JPEG stays one
    big = image_part(_png((400, 300)))
    monkeypatch.setitem(sys.modules, "PIL", None)  # no Pillow: what is over the cap cannot be scaled
    (cut,) = fit_image_part(big, 10_000, 1 << 20)
    assert cut["text"].startswith("[cut: an image of 400x300 pixels and") and "it could not be scaled down (ModuleNotFoundError" in cut["text"]


@needs_pillow
@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("GIF", {}),
                                          ("WEBP", {"lossless": True}), ("WEBP", {"quality": 50}), ("WEBP_ALPHA", {})])
def test_image_size_reads_the_header_of_each_format(fmt, options):
    image = Image.new("RGBA" if fmt == "WEBP_ALPHA" else "RGB", (321, 123), (9, 8, 7, 100) if fmt == "WEBP_ALPHA" else (9, 8, 7))
    out = io.BytesIO()
    image.save(out, format=fmt.split("_")[0], **options)
    assert image_size(out.getvalue()) == (321, 123)
    assert image_size(out.getvalue()[:8]) is None and image_size(b"") is None
