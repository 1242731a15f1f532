"""A ToolEnv whose observations carry images: ``look()`` returns a screenshot (a real PNG) and a caption.

Shared by the multimodal tests (spaces, checker, rollout, JSONL, policies).
"""

import struct
import zlib

from envs.core import ToolEnv
from envs.tasks import ListTaskSet, Task
from tools import tool
from tools.content import image_part, text_part


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (8-bit RGB, no filter)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


COLOURS = {"red": (255, 0, 0), "green": (0, 160, 0), "blue": (0, 0, 255)}
TASKS = ListTaskSet([
    Task(id=f"{split}-{name}", split=split, prompt="Look at the screen and name its colour.", answer=name)
    for split, names in {"train": ["red", "green"], "val": ["blue"], "test": ["red"]}.items()
    for name in names
])


class ImageEnv(ToolEnv):
    family = "image-test"
    default_max_turns = 4

    def __init__(self, split="train", max_turns=None, **kw):
        super().__init__(TASKS, split=split, max_turns=max_turns, **kw)

    def screenshot(self) -> bytes:
        return png(4, 3, COLOURS[self.task.answer])

    @tool
    def look(self) -> list:
        """Take a screenshot of the screen."""
        return [text_part("The screen:"), image_part(self.screenshot(), "image/png")]

    @tool(ends_episode=True)
    def answer(self, colour: str) -> str:
        """Name the screen's colour; ends the episode.

        Args:
            colour: A colour name.
        """
        self.finish(1.0 if colour.strip().lower() == self.task.answer else 0.0)
        return "recorded"
