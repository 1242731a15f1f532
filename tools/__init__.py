"""Tools: typed functions as OpenAI-format specs, and tool calls parsed from model output."""

from tools.calls import ToolBox, ToolCall, ToolError, ToolInfrastructureError, ToolResult
from tools.parsing import ParsedAction, parse_action
from tools.spec import ToolDef, ToolSpec, tool
from tools.write import call

__all__ = [
    "ParsedAction", "ToolBox", "ToolCall", "ToolDef", "ToolError", "ToolInfrastructureError", "ToolResult", "ToolSpec",
    "call", "parse_action", "tool",
]
