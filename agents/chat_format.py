"""The tiny models' text format: ChatML special tokens, a chat template that renders tools and tool
calls Hermes-style (``<tool_call>{json}</tool_call>``, tool results as ``<tool_response>``), and a
byte-level BPE trained on given text.  Shared by ``tiny`` (:mod:`agents.models`) and ``tiny-base``
(:mod:`agents.copybase`)."""

from __future__ import annotations

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML with Hermes-style tools: what Qwen-family templates render, reduced to the essentials.
CHAT_TEMPLATE = (
    "{% if tools %}"
    "<|im_start|>system\n"
    "{% if messages and messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}"
    "# Tools\n\nYou may call one or more functions. Function signatures are inside <tools></tools>:\n<tools>"
    "{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools>\n\n"
    "For each call, return a JSON object inside <tool_call></tool_call>:\n"
    '<tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call><|im_end|>\n'
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'system' and tools and loop.first %}"
    "{% elif message.role == 'tool' %}"
    "<|im_start|>user\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n"
    "{% elif message.role == 'assistant' %}"
    "<|im_start|>assistant\n{{ message.content or '' }}"
    "{% for call in message.tool_calls or [] %}{% set f = call.function or call %}"
    '<tool_call>{"name": {{ f.name | tojson }}, "arguments": '
    "{% if f.arguments is string %}{{ f.arguments }}{% else %}{{ f.arguments | tojson }}{% endif %}}</tool_call>"
    "{% endfor %}<|im_end|>\n"
    "{% else %}"
    "<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = """\
You are an agent that solves tasks by calling tools. Think step by step, then call a tool.
What is the total revenue per country? Which artist has the most albums in the store?
SELECT name, COUNT(*) FROM tracks JOIN albums ON tracks.album_id = albums.id GROUP BY name;
SELECT country, SUM(total) AS revenue FROM invoices WHERE total > 10 ORDER BY revenue DESC LIMIT 5;
<tool_call>{"name": "run_sql", "arguments": {"query": "SELECT 1"}}</tool_call>
<tool_call>{"name": "submit", "arguments": {"answer": "42"}}</tool_call>
<tool_response>
[[1, "Rock"], [2, "Jazz"], [3, "Metal"]]
</tool_response>
Error: no tool call found. Call exactly one tool like this: {"name": "TOOL_NAME", "arguments": {}}
The capital of France is Paris. The answer is 12345. Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000.
Search the knowledge base, read the page, then answer the question with a short phrase.
def add(a: int, b: int) -> int:\n    return a + b\nprint(add(2, 3))
Click the button labelled OK. Type your name into the text box, then press submit.
"""


def tiny_tokenizer(vocab_size: int = 512, texts: list[str] | None = None, copy_friendly: bool = False):
    """A byte-level BPE trained on ``texts`` (default: the built-in corpus), with ChatML specials and the chat template.

    ``copy_friendly``: whitespace runs and punctuation are tokens of their own and digits are split
    one by one, so a value is the same tokens wherever it stands (after a space in a sentence, after
    a quote in a call's JSON): copying it is repeating ids, which a small model learns far sooner
    than mapping ``" Leo"`` to ``"Leo"``.  Costs some sequence length."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if copy_friendly:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"\s+|[^\w\s]+|_+"), behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines() * 4 if texts is None else texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token=None, chat_template=CHAT_TEMPLATE, clean_up_tokenization_spaces=False, model_max_length=4096,
    )


