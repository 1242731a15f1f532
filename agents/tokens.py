"""Token-exact conversations: what the policy sampled, kept id for id, with a loss mask.

A :class:`TokenConversation` starts from the chat template's rendering of the first observation
(with the generation prompt) and then only ever *appends*:

* a completion's ids exactly as the backend sampled them (mask 1, with their logprobs); the
  model's own text is never re-tokenized;
* after each env step, the ids of the text the template adds for the new messages (mask 0).

That text is found on templates alone: render the history with a sentinel assistant message,
then again with the new messages after it; the new text is what follows the sentinel (the
assistant turn's closing, e.g. ``<|im_end|>\\n``) plus what the new messages add (ending with
the next generation prompt).  When the sampled completion already ends with the closing token
(it stopped on ``<|im_end|>``), that token is not added a second time.

So decoding all ids gives back the rendered conversation, and the mask covers exactly the
sampled tokens.  The action text the env sees is the decode of the sampled ids, minus the final
stop token.

Message content may be OpenAI content parts: text parts are joined into one string for the
template.  An image part needs a template that renders images (it mentions ``image``); a text-only
template refuses it with :class:`ImagesNotSupported`.  With an image-capable template the image
becomes the template's ``{"type": "image"}`` placeholder and its URL is kept, in order, in
:attr:`TokenConversation.images` for a backend that sends pixels with the ids.

A vision-language model's renderer carries its :class:`agents.vision.VisionProcessor`
(:func:`load_renderer` attaches it): the ids keep each image as the template's one placeholder
token (compact: vLLM expands it, a transformers forward expands it with
:meth:`~agents.vision.VisionProcessor.expand`), and :meth:`TokenConversation.model_len` counts the
expanded length the model's context must hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.content import image_urls

Message = dict[str, Any]
_SENTINEL = "TURNGYMSENTINEL7f3a9c"


class ContextExhausted(RuntimeError):
    """The conversation leaves no room for another completion within the model's context."""


class TemplateError(ValueError):
    """The chat template re-renders earlier turns differently, so turns cannot be appended."""


class ImagesNotSupported(ValueError):
    """A message holds an image but the chat template (or the backend) handles text only."""


class ChatRenderer:
    """A tokenizer's chat template, text encoding and stop tokens, as the token builder needs them.

    ``tool_role``: ``"keep"`` passes ``tool`` messages to the template as they are; ``"user"``
    turns them into user messages (for templates that know no tool role); ``"auto"`` picks
    ``"keep"`` when the template mentions ``tool``.
    """

    def __init__(self, tokenizer, tool_role: str = "auto", stop_ids: Sequence[int] = (), vision=None):
        self.tokenizer = tokenizer
        self.vision = vision  # an agents.vision.VisionProcessor for a vision-language model, else None
        template = getattr(tokenizer, "chat_template", None) or ""
        if not template:
            raise ValueError("the tokenizer has no chat template")
        if tool_role == "auto":
            tool_role = "keep" if "tool" in template else "user"
        self.tool_role = tool_role
        self.renders_images = "image" in template  # VLM templates branch on content parts of type "image"
        self.name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        stops = set(stop_ids)
        if tokenizer.eos_token_id is not None:
            stops.add(int(tokenizer.eos_token_id))
        self.stop_ids = frozenset(stops)

    # -- text ------------------------------------------------------------------------------
    def wire(self, message: Message) -> Message:
        content = message.get("content", "")
        if isinstance(content, list):
            message = {**message, "content": self._wire_parts(content)}
        if message.get("role") == "tool" and self.tool_role == "user":
            label = f"[{message.get('name', 'tool')} result]\n"
            content = message["content"]
            wired = [{"type": "text", "text": label}, *content] if isinstance(content, list) else label + content
            return {"role": "user", "content": wired}
        return message

    def _wire_parts(self, parts: list) -> str | list:
        if not any(isinstance(p, dict) and p.get("type") == "image_url" for p in parts):
            return "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        if not self.renders_images:
            raise ImagesNotSupported(
                f"the chat template of {self.name} renders text only, but a message holds an image: "
                "use a vision-language model, or an env option that describes the screen in text"
            )
        return [{"type": "image"} if p.get("type") == "image_url" else p for p in parts]

    def render(self, messages: Sequence[Message], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            [self.wire(m) for m in messages], tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def completion_text(self, ids: Sequence[int], finish_reason: str) -> str:
        """The action text: the sampled ids decoded, without the stop token that ended them."""
        ids = list(ids)
        if finish_reason == "stop" and ids and ids[-1] in self.stop_ids:
            ids = ids[:-1]
        return self.decode(ids)

    def delta_parts(
        self, history: Sequence[Message], new: Sequence[Message], add_generation_prompt: bool = True
    ) -> tuple[str, str]:
        """What the template adds after an assistant message's content: the turn's closing text
        (e.g. ``<|im_end|>\n``), and the text of ``new`` (with the next generation prompt)."""
        history = list(history) + [{"role": "assistant", "content": _SENTINEL}]
        before = self.render(history, False)
        after = self.render(history + list(new), add_generation_prompt)
        if not after.startswith(before) or _SENTINEL not in before:
            raise TemplateError("the chat template renders earlier turns differently once new messages follow")
        return before[before.rindex(_SENTINEL) + len(_SENTINEL):], after[len(before):]

    def delta_text(self, history: Sequence[Message], new: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return "".join(self.delta_parts(history, new, add_generation_prompt))


@dataclass
class TurnTokens:
    start: int  # index of the first sampled token in the full sequence
    completion_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    observation_ids: list[int] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.completion_ids)


class TokenConversation:
    """One episode's token sequence, grown turn by turn; see the module docstring."""

    def __init__(self, renderer: ChatRenderer, messages: Sequence[Message]):
        self.renderer = renderer
        self.messages: list[Message] = list(messages)
        self.prompt_ids = renderer.encode(renderer.render(self.messages, True))
        self.images: list[str] = image_urls_of(self.messages)  # in the order the template placed them
        self.ids: list[int] = list(self.prompt_ids)
        self.mask: list[int] = [0] * len(self.ids)
        self.logprobs: list[float] = [0.0] * len(self.ids)
        self.turns: list[TurnTokens] = []
        self.closed = False  # the last observation was appended without a generation prompt
        self._awaiting_obs = False

    def __len__(self) -> int:
        return len(self.ids)

    def add_completion(self, ids: Sequence[int], logprobs: Sequence[float] | None, finish_reason: str) -> str:
        """Append sampled ids verbatim (mask 1); returns the action text for the env."""
        if self.closed:
            raise RuntimeError("the conversation is closed: no completion can follow the final observation")
        if self._awaiting_obs:
            raise RuntimeError("add_observation must follow each completion")
        ids = [int(i) for i in ids]
        lps = [float(x) for x in logprobs] if logprobs is not None else [0.0] * len(ids)
        if len(lps) != len(ids):
            raise ValueError(f"{len(ids)} token ids but {len(lps)} logprobs")
        text = self.renderer.completion_text(ids, finish_reason)
        self.turns.append(TurnTokens(start=len(self.ids), completion_ids=ids, logprobs=lps, finish_reason=finish_reason))
        self.ids += ids
        self.mask += [1] * len(ids)
        self.logprobs += lps
        self.messages.append({"role": "assistant", "content": text})
        self._awaiting_obs = True
        return text

    def add_observation(self, messages: Sequence[Message], final: bool = False) -> list[int]:
        """Append the env's new messages as the template renders them (mask 0).

        ``final``: the episode ended; no generation prompt follows, so decoding the sequence gives
        the whole rendered conversation.
        """
        if not self.turns or not self._awaiting_obs:
            raise RuntimeError("add_observation must follow a completion")
        turn = self.turns[-1]
        closing, added = self.renderer.delta_parts(self.messages[:-1], messages, not final)
        delta = self.renderer.encode(closing + added)
        sampled = turn.completion_ids
        if turn.finish_reason == "stop" and sampled and sampled[-1] in self.renderer.stop_ids:
            k = min(len(sampled), len(delta), len(self.renderer.encode(closing)))
            while k and sampled[-k:] != delta[:k]:
                k -= 1
            delta = delta[k:]  # the closing token(s) the model sampled itself
        turn.observation_ids = delta
        self.images += image_urls_of(messages)
        self.ids += delta
        self.mask += [0] * len(delta)
        self.logprobs += [0.0] * len(delta)
        self.messages.extend(messages)
        self._awaiting_obs = False
        self.closed = final
        return delta

    def model_len(self) -> int:
        """Tokens the model's context holds: the ids, with each image's placeholder expanded (vision models)."""
        vision = self.renderer.vision
        return vision.expanded_length(len(self.ids), self.images) if vision is not None and self.images else len(self.ids)

    def room(self, max_model_len: int) -> int:
        """Tokens left for the next completion."""
        return max_model_len - self.model_len()

    def spans(self) -> list[tuple[int, int]]:
        return [(t.start, t.end) for t in self.turns]

    def text(self) -> str:
        return self.renderer.decode(self.ids)


def image_urls_of(messages: Sequence[Message]) -> list[str]:
    return [url for m in messages for url in image_urls(m.get("content"))]


def check_conversation(conv: TokenConversation) -> list[str]:
    """Invariants a trainer relies on; returns what is wrong (empty when all hold)."""
    problems = []
    n = len(conv.ids)
    if not (len(conv.mask) == len(conv.logprobs) == n):
        problems.append("ids, mask and logprobs differ in length")
    covered = set()
    for t in conv.turns:
        if conv.ids[t.start:t.end] != t.completion_ids:
            problems.append(f"turn at {t.start}: sampled ids not found verbatim")
        covered.update(range(t.start, t.end))
    if {i for i, m in enumerate(conv.mask) if m} != covered:
        problems.append("mask does not cover exactly the sampled tokens")
    if conv.ids[: len(conv.prompt_ids)] != conv.prompt_ids:
        problems.append("sequence does not start with the prompt")
    vision = conv.renderer.vision
    if vision is not None and conv.ids.count(vision.image_token_id) != len(conv.images):
        problems.append(f"{conv.ids.count(vision.image_token_id)} image placeholders for {len(conv.images)} images")
    return problems


def load_renderer(model_dir, tool_role: str = "auto") -> ChatRenderer:
    """A :class:`ChatRenderer` for a model folder: its tokenizer plus the stop ids of its generation config."""
    import json
    from pathlib import Path

    from transformers import AutoTokenizer

    model_dir = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    stops: list[int] = []
    for name in ("generation_config.json", "config.json"):
        path = model_dir / name
        if path.exists():
            eos = json.loads(path.read_text()).get("eos_token_id")
            stops += eos if isinstance(eos, list) else [eos] if eos is not None else []
    vision = None
    from agents.vision import VisionProcessor, is_vision_model

    if is_vision_model(model_dir):
        vision = VisionProcessor(model_dir)
    return ChatRenderer(tokenizer, tool_role=tool_role, stop_ids=stops, vision=vision)


def answer_ids(renderer: ChatRenderer, answer: str, tail: str = "") -> list[int]:
    """The answer's ids as the model writes them when ``tail`` follows (e.g. a tool call's closing
    ``"}}</tool_call>``): the ids of ``answer + tail`` that hold at least one of the answer's
    characters (a token merging the answer's last character with the tail's first counts as the
    answer's).  The tail itself is left out: under causal attention it changes none of their log-probs."""
    text = answer + tail
    if tail and getattr(renderer.tokenizer, "is_fast", False):  # one pass gives the ids and where each starts
        encoded = renderer.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        count = sum(1 for start, _ in encoded["offset_mapping"] if start < len(answer))
    else:
        ids = renderer.encode(text)
        # a slow tokenizer has no offsets: the shortest run of ids whose text covers the answer
        count = next((k for k in range(1, len(ids) + 1) if len(renderer.decode(ids[:k])) >= len(answer)), 0) if tail else len(ids)
    if not answer or not count:
        raise ValueError("the answer encodes to no tokens")
    return ids[:count]


def check_probe_pairs(prefixes: Sequence[Any], answers: Sequence[str], tails: Sequence[str] | None) -> list[str]:
    """``score_answers``' arguments checked: one answer (and one tail, if given) per prefix; the tails, "" by default."""
    if len(prefixes) != len(answers) or (tails is not None and len(tails) != len(answers)):
        raise ValueError("one answer (and one tail, if tails are given) per prefix")
    return list(tails) if tails is not None else [""] * len(answers)


def answer_probe_ids(renderer: ChatRenderer, prefix_ids: Sequence[int], answer: str, tail: str = "") -> tuple[list[int], int]:
    """``prefix_ids`` + the answer's ids (:func:`answer_ids`, as written before ``tail``), and where the answer starts.

    The prefix normally ends with the generation prompt (e.g. :meth:`Trajectory.prefix_ids`), so
    the answer is scored as the assistant's next words.
    """
    return list(prefix_ids) + answer_ids(renderer, answer, tail), len(prefix_ids)
