"""OpenAIPolicy speaks the chat-completions wire format (checked against a recorded-shape server)."""

import json

import httpx

from agents.openai_policy import OpenAIPolicy
from agents.policy import Request, SamplingParams


def server(reply: dict, seen: list):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        body = {
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": reply.get("finish_reason", "stop"),
                         "message": {"role": "assistant", **reply["message"]}}],
        }
        return httpx.Response(200, json=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


REQ = Request(
    messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
              {"role": "assistant", "content": "<tool_call>{}</tool_call>"},
              {"role": "tool", "name": "list_tables", "content": "a (3 rows)"}],
    tools=[{"type": "function", "function": {"name": "list_tables", "description": "d",
                                             "parameters": {"type": "object", "properties": {}}}}],
)


async def test_request_shape_and_text_reply():
    seen = []
    policy = OpenAIPolicy("m", base_url="http://test/v1", http_client=server({"message": {"content": "hello"}}, seen))
    (out,) = await policy.generate([REQ], SamplingParams(temperature=0.5, max_tokens=7))
    assert out.text == "hello" and out.finish_reason == "stop" and out.token_ids is None
    body = seen[0]
    assert body["model"] == "m" and body["temperature"] == 0.5 and body["max_tokens"] == 7
    assert body["messages"][3] == {"role": "user", "content": "[list_tables result]\na (3 rows)"}
    assert "tools" not in body and "stop" not in body and "seed" not in body


async def test_structured_tool_calls_become_hermes_text_and_length_is_reported():
    seen = []
    function = {"name": "describe_table", "arguments": '{"table": "a"}'}
    msg = {"content": None, "tool_calls": [{"id": "c1", "type": "function", "function": function}]}
    client = server({"message": msg, "finish_reason": "length"}, seen)
    policy = OpenAIPolicy("m", base_url="http://test/v1", native_tools=True, http_client=client)
    (out,) = await policy.generate([REQ], SamplingParams())
    assert out.text == '<tool_call>{"name": "describe_table", "arguments": {"table": "a"}}</tool_call>'
    assert out.finish_reason == "length"
    assert seen[0]["tools"] == REQ.tools


async def test_image_parts_go_out_as_data_urls_and_tool_results_keep_their_label(tmp_path):
    from tests.image_env import png
    from tools.content import image_file_part, image_part, text_part

    screenshot = png(2, 2, (0, 0, 255))
    (tmp_path / "shot.png").write_bytes(screenshot)
    request = Request(messages=[
        {"role": "user", "content": [text_part("What colour?"), image_file_part(tmp_path / "shot.png")]},
        {"role": "assistant", "content": '<tool_call>{"name": "look", "arguments": {}}</tool_call>'},
        {"role": "tool", "name": "look", "content": [text_part("The screen:"), image_part(screenshot)]},
    ])
    seen = []
    policy = OpenAIPolicy("m", base_url="http://test/v1", http_client=server({"message": {"content": "blue"}}, seen))
    (out,) = await policy.generate([request], SamplingParams())
    inline = image_part(screenshot)
    assert out.text == "blue"
    assert seen[0]["messages"][0] == {"role": "user", "content": [text_part("What colour?"), inline]}
    assert seen[0]["messages"][2] == {"role": "user", "content": [text_part("[look result]\n"), text_part("The screen:"), inline]}
