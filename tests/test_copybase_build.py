"""tiny-base's build: a loadable model folder with its recipe and figures, tokens that copy cleanly,
and a copy measure that scores calls exactly.  (Whether it learns to copy is measured by the build
itself, in ``copybase.json``; a short recipe here only checks the pipeline.)"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.copybase import build  # noqa: E402
from agents.copybase.build import BaseRecipe, build_base  # noqa: E402


@pytest.fixture(scope="module")
def small_base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    mp = pytest.MonkeyPatch()
    mp.setattr(build, "held_out_words", lambda: frozenset({"zala"}))
    recipe = BaseRecipe(transcripts=100, easy_transcripts=100, drills=100, steps=4, easy_steps=2, hidden=256, layers=2,
                        vocab_size=400, batch_tokens=1024, warmup_steps=1, probe_transcripts=3)
    try:
        figures = build_base(out, recipe, log=lambda line: None)
    finally:
        mp.undo()
    return out, figures


def test_the_build_writes_a_model_folder_with_its_recipe_and_figures(small_base):
    from transformers import AutoModelForCausalLM

    out, figures = small_base
    saved = json.loads((out / "copybase.json").read_text())
    assert saved == json.loads(json.dumps(figures))
    assert saved["recipe"]["steps"] == 4 and saved["excluded_words"] == 1
    assert saved["corpus_tokens"] > saved["assistant_tokens"] > 0
    probe = saved["held_out_copy"]
    assert probe["episodes"] == 3 and probe["turns"] >= 6 and 0.0 <= probe["argument"] <= 1.0
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.head_dim == 64  # vLLM's CPU attention needs >= 64
    assert model.config.num_hidden_layers == 2
    circuit = saved["copy_circuit"]  # the recipe's default start: the hand-written copy circuit
    assert circuit["repeat_accuracy"] > 0.9 and 0.0 <= saved["repeat_accuracy_trained"] <= 1.0


def test_values_tokenize_the_same_in_a_sentence_and_in_a_call(small_base):
    from agents.tokens import load_renderer

    renderer = load_renderer(small_base[0])
    for value in ["Leocadia Jablonski", "4B-17", "C-5521", "485213", "koul_96"]:
        in_text = renderer.encode(f"What is the code of {value}?")
        in_call = renderer.encode(f'{{"name": "{value}"}}')
        ids = renderer.encode(value)
        assert any(in_text[i:i + len(ids)] == ids for i in range(len(in_text)))
        assert any(in_call[i:i + len(ids)] == ids for i in range(len(in_call)))
    text = 'x <tool_call>{"name": "a", "arguments": {"k": "Ünïcode 🙂"}}</tool_call>'
    assert renderer.decode(renderer.encode(text)) == text


def test_the_copy_measure_scores_a_perfect_copier_at_one_and_a_wrong_one_at_zero():
    from agents.copybase.render import render_episode
    from agents.copybase.corpus import corpus
    from agents.copybase.probe import copy_accuracy
    from agents.models import resolve_model
    from agents.tokens import load_renderer

    renderer = load_renderer(resolve_model("tiny"))
    episodes = corpus(0, 4, held_out=True)
    gold = {}  # prefix ids -> the transcript's next call: a "model" that answers it
    for messages in episodes:
        render_episode(renderer, messages, next(iter(renderer.stop_ids)),
                       lambda conv, text, n: gold.__setitem__(tuple(conv.ids), text))

    class Replay:
        training = False

        def __init__(self, corrupt: bool):
            self.corrupt = corrupt

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def generate(self, ids, **kw):
            text = gold[tuple(ids[0].tolist())]
            if self.corrupt:
                head, args = text.split('"arguments"')
                text = head + '"arguments"' + args.replace('": "', '": "x')
            return torch.tensor([ids[0].tolist() + renderer.encode(text) + [next(iter(renderer.stop_ids))]])

    perfect = copy_accuracy(Replay(False), renderer, episodes)
    assert perfect["call_exact"] == perfect["argument"] == perfect["tool_name"] == 1.0
    assert {"request", "answer"} <= set(perfect["by_source"])
    wrong = copy_accuracy(Replay(True), renderer, episodes)
    assert wrong["argument"] == 0.0 and wrong["call_exact"] == 0.0 and wrong["tool_name"] == 1.0


def test_a_cached_base_of_an_older_build_is_rebuilt_and_a_current_one_reused(tmp_path, monkeypatch):
    from agents.copybase.build import BUILD_VERSION
    from agents.models import write_tiny_base

    builds = []

    def fake_build(out, recipe, log):
        builds.append(recipe.steps)
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            (out / name).write_text("{}")
        (out / "copybase.json").write_text(json.dumps({"build_version": BUILD_VERSION}))

    monkeypatch.setattr(build, "build_base", fake_build)
    dest = tmp_path / "tiny-base"
    dest.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (dest / name).write_text("{}")
    (dest / "copybase.json").write_text(json.dumps({"recipe": {"steps": 8000}}))  # before the copy circuit
    assert write_tiny_base(dest) == dest and builds == [3000]
    assert json.loads((dest / "copybase.json").read_text())["build_version"] == BUILD_VERSION
    write_tiny_base(dest)
    assert builds == [3000]  # the current build is reused


def test_a_second_caller_waits_for_the_build_in_progress_and_reuses_it(tmp_path, monkeypatch):
    """`make test` builds tiny-base beside the tests; a test asking for it meanwhile must not build it again."""
    import threading
    import time

    from agents.copybase.build import BUILD_VERSION
    from agents.models import write_tiny_base

    started, finished, builds = threading.Event(), threading.Event(), []

    def slow_build(out, recipe, log):
        builds.append(threading.current_thread().name)
        started.set()
        time.sleep(1.0)
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            (out / name).write_text("{}")
        (out / "copybase.json").write_text(json.dumps({"build_version": BUILD_VERSION}))
        finished.set()

    monkeypatch.setattr(build, "build_base", slow_build)
    dest = tmp_path / "tiny-base"
    first = threading.Thread(target=write_tiny_base, args=(dest,), name="first")
    first.start()
    assert started.wait(10)
    assert write_tiny_base(dest) == dest  # blocks on the lock until the first build lands
    assert finished.is_set() and (dest / "copybase.json").exists()
    first.join()
    assert builds == ["first"]
